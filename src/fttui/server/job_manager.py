"""Fine-tuning jobs through the API: create, list, get, cancel, pause, resume, events and
checkpoints.

validating_files → queued → running → succeeded / failed / cancelled, plus paused.

The manager checks a create body (``job_requests``), stores the job (``job_records``) and
hands it to the supervisor (``supervisor``), which validates its files
(``job_validation``), runs it on the executor and follows it to its end. Cancel, pause and
resume only change the row and ask the executor; the supervisor does the rest, so there is
one place where states move.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from fttui.server.errors import bad_request, disk_full, is_disk_full
from fttui.server.executors.base import Executor, ExecutorError
from fttui.server.files import FileService
from fttui.server.index import write_job_meta
from fttui.server.job_records import (
    JobInternal,
    JobObject,
    JobRecords,
    method_object,
    shared_hyperparameters,
)
from fttui.server.job_requests import (
    MODEL_ORG,
    check_request,
    parse_options,
)
from fttui.server.jobfolder import TERMINAL_STATUSES, TrainerSpec
from fttui.server.model_registry import ORG_ID, ModelRegistry
from fttui.server.store import Page, Store, dumps, new_id, spec_to_stored
from fttui.server.supervisor import Supervisor


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
        self.records = JobRecords(store, data_dir)
        self.supervisor = Supervisor(self.records, executor, files, models, poll_interval)

    # -- life of the manager -----------------------------------------------------------
    def start(self) -> None:
        """Recover the jobs a restart interrupted, then start the supervisor's thread."""
        self.supervisor.start()

    def close(self) -> None:
        self.supervisor.close()

    def wake(self) -> None:
        self.supervisor.wake()

    def job_dir(self, job_id: str) -> Path:
        return self.records.job_dir(job_id)

    # -- API: create, read ---------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> JobObject:
        request = check_request(body, self.models, self.files, self.executor)
        hp, method_type, grader = request.hyperparameters, request.method, request.grader
        seed, suffix, metadata = request.seed, request.suffix, request.metadata
        training, validation = request.training_path, request.validation_path
        job_id = new_id("ftjob-")
        ft_name = f"ft:{request.base_model}:{MODEL_ORG}:{suffix or ''}:{new_id('', 8)}"
        job_dir = self.records.job_dir(job_id)
        spec = TrainerSpec(
            job_id=job_id,
            base_model=request.base_model,
            training_file=str(training),
            output_dir=str(job_dir),
            n_epochs=1,
            batch_size=1,
            learning_rate_multiplier=1.0,
            seed=seed,
            method=method_type,
            grader=grader,
            validation_file=str(validation) if validation else None,
            model_path=self.models.base_path(request.base_model),
            init_adapter=request.init_adapter,
            fine_tuned_model=ft_name,
            options=parse_options(metadata, self.executor.name),
        )
        try:
            self.executor.check(spec)
        except ExecutorError as exc:
            raise bad_request(exc.message, param=exc.param or "model", code=exc.code) from exc

        now = int(time.time())
        job: JobObject = {
            "object": "fine_tuning.job",
            "id": job_id,
            "created_at": now,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": shared_hyperparameters(hp),
            "model": request.model,
            "organization_id": ORG_ID,
            "result_files": [],
            "seed": seed,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": request.training_file,
            "validation_file": request.validation_file,
            "integrations": request.integrations,
            "estimated_finish": None,
            "method": method_object(
                method_type,
                {"hyperparameters": hp}
                if grader is None
                else {"grader": grader, "hyperparameters": hp},
            ),
            "metadata": metadata,
            "user_provided_suffix": suffix,
        }
        internal: JobInternal = {
            "spec": spec_to_stored(self.records.data_dir, spec.__dict__),
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
                self.records.event(conn, job_id, f"Created fine-tuning job: {job_id}")
                names = f"training file: {job['training_file']}"
                if validation:
                    names += f" and validation file: {job['validation_file']}"
                self.records.event(conn, job_id, f"Validating {names}")
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
        self.supervisor.validation.submit(job_id)
        return job

    def get(self, job_id: str) -> JobObject:
        return self.records.load(job_id)[0]

    def raw(self, job_id: str) -> bytes:
        return self.records.raw(job_id)

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
    def cancel(self, job_id: str) -> JobObject:
        with self.store.tx() as conn:
            job, internal = self.records.load(job_id)
            if job["status"] in TERMINAL_STATUSES:
                raise bad_request(
                    f"Job {job_id} has already {job['status']}; it cannot be cancelled.",
                    param="fine_tuning_job_id",
                    code="job_not_cancellable",
                )
            if internal["active"]:
                # what the trainer reported so far goes in before the cancel event; what it
                # reports from now on, bar its messages, is not the job's (``ingest``)
                self.supervisor.ingest_all(conn, job_id, internal)
                self.executor.stop(job_id, "cancel")
                internal["pending"] = "cancel"
            else:  # e.g. resumed but not relaunched yet: it must not start again
                internal["pending"] = None
            job.update(
                {"status": "cancelled", "finished_at": int(time.time()), "estimated_finish": None}
            )
            self.records.event(conn, job_id, "Fine-tuning job cancelled")
            self.records.save(conn, job, internal)
        self.wake()
        return job

    def pause(self, job_id: str) -> JobObject:
        with self.store.tx() as conn:
            job, internal = self.records.load(job_id)
            if job["status"] != "running" or internal.get("pending") == "resume":
                raise bad_request(
                    f"Job {job_id} is {job['status']}; only running jobs can be paused.",
                    param="fine_tuning_job_id",
                    code="job_not_pausable",
                )
            self.executor.stop(job_id, "pause")
            internal["pending"] = "pause"
            job.update({"status": "paused", "estimated_finish": None})
            self.records.event(conn, job_id, "Fine-tuning job paused")
            self.records.save(conn, job, internal)
        self.wake()
        return job

    def resume(self, job_id: str) -> JobObject:
        with self.store.tx() as conn:
            job, internal = self.records.load(job_id)
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
            self.records.save(conn, job, internal)
        self.wake()
        return job
