"""``GET /health``: the one route without auth (readiness probes)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fttui.server.errors import json_response
from fttui.server.routes.deps import services

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(request: Request) -> Response:
    return json_response({"status": "ok", "executor": services(request).executor.name})
