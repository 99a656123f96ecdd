"""``/v1/fine_tuning/jobs``: create, list, retrieve, cancel/pause/resume, events and
checkpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from fttui.server.errors import bad_request, json_response, not_found
from fttui.server.routes.deps import (
    AFTER,
    body_doc,
    limit_doc,
    query_doc,
    query_limit,
    services,
    typed_body,
)
from fttui.server.schemas import FineTuningJobRequest

router = APIRouter(prefix="/fine_tuning/jobs", tags=["fine-tuning"])


@router.post("", openapi_extra=body_doc(FineTuningJobRequest))
async def create_job(
    request: Request,
    body: Annotated[FineTuningJobRequest, Depends(typed_body(FineTuningJobRequest))],
) -> Response:
    fields = body.model_dump(exclude_unset=True)
    if body.integrations is not None:
        # echoed whole (name, entity and tags included), as the job object's schema has it
        fields["integrations"] = [i.model_dump() for i in body.integrations]
    return json_response(await run_in_threadpool(services(request).jobs.create, fields))


@router.get("", openapi_extra=query_doc(AFTER, limit_doc(10_000)))
async def list_jobs(request: Request) -> Response:
    q = request.query_params
    metadata = {
        k[9:-1]: v for k, v in q.multi_items() if k.startswith("metadata[") and k.endswith("]")
    }
    page = services(request).jobs.list(
        after=q.get("after"),
        limit=query_limit(request, 20),
        metadata=metadata,
        no_metadata=q.get("metadata") == "null",
    )
    return json_response(page.to_json())


@router.get("/{job_id}")
async def get_job(job_id: str, request: Request) -> Response:
    return json_response(services(request).jobs.raw(job_id))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, request: Request) -> Response:
    return json_response(services(request).jobs.cancel(job_id))


@router.post("/{job_id}/pause")
def pause_job(job_id: str, request: Request) -> Response:
    return json_response(services(request).jobs.pause(job_id))


@router.post("/{job_id}/resume")
def resume_job(job_id: str, request: Request) -> Response:
    return json_response(services(request).jobs.resume(job_id))


@router.get("/{job_id}/events", openapi_extra=query_doc(AFTER, limit_doc()))
async def job_events(job_id: str, request: Request) -> Response:
    page = services(request).jobs.events(
        job_id, after=request.query_params.get("after"), limit=query_limit(request, 20)
    )
    return json_response(page.to_json())


@router.get("/{job_id}/checkpoints", openapi_extra=query_doc(AFTER, limit_doc()))
async def job_checkpoints(job_id: str, request: Request) -> Response:
    page = services(request).jobs.checkpoints(
        job_id, after=request.query_params.get("after"), limit=query_limit(request, 10)
    )
    return json_response(page.to_json(first_last=True))


#: the most log text one answer carries (the end of it, when there is more)
MAX_LOG_BYTES = 1 << 20


def _query_int(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise bad_request(
            f"Invalid {name} {raw!r}: use an integer from {low} to {high}.",
            param=name,
            code="invalid_value",
        )
    return value


@router.get(
    "/{job_id}/logs",
    openapi_extra=query_doc(
        ("tail", {"type": "integer", "minimum": 0, "maximum": 100_000}),
        ("offset", {"type": "integer", "minimum": 0}),
    ),
)
def job_logs(job_id: str, request: Request) -> Response:
    """The trainer's raw log (fttui's extension; OpenAI has no such endpoint): the text
    from byte ``offset`` (default 0), its last ``tail`` lines only when asked, and the
    ``offset`` to ask from next (``fttui jobs logs --follow`` polls with it)."""
    jobs = services(request).jobs
    job = jobs.get(job_id)  # a 404 for an unknown job
    tail = _query_int(request, "tail", 0, 100_000)
    offset = _query_int(request, "offset", 0, 2**62) or 0
    text = jobs.executor.logs(jobs.job_dir(job_id), job_id)
    if text is None:
        raise not_found(
            f"The {jobs.executor.name} executor keeps no raw trainer log; the job's events "
            f"are all there is: fttui jobs events {job_id}",
            param="fine_tuning_job_id",
            code="logs_not_available",
        )
    data = text.encode("utf-8", errors="replace")
    chunk = data[offset:] if offset <= len(data) else data  # a log that began again
    truncated = len(chunk) > MAX_LOG_BYTES
    chunk = chunk[-MAX_LOG_BYTES:]
    out = chunk.decode("utf-8", errors="replace")
    if tail is not None:
        lines = out.splitlines(keepends=True)
        truncated = truncated or len(lines) > tail
        out = "".join(lines[-tail:]) if tail else ""
    return json_response(
        {
            "object": "fine_tuning.job.logs",
            "job_id": job_id,
            "status": job["status"],
            "text": out,
            "offset": len(data),
            "truncated": truncated,
        }
    )
