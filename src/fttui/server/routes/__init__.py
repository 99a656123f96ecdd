"""The routes of ``fttui serve``, one ``APIRouter`` per resource; ``create_app`` wires them."""

from __future__ import annotations

from fastapi import APIRouter

from fttui.server.routes import (
    completions,
    embeddings,
    files,
    graders,
    health,
    jobs,
    models,
    uploads,
)

#: ``/health`` (no prefix, no auth) and then the OpenAI resources under ``/v1``
ROUTERS: tuple[tuple[APIRouter, str], ...] = (
    (health.router, ""),
    (files.router, "/v1"),
    (uploads.router, "/v1"),
    (jobs.router, "/v1"),
    (models.router, "/v1"),
    (completions.router, "/v1"),
    (embeddings.router, "/v1"),
    (graders.router, "/v1"),
)
