"""The job supervisor: the one thread that moves jobs along.

It looks at every live job a few times a second: it starts queued jobs when the executor has
room, tails ``events.jsonl`` by byte offset into the events table (offset and events in one
transaction: each line is ingested once, across restarts), reads ``state.json`` through the
executor, mirrors checkpoints, and finishes jobs (fine-tuned model, result file). After a
restart it re-attaches to jobs that trained on, resumes those that stopped from their last
checkpoint, and fails the ones it cannot make sense of; a job no tick can move is failed with
the reason after a while. API calls (cancel, pause, resume) only change the row and ask the
executor; the supervisor does the rest, so there is one place where states move.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from fttui.server.checkpoint_eval import CheckpointEvaluator, parse_eval_grader
from fttui.server.errors import ApiError
from fttui.server.executors.base import Executor, ExecutorError, ExecutorNotReady
from fttui.server.files import FileService
from fttui.server.job_records import JobInternal, JobObject, JobRecords
from fttui.server.job_requests import fine_tune_file
from fttui.server.job_validation import FileValidation
from fttui.server.jobfolder import (
    TERMINAL_STATUSES,
    JobState,
    StateError,
    state_from_checkpoints,
)
from fttui.server.model_registry import ModelRegistry
from fttui.server.store import dumps, loads, new_id, to_stored

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
SERVER_EVENT_LEVELS = {"info", "warn", "error"}
#: a job whose every tick fails (a full disk, a folder that cannot be made) for this long,
#: and this many times, is failed with the error rather than left queued/running for ever
STUCK_JOB_SECONDS, STUCK_JOB_TRIES = 60.0, 5


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


class Supervisor:
    """Advances the live jobs of ``records`` on ``executor``."""

    def __init__(
        self,
        records: JobRecords,
        executor: Executor,
        files: FileService,
        models: ModelRegistry,
        poll_interval: float = 0.1,
    ) -> None:
        self.records, self.store = records, records.store
        self.executor, self.files, self.models = executor, files, models
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._halt = threading.Event()
        self.validation = FileValidation(records, self.wake)
        #: per active job, what ``_follow`` last acted on: (events.jsonl size, state, pending)
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._reported: set[str] = set()
        #: per job, (monotonic time of its first failing tick in a row, failures in a row)
        self._failing: dict[str, tuple[float, int]] = {}
        self._thread = threading.Thread(target=self._loop, name="job-supervisor", daemon=True)
        self._checkpoint_eval = CheckpointEvaluator(models, executor, records.record_event)

    def start(self) -> None:
        self.recover()
        self._thread.start()

    def close(self) -> None:
        self._halt.set()
        self._wake.set()
        if self._thread.is_alive():  # never started when building the server failed
            self._thread.join(timeout=10)
        self.validation.close()
        self._checkpoint_eval.close()
        self.executor.shutdown()

    def wake(self) -> None:
        self._wake.set()

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
                    self.validation.submit(job_id)
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
                job, internal = self.records.load(job_id)
                if job["status"] in TERMINAL_STATUSES:
                    return
                was_active = internal.get("active")
                self.records.fail(conn, job, internal, message, code="server_error")
            if was_active:  # a trainer may still be at work on it
                self.executor.stop(job_id, "cancel")
        except Exception as again:  # the store itself fails: nothing more to do here
            self._report(job_id, again)

    def _launch(self, job_id: str, *, resume: bool) -> bool:
        """Start (or resume) a job on the executor. Returns whether it runs now."""
        with self.store.tx() as conn:
            job, internal = self.records.load(job_id)
            # ``tick`` chose this job from a snapshot: a cancel (or pause) may have landed
            # since. Starting it now would train a cancelled job and report it succeeded.
            wanted = "running" if resume else "queued"
            launchable = job["status"] == wanted and (
                internal.get("pending") == "resume" or not resume
            )
            if internal.get("active") or not launchable:
                return False
            spec = self.records.spec(internal)
            job_dir = Path(spec.output_dir)
            job_dir.mkdir(parents=True, exist_ok=True)
            (job_dir / "control.json").unlink(missing_ok=True)
            spec.resume_from = None
            if resume:
                try:
                    state = self._state(conn, job_id, job_dir, "running")
                except StateError as exc:
                    self.records.fail(conn, job, internal, self._damaged(exc), code="state_damaged")
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
                    self.records.event(
                        conn, job_id, f"Waiting to start: {exc.message}", level="warn"
                    )
                    self.records.save(conn, job, internal)
                return False
            except Exception as exc:
                message = exc.message if isinstance(exc, ExecutorError) else str(exc)
                job.update(
                    {
                        "status": "failed",
                        "finished_at": int(time.time()),
                        "error": {"code": "executor_error", "message": message, "param": None},
                    }
                )
                internal.update({"active": False, "pending": None})
                internal.pop("announce_resume", None)
                self.records.event(
                    conn, job_id, f"Fine-tuning job failed to start: {message}", level="error"
                )
                self.records.save(conn, job, internal)
                return False
            job["status"] = "running"
            if not resume:
                self.records.event(conn, job_id, "Fine-tuning job started")
            elif internal.pop("announce_resume", False):
                self.records.event(conn, job_id, "Fine-tuning job resumed")
            internal.pop("not_ready", None)
            internal.update({"active": True, "pending": None})
            self.records.save(conn, job, internal)
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

    def ingest_all(self, conn: Any, job_id: str, internal: JobInternal) -> None:
        """``ingest`` until every complete line so far is in (a tick reads 4 MiB at most):
        a cancel's "so far" must be all of it, or the rest would be dropped as after it."""
        while True:
            offset = internal.get("events_offset", 0)
            self.ingest(conn, job_id, internal)
            if internal.get("events_offset", 0) == offset:
                return

    def ingest(
        self, conn: Any, job_id: str, internal: JobInternal, *, cancelled: bool = False
    ) -> None:
        """Append the new complete lines of ``events.jsonl`` to the events table.

        ``cancelled``: the job was cancelled after the lines read so far (``JobManager.cancel``
        read them first): its trainer's metrics from then on (the step it was in, finished
        before it saw the cancel) are dropped, as no step after a cancel is the job's. Its
        messages ("cancelled at step N") are kept."""
        path = self.records.job_dir(job_id) / "events.jsonl"
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
            if not isinstance(raw, dict) or (cancelled and raw.get("type") == "metrics"):
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
        self, conn: Any, job: JobObject, internal: JobInternal, state: JobState
    ) -> None:
        steps = [int(c["step"]) for c in state.checkpoints]
        if steps == internal.get("ckpt_steps"):
            return
        spec = internal["spec"]
        job_dir = self.records.job_dir(job["id"])
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
            obj: dict[str, Any] = {
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
                    to_stored(self.records.data_dir, job_dir / ckpt["path"]),
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

    def _eval_checkpoint(self, job: JobObject, model: str, step: int) -> None:
        """Score a new checkpoint with the job's ``eval_grader`` (see checkpoint_eval)."""
        raw = (job.get("metadata") or {}).get("eval_grader")
        if raw is None or not job.get("validation_file"):
            return
        try:
            grader = parse_eval_grader(job["metadata"], True)
            path = fine_tune_file(self.files, job["validation_file"], "validation_file")
        except ApiError:
            return  # checked when the job was created; a file deleted since: nothing to score
        if grader is not None:
            self._checkpoint_eval.submit(job["id"], grader, path, model, step)

    def _record_event(self, job_id: str, message: str, **kwargs: Any) -> None:
        with self.store.tx() as conn:
            self.records.event(conn, job_id, message, **kwargs)

    def _follow(self, job_id: str, internal: JobInternal) -> None:
        """Ingest new events and apply the executor's state (nothing to do: no write)."""
        spec = self.records.spec(internal)
        state = self.executor.state(spec)
        try:
            size = (self.records.job_dir(job_id) / "events.jsonl").stat().st_size
        except FileNotFoundError:
            size = 0
        seen = (size, internal.get("events_offset"), repr(state), internal.get("pending"))
        if self._seen.get(job_id) == seen:
            return
        with self.store.tx() as conn:
            job, internal = self.records.load(job_id)
            before = (dumps(job), dumps(internal))
            self.ingest(conn, job_id, internal, cancelled=job["status"] == "cancelled")
            if state is not None:
                self._apply(conn, job, internal, state)
            if (dumps(job), dumps(internal)) != before:
                self.records.save(conn, job, internal)
        self._seen[job_id] = seen

    def _apply(self, conn: Any, job: JobObject, internal: JobInternal, state: JobState) -> None:
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
            job.update({"status": "cancelled", "finished_at": now})
        else:
            error = state.error or {}
            message = str(error.get("message") or "the trainer failed without a reason")
            job.update(
                {
                    "status": "failed",
                    "finished_at": now,
                    "error": {
                        "code": str(error.get("code") or "training_failed"),
                        "message": message,
                        "param": None,
                    },
                }
            )
            self.records.event(conn, job_id, f"Fine-tuning job failed: {message}", level="error")

    def _succeed(self, conn: Any, job: JobObject, internal: JobInternal, state: JobState) -> None:
        spec = internal["spec"]
        job_dir = self.records.job_dir(job["id"])
        ft_name = spec["fine_tuned_model"]
        adapter = str(job_dir / state.model_path) if state.model_path else str(job_dir)
        now = int(time.time())
        self.models.add_tuned(
            conn,
            ft_name,
            job_id=job["id"],
            base_model=spec["base_model"],
            executor=internal["executor"],
            path=to_stored(self.records.data_dir, adapter),
            created=now,
        )
        if state.result_file and (job_dir / state.result_file).is_file():
            result = self.files.add_copy(
                conn, job_dir / state.result_file, "step_metrics.csv", "fine-tune-results"
            )
            job["result_files"] = [result["id"]]
        job.update(
            {
                "status": "succeeded",
                "finished_at": now,
                "fine_tuned_model": ft_name,
                "trained_tokens": state.trained_tokens,
                "error": None,
            }
        )
        self.records.event(
            conn,
            job["id"],
            f"New fine-tuned model created: {ft_name}",
            data={"fine_tuned_model": ft_name},
        )
        self.records.event(conn, job["id"], "The job has successfully completed")

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
                    job, internal = self.records.load(job_id)
                    self.records.fail(conn, job, internal, message, code=code)

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
            self.records.event(
                conn,
                job_id,
                f"The job's state file {exc.reason}; recovered step {state.step} from "
                f"its checkpoint {state.resume_checkpoint}",
                level="warn",
            )
            return state

    def _recover_one(self, job_id: str) -> None:
        with self.store.tx() as conn:
            job, internal = self.records.load(job_id)
            if job["status"] == "cancelled":
                internal.update({"active": False, "pending": None})
                self.records.save(conn, job, internal)
                return
            if internal["executor"] != self.executor.name:
                self.records.fail(
                    conn,
                    job,
                    internal,
                    f"The server restarted with the {self.executor.name} "
                    f"executor; this job ran on {internal['executor']}.",
                )
                return
            if not internal.get("active"):
                return
            self.ingest(conn, job_id, internal)
            status = "paused" if job["status"] == "paused" else "running"
            state = self._state(conn, job_id, self.records.job_dir(job_id), status) or JobState()
            internal["active"] = False
            if state.status == "paused" and job["status"] == "running":
                # paused by a shutdown cut short (a second Ctrl-C, docker stop's limit)
                # before it marked the job running again: nobody asked for a pause, so
                # it resumes below like any job the server stopped
                state.status = "running"
                state.write(self.records.job_dir(job_id))
            if state.status != "running":
                internal["active"] = True  # finished while we were away: follow it
                self.records.save(conn, job, internal)
                return
            if self.executor.outlived_server(self.records.spec(internal)):
                # still training (the server was killed, its trainer was not): follow
                # it. Failing the job, or restarting it from a checkpoint, would run a
                # second trainer beside it and throw away its work.
                internal["active"] = True
                self.records.event(
                    conn, job_id, "The server restarted; the job's training went on meanwhile"
                )
                self.records.save(conn, job, internal)
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
                    state.write(self.records.job_dir(job_id))
                    internal["pending"] = None
                else:
                    internal["pending"] = "resume"
                    self.records.event(
                        conn,
                        job_id,
                        f"The server restarted while the job was running; resuming {where}",
                    )
            else:
                self.records.fail(
                    conn,
                    job,
                    internal,
                    "The server stopped while this job was running, before "
                    "its first checkpoint; create the job again.",
                )
                return
            self.records.save(conn, job, internal)
