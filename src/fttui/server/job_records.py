"""The stored fine-tuning job: its two typed records and their rows in the store.

A job is two JSON records in one ``jobs`` row: ``obj``, the ``fine_tuning.job`` object the
API serves as it is (:class:`JobObject`), and ``internal``, what only the server reads
(:class:`JobInternal`: the trainer spec, the executor, the supervisor's bookkeeping). The
job manager, the validation and the supervisor all read and write them through
:class:`JobRecords`, so a row is loaded, saved and given events in one way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from fttui.server.errors import ApiError, not_found
from fttui.server.jobfolder import TrainerSpec
from fttui.server.store import Store, dumps, loads, new_id, spec_from_stored

#: the statuses of a job the supervisor still looks at (its row is ``live``)
JOB_ACTIVE = ("validating_files", "queued", "running", "paused")


class JobError(TypedDict):
    """Why a job failed: the job object's ``error``."""

    code: str
    message: str
    param: str | None


class Hyperparameters(TypedDict, total=False):
    """The shared hyperparameters: an int or float, or "auto" until the files are validated."""

    n_epochs: int | str
    batch_size: int | str
    learning_rate_multiplier: float | str


class MethodObject(TypedDict):
    """``{"type": <method>, <method>: {"hyperparameters": …, "grader"?: …}}``."""

    type: str
    supervised: NotRequired[dict[str, Any]]
    dpo: NotRequired[dict[str, Any]]
    reinforcement: NotRequired[dict[str, Any]]


def shared_hyperparameters(hp: Mapping[str, Any]) -> Hyperparameters:
    """The job object's ``hyperparameters``: the shared ones of the method's."""
    return cast(
        Hyperparameters, {k: v for k, v in hp.items() if k in Hyperparameters.__annotations__}
    )


def method_object(method: str, config: dict[str, Any]) -> MethodObject:
    """``{"type": method, method: config}`` (a key TypedDict cannot name statically)."""
    return cast(MethodObject, {"type": method, method: config})


def method_config(job: JobObject) -> dict[str, Any]:
    """The chosen method's own object: ``job["method"][job["method"]["type"]]``."""
    method = cast(dict[str, Any], job["method"])
    return cast(dict[str, Any], method[method["type"]])


class JobObject(TypedDict):
    """The ``fine_tuning.job`` object, as stored and served."""

    object: str
    id: str
    created_at: int
    error: JobError | None
    fine_tuned_model: str | None
    finished_at: int | None
    hyperparameters: Hyperparameters
    model: str
    organization_id: str
    result_files: list[str]
    seed: int
    status: str
    trained_tokens: int | None
    training_file: str
    validation_file: str | None
    integrations: list[Any] | None
    estimated_finish: int | None
    method: MethodObject
    metadata: dict[str, str] | None
    user_provided_suffix: str | None


class JobInternal(TypedDict):
    """What the server keeps beside the job object (never served)."""

    #: the trainer spec, its data-dir paths relative (``store.spec_to_stored``)
    spec: dict[str, Any]
    executor: str  #: the executor's name: a restart with another one fails the job
    active: bool  #: started on the executor and not seen to finish yet
    pending: str | None  #: "cancel", "pause" or "resume" asked and not yet seen done
    events_offset: int  #: bytes of ``events.jsonl`` already in the events table
    ckpt_steps: list[int]  #: the checkpoint steps last mirrored
    announce_resume: NotRequired[bool]  #: say "resumed" once the trainer relaunches
    not_ready: NotRequired[str]  #: the executor's last "not ready" reason, said once


class JobRecords:
    """The ``jobs`` rows and their events, in one store and data dir."""

    def __init__(self, store: Store, data_dir: Path) -> None:
        self.store, self.data_dir = store, data_dir
        self.jobs_dir = data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def load(self, job_id: str) -> tuple[JobObject, JobInternal]:
        row = self.store.one("SELECT obj, internal FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise _no_such_job(job_id)
        return loads(row[0]), loads(row[1])

    def raw(self, job_id: str) -> bytes:
        """The job object's stored JSON (served without a parse)."""
        row = self.store.one("SELECT obj FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise _no_such_job(job_id)
        return row[0].encode()

    def save(self, conn: Any, job: JobObject, internal: JobInternal) -> None:
        live = 1 if (job["status"] in JOB_ACTIVE or internal.get("active")) else 0
        conn.execute(
            "UPDATE jobs SET status = ?, live = ?, obj = ?, internal = ? WHERE id = ?",
            (job["status"], live, dumps(job), dumps(internal), job["id"]),
        )

    def event(
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

    def record_event(self, job_id: str, message: str, **kwargs: Any) -> None:
        """An event in a transaction of its own (for the checkpoint evaluator's thread)."""
        with self.store.tx() as conn:
            self.event(conn, job_id, message, **kwargs)

    def spec(self, internal: JobInternal) -> TrainerSpec:
        """The job's trainer spec, its paths absolute in this data dir (stored relative)."""
        return TrainerSpec(**spec_from_stored(self.data_dir, internal["spec"]))

    def fail(
        self,
        conn: Any,
        job: JobObject,
        internal: JobInternal,
        message: str,
        code: str = "server_restarted",
    ) -> None:
        """End ``job`` as failed with ``message`` (its error and an error event)."""
        internal.update({"active": False, "pending": None})
        job.update(
            {
                "status": "failed",
                "finished_at": int(time.time()),
                "estimated_finish": None,
                "error": {"code": code, "message": message, "param": None},
            }
        )
        self.event(conn, job["id"], message, level="error")
        self.save(conn, job, internal)


def _no_such_job(job_id: str) -> ApiError:
    return not_found(
        f"No such fine-tuning job: {job_id}",
        param="fine_tuning_job_id",
        code="fine_tuning_job_not_found",
    )
