"""The ``ray`` executor: each fine-tuning job is one Ray job on a Ray cluster.

The server stays the OpenAI-compatible front end; the cluster trains. A job is submitted
through Ray's Jobs API (``JobSubmissionClient``) with ``submission_id`` = the ``ftjob-…``
id (a resumed run gets ``-r1``, ``-r2``… since Ray never reuses an id), and its entrypoint
is the same trainer the ``torch`` executor runs (``python -m fttui.server.trainer SPEC``),
or, for ``ray_num_workers`` > 1, the data-parallel one under Ray Train
(``python -m fttui.server.trainer.ray_train SPEC``). The trainer reports through the same
job folder (``base.py``), which must be where the cluster's nodes reach it: the data dir
itself on one machine or a shared mount, or ``--storage PATH`` (the job folders there,
the data dir's ``jobs/<id>`` a link to them). With ``--storage s3://…`` (any fsspec URL
but ``file://``) the folder lives in the object store and ``storage.py`` syncs it: the
Ray job's entrypoint is then ``python -m fttui.server.executors.storage URL``, which trains
in a scratch folder on its node, and the server mirrors the store into its data dir.

What this executor adds to the folder: ``ray_job.json`` — the current submission id, how
many were made, and the stop we asked for (so a ``STOPPED`` Ray job reads as cancelled or
paused, and a restarted server finds the job it submitted instead of submitting another).

Ray is imported on first use: ``fttui serve`` without ``--executor ray`` never needs it.
Generation (chat completions) runs in the server process, as with ``torch``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

from fttui.server.executors.base import ExecutorError, ExecutorNotReady
from fttui.server.executors.storage import (
    FORWARDED_ENV,
    OPTIONS_ENV,
    PULL_EVERY_S,
    RemoteJob,
    StorageError,
    is_remote,
    probe,
)
from fttui.server.executors.torch_executor import TorchExecutor, _log_tail, write_stopped
from fttui.server.jobfolder import (
    LOG_FILE,
    TERMINAL_STATUSES,
    JobFolder,
    JobState,
    TrainerSpec,
    write_json_atomic,
)
from fttui.server.trainer import KNOWN_OPTIONS, RAY_OPTIONS

RECORD_FILE = "ray_job.json"
#: seconds the trainer gets to act on control.json before the Ray job is stopped: a Ray
#: job's trainer may still be loading its model, which a CPU node does in a few seconds
CANCEL_GRACE_S = 10.0
PAUSE_GRACE_S = 30.0
#: after the head did not answer, do not ask it again for this long (a tick is 0.1 s)
RETRY_AFTER_S = 3.0
#: a job's Ray status is asked at most this often
STATUS_EVERY_S = 0.5
#: a job whose Ray job waits for resources this long (default; ``--ray-pending-timeout``)
#: is failed with the reason: more GPUs than the cluster has would wait for ever
PENDING_TIMEOUT_S = 600.0
LOG_LINES = 5


class RayExecutor(TorchExecutor):
    """Training on a Ray cluster (Ray Jobs, and Ray Train for several workers)."""

    name = "ray"
    owned_by = "fttui-ray"
    #: the cluster queues what it cannot run yet (PENDING): the server submits every job
    max_concurrent_jobs = 64

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str],
        base_models: dict[str, str],
        address: str,
        storage: str | os.PathLike[str] | None = None,
        storage_options: dict[str, Any] | None = None,
        defaults: dict[str, Any] | None = None,
        pending_timeout: float = PENDING_TIMEOUT_S,
    ):
        super().__init__(data_dir=data_dir, base_models=base_models)
        self.address = address
        remote = isinstance(storage, str) and is_remote(storage)
        #: an object store's URL (``s3://bucket/prefix``): job folders synced through it
        self.storage_url = str(storage).rstrip("/") if remote else None
        self.storage_options = dict(storage_options or {})
        #: a shared path: job folders placed there, the data dir linking to them
        self.storage = Path(storage) if storage and not remote else None
        self._remotes: dict[str, RemoteJob] = {}
        self._pulled: dict[str, float] = {}
        self.defaults = {"num_cpus": 1, "num_gpus": 0, "num_workers": 1, **(defaults or {})}
        self.pending_timeout = pending_timeout
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._down_until = 0.0
        self._down_reason: str | None = None
        self._status: dict[str, tuple[float, Any]] = {}
        self._said: set[tuple[str, str]] = set()

    # -- the cluster ------------------------------------------------------------------------
    def _connect(self):
        """The Jobs API client; ``ExecutorNotReady`` (with why) while the head does not answer."""
        with self._client_lock:
            if self._client is not None:
                return self._client
            if time.monotonic() < self._down_until:
                raise ExecutorNotReady(self._down_reason or "the Ray head does not answer")
            from ray.job_submission import JobSubmissionClient

            try:
                self._client = JobSubmissionClient(self.address)
            except Exception as exc:  # ConnectionError, a version mismatch, a bad address
                self._down(exc)
                raise ExecutorNotReady(self._down_reason or "") from None
            return self._client

    def _down(self, exc: BaseException) -> None:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._client = None
        self._down_until = time.monotonic() + RETRY_AFTER_S
        self._down_reason = (
            f"the Ray head at {self.address} does not answer ({first[:200]}); "
            "jobs wait in queued until it does"
        )

    def _call(self, method: str, *args: Any) -> Any:
        """A Jobs API call; ``ExecutorNotReady`` when the head cannot be reached."""
        client = self._connect()
        try:
            return getattr(client, method)(*args)
        except (ConnectionError, OSError) as exc:
            with self._client_lock:
                self._down(exc)
            raise ExecutorNotReady(self._down_reason or "") from None
        except Exception as exc:
            if _is_connection_error(exc):
                with self._client_lock:
                    self._down(exc)
                raise ExecutorNotReady(self._down_reason or "") from None
            raise

    def startup_lines(self) -> list[str]:
        try:
            self._connect()
        except ExecutorNotReady as exc:
            return [f"Ray:       {exc.message}"]
        where = (
            f"; job folders in {self.storage or self.storage_url}"
            if self.storage or self.storage_url
            else ""
        )
        return [f"Ray:       jobs go to the cluster at {self.address}{where}"]

    # -- jobs -------------------------------------------------------------------------------
    def check(self, spec: TrainerSpec) -> None:
        opts = spec.options or {}
        unknown = sorted(set(opts) - KNOWN_OPTIONS - RAY_OPTIONS)
        if unknown:
            raise ExecutorError(
                f"unknown job metadata {', '.join('ray_' + k for k in unknown)}: the ray "
                f"executor takes {', '.join('ray_' + k for k in sorted(RAY_OPTIONS))} and the "
                f"trainer's options ({', '.join('ray_' + k for k in sorted(KNOWN_OPTIONS))})",
                param="metadata",
            )
        resources = self._resources(spec)
        if resources["num_workers"] > 1 and spec.method != "supervised":
            # Ray Train's workers share the supervised step's gradient only: DPO or GRPO
            # workers would each train a model of their own and rank 0's would be kept
            kind = "DPO" if spec.method == "dpo" else "reinforcement fine-tuning"
            raise ExecutorError(
                f"ray_num_workers > 1 trains supervised jobs only; run {kind} with one worker",
                param="metadata",
            )
        if self.storage_url is not None:
            if resources["num_workers"] > 1:
                raise ExecutorError(
                    "ray_num_workers > 1 needs a shared --storage path; with an object store "
                    "a job trains on one worker",
                    param="metadata",
                )
            try:  # the store is written before the job is made: a bad bucket is a 400
                probe(self.storage_url, self.storage_options)
            except StorageError as exc:
                raise ExecutorError(
                    f"the job storage {exc}", code="storage_unwritable", param="metadata"
                ) from None
        if self.storage is not None:
            probe_file = self.storage / f".fttui-write-test-{os.getpid()}"
            try:
                probe_file.write_text("ok")
                probe_file.unlink()
            except OSError as exc:
                raise ExecutorError(
                    f"the job storage {self.storage} cannot be written: {exc.strerror or exc}",
                    code="storage_unwritable",
                    param="metadata",
                ) from None
        super().check(spec)

    def _resources(self, spec: TrainerSpec) -> dict[str, Any]:
        """The job's Ray resources: its ``ray_*`` metadata over the server's defaults."""
        opts = {
            **self.defaults,
            **{k: v for k, v in (spec.options or {}).items() if k in RAY_OPTIONS},
        }
        out: dict[str, Any] = {}
        for key, low in (("num_cpus", 0), ("num_gpus", 0), ("num_workers", 1)):
            value = opts.get(key)
            number = (
                None if isinstance(value, bool) or not isinstance(value, int | float) else value
            )
            ok = number is not None and number >= low
            if key == "num_workers":
                ok = ok and number is not None and float(number).is_integer() and number <= 64
            if not ok or number is None:
                raise ExecutorError(
                    f"ray_{key} must be a number ≥ {low}"
                    + (" (a whole number of at most 64)" if key == "num_workers" else "")
                    + f", not {value!r}",
                    param="metadata",
                )
            out[key] = int(number) if key == "num_workers" else number
        accel = opts.get("accelerator_type")
        if accel is not None and not (isinstance(accel, str) and accel.strip()):
            raise ExecutorError(
                f"ray_accelerator_type must be a name such as A100, not {accel!r}",
                param="metadata",
            )
        out["accelerator_type"] = accel
        return out

    def _record(self, job_dir: Path) -> dict[str, Any]:
        try:
            raw = json.loads((job_dir / RECORD_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def _place(self, spec: TrainerSpec) -> None:
        """With ``--storage``: move the job folder there (the data dir keeps a link to it)
        and copy the training files into it, so the cluster's nodes reach all of it."""
        if self.storage is None:
            return
        job_dir = Path(spec.output_dir)
        if not job_dir.is_symlink():
            target = self.storage / "jobs" / spec.job_id
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(job_dir, target, dirs_exist_ok=True)
            moved = job_dir.with_name(f".{job_dir.name}.moved")
            os.replace(job_dir, moved)
            os.symlink(target, job_dir)
            shutil.rmtree(moved, ignore_errors=True)
        inputs = job_dir.resolve() / "inputs"
        inputs.mkdir(exist_ok=True)
        for attr in ("training_file", "validation_file"):
            src = getattr(spec, attr)
            if src and not Path(src).resolve().is_relative_to(self.storage.resolve()):
                dst = inputs / Path(src).name
                if not dst.is_file():
                    shutil.copyfile(src, dst)
                setattr(spec, attr, str(dst))
        spec.output_dir = str(job_dir.resolve())

    def start(self, spec: TrainerSpec) -> None:
        job_dir = Path(spec.output_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        resources = self._resources(spec)
        record = self._record(job_dir)
        old = record.get("submission_id")
        if old:  # never two trainers on one folder: a run still going is stopped first
            info = self._info(old, fresh=True)
            if info is not None and not _ended(info):
                self._call("stop_job", old)
            self._keep_log(job_dir, old)  # the run before this one stays in trainer.log
            record = self._record(job_dir)
        try:
            self._place(spec)
        except OSError as exc:
            raise ExecutorError(
                f"the job folder cannot be placed in {self.storage}: {exc.strerror or exc}"
            ) from None
        spec_path, env = self._write_spec(spec)
        runs = int(record.get("runs", 0))
        submission_id = spec.job_id if runs == 0 else f"{spec.job_id}-r{runs}"
        module = "fttui.server.trainer"
        if resources["num_workers"] > 1:
            module = "fttui.server.trainer.ray_train"
        target = str(spec_path)
        if self.storage_url is not None:
            remote = self._remote(spec.job_id)
            try:
                remote.upload_start(TrainerSpec.load(spec_path), job_dir)
            except Exception as exc:  # the store refused or is gone
                raise ExecutorError(
                    f"the job storage {remote.url} cannot be written: {_first_line(exc)}",
                    code="storage_unwritable",
                ) from None
            module, target = "fttui.server.executors.storage", remote.url
            env[OPTIONS_ENV] = json.dumps(self.storage_options)
            env.update({k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)})
            self._pulled.pop(spec.job_id, None)
        entrypoint = shlex.join([sys.executable, "-m", module, target])
        import fttui

        src_root = str(Path(fttui.__file__).resolve().parents[1])
        path = [src_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
        kwargs: dict[str, Any] = {
            "entrypoint": entrypoint,
            "submission_id": submission_id,
            "runtime_env": {"env_vars": env},
            "metadata": {"fttui_job": spec.job_id},
        }
        if resources["num_workers"] == 1:
            kwargs["entrypoint_num_cpus"] = resources["num_cpus"]
            kwargs["entrypoint_num_gpus"] = resources["num_gpus"]
            if resources["accelerator_type"]:
                # Ray's own resource name for a node's accelerator type
                kwargs["entrypoint_resources"] = {
                    f"accelerator_type:{resources['accelerator_type']}": 0.001
                }
        # the record first: a server killed right after submitting finds this run
        write_json_atomic(
            job_dir / RECORD_FILE,
            {
                "submission_id": submission_id,
                "runs": runs + 1,
                "stop": None,
                "submitted_at": time.time(),
                "address": self.address,
                "logs_kept": record.get("logs_kept", []),
            },
        )
        client = self._connect()
        try:
            client.submit_job(**kwargs)
        except Exception as exc:
            if _is_connection_error(exc):
                with self._client_lock:
                    self._down(exc)
                write_json_atomic(job_dir / RECORD_FILE, record)  # nothing was submitted
                raise ExecutorNotReady(self._down_reason or "") from None
            raise ExecutorError(f"Ray refused the job: {_first_line(exc)}") from None
        self._status.pop(submission_id, None)

    def stop(self, job_id: str, action: Literal["cancel", "pause"]) -> None:
        job_dir = self.data_dir / "jobs" / job_id
        record = self._record(job_dir)
        if not record.get("submission_id"):
            return
        write_json_atomic(job_dir / "control.json", {"action": action})
        write_json_atomic(job_dir / RECORD_FILE, {**record, "stop": action})
        if self.storage_url is not None:
            try:
                self._remote(job_id).put_control(action)
            except Exception as exc:  # the grace period's stop_job still ends it
                print(f"fttui serve: could not write {job_id}'s control.json: {exc}", flush=True)
        grace = CANCEL_GRACE_S if action == "cancel" else PAUSE_GRACE_S
        threading.Thread(
            target=self._enforce_stop,
            args=(job_dir, record["submission_id"], grace),
            name=f"ray-stop-{job_id}",
            daemon=True,
        ).start()

    def _enforce_stop(self, job_dir: Path, submission_id: str, grace: float) -> None:
        """Stop the Ray job when its trainer did not end within ``grace`` seconds (a job
        still waiting for resources has no trainer to read ``control.json``)."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            state = JobState.read(job_dir)
            if state is not None and (
                state.status in TERMINAL_STATUSES or state.status == "paused"
            ):
                return
            info = self._info(submission_id)
            if info is not None and (_ended(info) or _status(info) == "PENDING"):
                break
            time.sleep(0.2)
        try:
            self._call("stop_job", submission_id)
        except Exception as exc:  # the head is gone: the state says so when it is back
            print(f"fttui serve: could not stop Ray job {submission_id}: {exc}", flush=True)

    def _info(self, submission_id: str, *, fresh: bool = False) -> Any:
        """The Ray job's details (asked at most every ``STATUS_EVERY_S``); None when the
        head does not answer; ``"missing"`` when Ray does not know the job."""
        now = time.monotonic()
        cached = self._status.get(submission_id)
        if cached is not None and not fresh and now - cached[0] < STATUS_EVERY_S:
            return cached[1]
        try:
            info = self._call("get_job_info", submission_id)
        except ExecutorNotReady:
            return None
        except Exception as exc:
            if "does not exist" in str(exc) or "404" in str(exc):
                info = "missing"
            else:
                raise
        self._status[submission_id] = (now, info)
        return info

    def _say(self, job_dir: Path, key: str, message: str, level: str = "info") -> None:
        """An event in the job's folder, once per job and ``key``."""
        if (str(job_dir), key) in self._said:
            return
        self._said.add((str(job_dir), key))
        JobFolder(job_dir).event(message, level=level)

    def outlived_server(self, spec: TrainerSpec) -> bool:
        # Ray jobs outlive the server by design: a restarted server follows the one it
        # submitted (whatever became of it) and never submits a second copy. While the
        # head does not answer nobody can tell, so the job is followed and waits.
        sid = self._record(Path(spec.output_dir)).get("submission_id")
        if not sid:
            return False
        info = self._info(sid, fresh=True)
        return info != "missing"

    def _remote(self, job_id: str) -> RemoteJob:
        remote = self._remotes.get(job_id)
        if remote is None:
            assert self.storage_url is not None
            remote = RemoteJob(f"{self.storage_url}/jobs/{job_id}", self.storage_options)
            self._remotes[job_id] = remote
        return remote

    def _pull(self, spec: TrainerSpec) -> None:
        """Mirror the store's copy of a running job into its folder (at most every
        ``PULL_EVERY_S``); a store that does not answer is said once, and retried."""
        now = time.monotonic()
        if now - self._pulled.get(spec.job_id, 0.0) < PULL_EVERY_S:
            return
        self._pulled[spec.job_id] = now
        job_dir = Path(spec.output_dir)
        try:
            self._remote(spec.job_id).pull(job_dir)
        except Exception as exc:
            self._say(
                job_dir,
                f"store-{int(now // 60)}",
                f"Cannot read the job storage {self.storage_url}: {_first_line(exc)}; retrying",
                level="warn",
            )

    def state(self, spec: TrainerSpec) -> JobState | None:
        job_dir = Path(spec.output_dir)
        state = JobState.read(job_dir)
        if state is not None and (state.status in TERMINAL_STATUSES or state.status == "paused"):
            return state
        if self.storage_url is not None:
            self._pull(spec)
            state = JobState.read(job_dir)
            if state is not None and (
                state.status in TERMINAL_STATUSES or state.status == "paused"
            ):
                return state
        record = self._record(job_dir)
        sid = record.get("submission_id")
        if not sid:
            return state
        info = self._info(sid)
        if info is None:
            self._say(
                job_dir,
                f"down-{sid}",
                f"Lost contact with the Ray cluster: {self._down_reason}; the job goes on there",
                level="warn",
            )
            return state
        self._said.discard((str(job_dir), f"down-{sid}"))
        if info == "missing":
            return self._end(
                job_dir,
                "failed",
                error={
                    "code": "ray_job_lost",
                    "message": f"The Ray cluster at {self.address} no longer knows the job "
                    f"{sid} (was the cluster restarted?)",
                },
            )
        status = _status(info)
        if status == "PENDING":
            waited = time.time() - float(record.get("submitted_at") or time.time())
            why = (getattr(info, "message", None) or "").strip()
            self._say(
                job_dir,
                f"pending-{sid}",
                f"The Ray job {sid} waits for cluster resources "
                f"({self._asked(spec)})" + (f": {why}" if why else ""),
            )
            if waited > self.pending_timeout:
                self._call("stop_job", sid)
                return self._end(
                    job_dir,
                    "failed",
                    error={
                        "code": "ray_resources_unavailable",
                        "message": f"The Ray cluster had no room for this job ({self._asked(spec)})"
                        f" for {waited:.0f} s"
                        + (f": {why}" if why else "")
                        + "; ask for fewer resources or add nodes",
                    },
                )
            return JobState(**{**(state or JobState()).__dict__, "status": "queued"})
        if status == "RUNNING":
            if (str(job_dir), f"pending-{sid}") in self._said:
                self._say(job_dir, f"running-{sid}", f"The Ray job {sid} is running")
            return state or JobState()
        # the Ray job ended: what the trainer wrote wins (it may have finished just now)
        if self.storage_url is not None:
            self._pulled.pop(spec.job_id, None)
            self._pull(spec)
        state = JobState.read(job_dir)
        if state is not None and (state.status in TERMINAL_STATUSES or state.status == "paused"):
            return state
        self._keep_log(job_dir, sid)
        tail = _log_tail(job_dir, LOG_LINES)
        if status == "STOPPED" and record.get("stop") in ("cancel", "pause"):
            write_stopped(job_dir, record["stop"])
            self._put_state(spec.job_id, job_dir)
            return JobState.read(job_dir)
        message = (getattr(info, "message", None) or "").strip()
        if status == "STOPPED":
            text = f"The Ray job {sid} was stopped outside fttui"
        elif status == "SUCCEEDED":
            text = f"The Ray job {sid} ended without the trainer's final state"
        else:
            text = f"The Ray job {sid} failed" + (f": {message}" if message else "")
        ended = self._end(
            job_dir,
            "failed",
            error={
                "code": "ray_job_failed",
                "message": text + (f". Last output: {tail}" if tail else ""),
            },
        )
        self._put_state(spec.job_id, job_dir)
        return ended

    def _put_state(self, job_id: str, job_dir: Path) -> None:
        """The server's own final state of a job into the store too (best effort)."""
        if self.storage_url is not None:
            try:
                self._remote(job_id).put_state(job_dir)
            except Exception:
                pass

    def _asked(self, spec: TrainerSpec) -> str:
        r = self._resources(spec)
        parts = [
            f"{r['num_workers']} worker{'s' if r['num_workers'] > 1 else ''}",
            f"{r['num_cpus']:g} CPU",
            f"{r['num_gpus']:g} GPU",
        ]
        if r["accelerator_type"]:
            parts.append(f"accelerator {r['accelerator_type']}")
        return ", ".join(parts) + (" each" if r["num_workers"] > 1 else "")

    def _keep_log(self, job_dir: Path, sid: str) -> None:
        """Copy the Ray job's log into ``trainer.log`` (``fttui jobs logs``, crash reasons),
        once per Ray job (the record says which ones are kept)."""
        record = self._record(job_dir)
        if sid in record.get("logs_kept", ()):
            return
        try:
            logs = self._call("get_job_logs", sid)
        except Exception:
            return
        if logs:
            with (job_dir / LOG_FILE).open("a", encoding="utf-8") as fh:
                fh.write(logs if logs.endswith("\n") else logs + "\n")
        record = self._record(job_dir)
        kept = [*record.get("logs_kept", ()), sid]
        write_json_atomic(job_dir / RECORD_FILE, {**record, "logs_kept": kept})

    def logs(self, job_dir: Path, job_id: str) -> str | None:
        """``trainer.log`` (the Ray jobs of earlier runs), then the current Ray job's log
        as Ray has it now, unless already kept; a job Ray has forgotten (a restarted
        cluster) shows what was kept."""
        text = super().logs(job_dir, job_id) or ""
        record = self._record(job_dir)
        sid = record.get("submission_id")
        if not sid or sid in record.get("logs_kept", ()):
            return text
        try:
            live = self._call("get_job_logs", sid) or ""
        except Exception:  # the head does not answer, or forgot the job
            return text
        info = self._info(sid)
        if info not in (None, "missing") and _ended(info):
            self._keep_log(job_dir, sid)  # ended: keep it (Ray forgets on a restart)
            return super().logs(job_dir, job_id) or ""
        return text + live

    @staticmethod
    def _end(job_dir: Path, status: str, error: dict[str, Any]) -> JobState:
        state = JobState.read(job_dir) or JobState()
        state.status, state.error, state.estimated_finish = status, error, None
        state.write(job_dir)
        return state

    def shutdown(self) -> None:
        """Nothing to stop: the jobs are the cluster's, and they go on training while the
        server is down; a restarted server re-attaches to them (``outlived_server``)."""


def _status(info: Any) -> str:
    status = getattr(info, "status", None)
    return str(getattr(status, "value", status))


def _ended(info: Any) -> bool:
    return info == "missing" or _status(info) in ("STOPPED", "SUCCEEDED", "FAILED")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _is_connection_error(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout)
