"""The FastAPI application: the OpenAI-compatible routes under ``/v1``.

Reads (lists, retrieves) run on the event loop: they are single indexed SQLite queries
whose stored JSON is joined into the body. Anything that writes or generates runs in the
thread pool, so a slow disk or a long generation never stalls the other requests.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from fttui import __version__
from fttui.server.errors import ApiError, bad_request, error_bytes, http_error
from fttui.server.executors.base import Executor
from fttui.server.faults import FaultMiddleware, send_json
from fttui.server.files import FileService
from fttui.server.job_manager import JobManager
from fttui.server.limits import BodyLimit, InternalErrors
from fttui.server.model_registry import ModelRegistry
from fttui.server.openapi import openapi_document
from fttui.server.routes import ROUTERS
from fttui.server.routes.completions import DEFAULT_MAX_REQUEST_TOKENS
from fttui.server.store import Store


@dataclass
class ServerConfig:
    """What ``fttui serve`` was started with."""

    data_dir: Path
    api_key: str
    max_upload_bytes: int = 512 * 1024 * 1024
    faults: dict[str, float] = field(default_factory=dict)
    faults_seed: int | None = None
    poll_interval: float = 0.1
    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS


@dataclass
class Services:
    store: Store
    executor: Executor
    files: FileService
    models: ModelRegistry
    jobs: JobManager


def build_services(config: ServerConfig, executor: Executor) -> Services:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(config.data_dir / "fttui.sqlite3")
    files = FileService(store, config.data_dir, config.max_upload_bytes)
    models = ModelRegistry(store, executor, config.data_dir / "jobs")
    jobs = JobManager(
        store, executor, config.data_dir, files, models, poll_interval=config.poll_interval
    )
    return Services(store, executor, files, models, jobs)


class AuthMiddleware:
    """Every request but ``GET /health`` needs ``Authorization: Bearer <key>``."""

    def __init__(self, app: Any, api_key: str) -> None:
        self.app, self.key = app, api_key.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/health":
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if not header:
            message, code = (
                "You didn't provide an API key. You need to provide your API key "
                "in an Authorization header using Bearer auth (i.e. Authorization: "
                "Bearer YOUR_KEY).",
                "missing_api_key",
            )
        elif scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
            message, code = (
                "Incorrect API key provided. Use the key `fttui serve` printed "
                "(also in <data dir>/api_key).",
                "invalid_api_key",
            )
        else:
            await self.app(scope, receive, send)
            return
        await send_json(
            send,
            401,
            error_bytes(401, message, "invalid_request_error", code),
            [(b"www-authenticate", b"Bearer")],
        )


def create_app(config: ServerConfig, services: Services) -> Any:
    """The ASGI app: routes, errors in OpenAI's shape, auth, and ``--faults`` in front."""
    # /openapi.json is behind the key like every route but /health: it describes nothing
    # secret, but one rule with one exception is the auth this server can be sure of.
    app = FastAPI(
        title="fttui serve",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return http_error(request.scope, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        return bad_request(f"Invalid request: {exc.errors()}").response()

    # inside Starlette's ServerErrorMiddleware: an unexpected exception stops here
    app.add_middleware(BodyLimit)
    app.add_middleware(InternalErrors)

    app.state.services, app.state.config = services, config
    from starlette.routing import Route, compile_path

    route_methods = []
    for router, prefix in ROUTERS:
        app.include_router(router, prefix=prefix)
        for route in router.routes:
            if isinstance(route, Route) and route.methods:  # APIRoute is a Route
                route_methods.append((compile_path(prefix + route.path)[0], route.methods))
    app.state.route_methods = route_methods  # what a 405's Allow names (errors.py)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]

    asgi: Any = AuthMiddleware(app, config.api_key)
    if config.faults:
        asgi = FaultMiddleware(asgi, config.faults, config.faults_seed)
    return asgi
