"""``/v1/fine_tuning/jobs``: create, list, retrieve, cancel/pause/resume, events and
checkpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from fttui.server.errors import json_response
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
