"""``/v1/models``: the base models and the fine-tuned ones (and their checkpoints)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fttui.server.errors import json_response
from fttui.server.routes.deps import services

router = APIRouter(prefix="/models", tags=["models"])


@router.get("")
async def list_models(request: Request) -> Response:
    return json_response(services(request).models.list_json())


# ``:path``: a fine-tuned model's name has colons, a checkpoint's also a slash
@router.get("/{model:path}")
async def get_model(model: str, request: Request) -> Response:
    return json_response(services(request).models.retrieve(model))


@router.delete("/{model:path}")
def delete_model(model: str, request: Request) -> Response:
    return json_response(services(request).models.delete(model))
