"""``/v1/uploads``: a large file in parts (create, add a part, complete, cancel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from fttui.server.errors import json_response
from fttui.server.routes.deps import body_doc, multipart_doc, services, typed_body
from fttui.server.schemas import CompleteUploadRequest, UploadRequest

router = APIRouter(tags=["uploads"])

PART_DOC = multipart_doc({"data": {"type": "string", "format": "binary"}}, ["data"])


@router.post("/uploads", openapi_extra=body_doc(UploadRequest))
async def create_upload(
    request: Request, body: Annotated[UploadRequest, Depends(typed_body(UploadRequest))]
) -> Response:
    fields = body.model_dump(exclude_unset=True)
    return json_response(await run_in_threadpool(services(request).files.create_upload, fields))


@router.post("/uploads/{upload_id}/parts", openapi_extra=PART_DOC)
async def add_part(upload_id: str, request: Request) -> Response:
    return json_response(await services(request).files.add_part(upload_id, request))


@router.post("/uploads/{upload_id}/complete", openapi_extra=body_doc(CompleteUploadRequest))
async def complete_upload(
    upload_id: str,
    request: Request,
    body: Annotated[CompleteUploadRequest, Depends(typed_body(CompleteUploadRequest))],
) -> Response:
    fields = body.model_dump(exclude_unset=True)
    return json_response(
        await run_in_threadpool(services(request).files.complete, upload_id, fields)
    )


@router.post("/uploads/{upload_id}/cancel")
def cancel_upload(upload_id: str, request: Request) -> Response:
    return json_response(services(request).files.cancel_upload(upload_id))
