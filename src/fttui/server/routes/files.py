"""``/v1/files``: upload (multipart, streamed by the file service), list, retrieve,
delete and the content."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fttui.server.errors import bad_request, json_response
from fttui.server.files import FILE_PURPOSES
from fttui.server.routes.deps import (
    AFTER,
    limit_doc,
    multipart_doc,
    query_doc,
    query_limit,
    services,
)

router = APIRouter(tags=["files"])

UPLOAD_DOC = multipart_doc(
    {
        "file": {"type": "string", "format": "binary"},
        "purpose": {"type": "string", "enum": list(FILE_PURPOSES)},
        "expires_after[anchor]": {"type": "string"},
        "expires_after[seconds]": {"type": "integer"},
    },
    ["file", "purpose"],
)
LIST_DOC = query_doc(
    ("order", {"type": "string", "enum": ["asc", "desc"]}),
    ("purpose", {"type": "string"}),
    AFTER,
    limit_doc(10_000),
)


@router.post("/files", openapi_extra=UPLOAD_DOC)
async def create_file(request: Request) -> Response:
    return json_response(await services(request).files.upload(request))


@router.get("/files", openapi_extra=LIST_DOC)
async def list_files(request: Request) -> Response:
    q = request.query_params
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("order must be asc or desc.", param="order")
    purpose = q.get("purpose")
    page = services(request).store.page(
        "files",
        where="purpose = ?" if purpose else "1",
        params=[purpose] if purpose else [],
        after=q.get("after"),
        limit=query_limit(request, 10_000),
        ascending=order == "asc",
    )
    return json_response(page.to_json(first_last=True, empty_id=""))


@router.get("/files/{file_id}")
async def get_file(file_id: str, request: Request) -> Response:
    return json_response(services(request).files.row(file_id)[0].encode())


@router.delete("/files/{file_id}")
def delete_file(file_id: str, request: Request) -> Response:
    return json_response(services(request).files.delete(file_id))


@router.get("/files/{file_id}/content")
def file_content(file_id: str, request: Request) -> Response:
    return services(request).files.open_content(file_id)
