"""The OpenAPI document ``fttui serve`` serves at ``/openapi.json``.

FastAPI writes the paths and the parameters; the request bodies come from the typed models
in :mod:`fttui.server.schemas` (the routes read them through a capped body reader, so they
reach the document through ``openapi_extra``, and their schemas are added here). Every error
is OpenAI's ``{"error": {...}}``, so that is the one error response each operation declares,
in place of FastAPI's 422 (this server answers a bad request with a 400).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from fttui.server.schemas import BODIES

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
PUBLIC = {"/health"}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description="A local server that speaks OpenAI's fine-tuning REST API and really trains.",
        routes=app.routes,
    )
    _, defs = models_json_schema(
        [(model, "validation") for model in BODIES], ref_template="#/components/schemas/{model}"
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(defs.get("$defs", {}))
    schemas["ErrorResponse"] = ERROR_SCHEMA
    components["securitySchemes"] = {"ApiKeyAuth": {"type": "http", "scheme": "bearer"}}
    doc["security"] = [{"ApiKeyAuth": []}]
    error = {
        "description": "An error, in OpenAI's shape",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["default"] = error
            if path in PUBLIC:
                operation["security"] = []
    app.openapi_schema = doc
    return doc
