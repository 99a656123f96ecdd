"""The ``validating_files`` stage of a job: its files checked against its model and
method (``validate.check_file``, in a small pool off the supervisor's thread), then its
"auto" hyperparameters resolved for the number of examples; the job moves to ``queued``, or
fails with the first errors and how to see them all (``fttui lint``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fttui.datasets.estimate import (
    default_batch_size,
    default_learning_rate_multiplier,
    default_n_epochs,
)
from fttui.server.job_records import (
    JobInternal,
    JobObject,
    JobRecords,
    method_config,
    shared_hyperparameters,
)
from fttui.server.rft import resolve_rft
from fttui.server.store import dumps
from fttui.server.validate import FileCheck, check_file

DEFAULT_DPO_BETA = 0.1
#: RFT hyperparameters the executor reads from the spec's options
RFT_OPTIONS = ("eval_interval", "eval_samples", "compute_multiplier", "reasoning_effort")


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


class FileValidation:
    """Validates jobs' files on two threads (never one job twice at once)."""

    def __init__(self, records: JobRecords, on_done: Callable[[], None]) -> None:
        self.records, self.store = records, records.store
        #: called when a job's validation ended (the supervisor queues it at once)
        self._on_done = on_done
        self._validating: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="validate")
        #: (file id, model, method, the grader's JSON or b"") → its check
        self._check_cache: dict[tuple[str, str, str, str | bytes], FileCheck] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, job_id: str) -> None:
        """Validate the job's files (unless that is under way already)."""
        with self.store.lock:
            if job_id in self._validating:
                return
            self._validating.add(job_id)
        self._pool.submit(self.validate, job_id)

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

    def validate(self, job_id: str) -> None:
        try:
            job, internal = self.records.load(job_id)
            spec = self.records.spec(internal)
            failure: tuple[str, str] | None = None
            n_examples = 0
            try:
                checks: list[tuple[str, Any, str]] = [
                    ("Training file", job["training_file"], spec.training_file)
                ]
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
                job, internal = self.records.load(job_id)
                if job["status"] != "validating_files":
                    return  # cancelled meanwhile
                if failure:
                    param, message = failure
                    job.update(
                        {
                            "status": "failed",
                            "finished_at": int(time.time()),
                            "error": {
                                "code": "invalid_training_file"
                                if param == "training_file"
                                else "invalid_validation_file",
                                "message": message,
                                "param": param,
                            },
                        }
                    )
                    self.records.event(conn, job_id, message, level="error")
                else:
                    self._resolve(job, internal, n_examples)
                    job["status"] = "queued"
                    self.records.event(conn, job_id, "Files validated, moving job to queued state")
                self.records.save(conn, job, internal)
        finally:
            with self.store.lock:
                self._validating.discard(job_id)
            self._on_done()

    def _resolve(self, job: JobObject, internal: JobInternal, n_examples: int) -> None:
        """Replace "auto" hyperparameters by OpenAI's defaults for ``n_examples``."""
        method = job["method"]["type"]
        conf = method_config(job)
        hp = dict(conf["hyperparameters"])
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
        conf["hyperparameters"] = hp
        job["hyperparameters"] = shared_hyperparameters(hp)
        spec = internal["spec"]
        spec.update(
            n_epochs=hp["n_epochs"],
            batch_size=hp["batch_size"],
            learning_rate_multiplier=float(hp["learning_rate_multiplier"]),
            beta=float(hp["beta"]) if method == "dpo" else None,
        )
