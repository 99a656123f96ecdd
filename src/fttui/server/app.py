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

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response, StreamingResponse

from fttui import __version__
from fttui.server.errors import ApiError, bad_request, error_bytes, json_response
from fttui.server.executors.base import Executor
from fttui.server.faults import FaultMiddleware, send_json
from fttui.server.files import FileService
from fttui.server.generation import (
    chat_completion,
    chat_request,
    chat_stream,
    completion,
    completion_request,
    completion_stream,
    per_prompt,
    run,
)
from fttui.server.graders_routes import graders_router
from fttui.server.jobs import JobManager
from fttui.server.models import ModelRegistry
from fttui.server.store import Store

MAX_JSON_BODY = 32 * 1024 * 1024
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass
class ServerConfig:
    """What ``fttui serve`` was started with."""

    data_dir: Path
    api_key: str
    max_upload_bytes: int = 512 * 1024 * 1024
    faults: dict[str, float] = field(default_factory=dict)
    faults_seed: int | None = None
    poll_interval: float = 0.1


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


async def json_body(request: Request) -> dict[str, Any]:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_JSON_BODY:
        raise ApiError(413, "The request body is too large.", code="request_too_large")
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("The JSON body must be an object.")
    return body


def query_limit(request: Request, default: int, high: int = 10_000) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= high:
        raise bad_request(
            f"Invalid limit {raw!r}: use an integer from 1 to {high}.",
            param="limit",
            code="invalid_value",
        )
    return value


def create_app(config: ServerConfig, services: Services) -> Any:
    """The ASGI app: routes, errors in OpenAI's shape, auth, and ``--faults`` in front."""
    app = FastAPI(
        title="fttui serve", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    s = services

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = (
            f"Invalid URL ({request.method} {request.url.path})"
            if exc.status_code in (404, 405)
            else str(exc.detail)
        )
        return ApiError(exc.status_code, message).response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        return bad_request(f"Invalid request: {exc.errors()}").response()

    @app.exception_handler(Exception)
    async def _server_error(_: Request, exc: Exception) -> Response:
        return ApiError(
            500,
            f"The server had an error while processing your request: {exc!r}",
            type="server_error",
            code="internal_error",
        ).response()

    @app.get("/health")
    async def health() -> Response:
        return json_response({"status": "ok", "executor": s.executor.name})

    # -- files -------------------------------------------------------------------------
    @app.post("/v1/files")
    async def create_file(request: Request) -> Response:
        return json_response(await s.files.upload(request))

    @app.get("/v1/files")
    async def list_files(request: Request) -> Response:
        q = request.query_params
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            raise bad_request("order must be asc or desc.", param="order")
        purpose = q.get("purpose")
        page = s.store.page(
            "files",
            where="purpose = ?" if purpose else "1",
            params=[purpose] if purpose else [],
            after=q.get("after"),
            limit=query_limit(request, 10_000),
            ascending=order == "asc",
        )
        return json_response(page.to_json(first_last=True, empty_id=""))

    @app.get("/v1/files/{file_id}")
    async def get_file(file_id: str) -> Response:
        return json_response(s.files.row(file_id)[0].encode())

    @app.delete("/v1/files/{file_id}")
    def delete_file(file_id: str) -> Response:
        return json_response(s.files.delete(file_id))

    @app.get("/v1/files/{file_id}/content")
    def file_content(file_id: str) -> Response:
        return s.files.open_content(file_id)

    # -- uploads -----------------------------------------------------------------------
    @app.post("/v1/uploads")
    async def create_upload(request: Request) -> Response:
        body = await json_body(request)
        return json_response(await run_in_threadpool(s.files.create_upload, body))

    @app.post("/v1/uploads/{upload_id}/parts")
    async def add_part(upload_id: str, request: Request) -> Response:
        return json_response(await s.files.add_part(upload_id, request))

    @app.post("/v1/uploads/{upload_id}/complete")
    async def complete_upload(upload_id: str, request: Request) -> Response:
        body = await json_body(request)
        return json_response(await run_in_threadpool(s.files.complete, upload_id, body))

    @app.post("/v1/uploads/{upload_id}/cancel")
    def cancel_upload(upload_id: str) -> Response:
        return json_response(s.files.cancel_upload(upload_id))

    # -- fine-tuning jobs --------------------------------------------------------------
    @app.post("/v1/fine_tuning/jobs")
    async def create_job(request: Request) -> Response:
        body = await json_body(request)
        return json_response(await run_in_threadpool(s.jobs.create, body))

    @app.get("/v1/fine_tuning/jobs")
    async def list_jobs(request: Request) -> Response:
        q = request.query_params
        metadata = {
            k[9:-1]: v for k, v in q.multi_items() if k.startswith("metadata[") and k.endswith("]")
        }
        page = s.jobs.list(
            after=q.get("after"),
            limit=query_limit(request, 20),
            metadata=metadata,
            no_metadata=q.get("metadata") == "null",
        )
        return json_response(page.to_json())

    @app.get("/v1/fine_tuning/jobs/{job_id}")
    async def get_job(job_id: str) -> Response:
        return json_response(s.jobs.raw(job_id))

    @app.post("/v1/fine_tuning/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> Response:
        return json_response(s.jobs.cancel(job_id))

    @app.post("/v1/fine_tuning/jobs/{job_id}/pause")
    def pause_job(job_id: str) -> Response:
        return json_response(s.jobs.pause(job_id))

    @app.post("/v1/fine_tuning/jobs/{job_id}/resume")
    def resume_job(job_id: str) -> Response:
        return json_response(s.jobs.resume(job_id))

    @app.get("/v1/fine_tuning/jobs/{job_id}/events")
    async def job_events(job_id: str, request: Request) -> Response:
        page = s.jobs.events(
            job_id, after=request.query_params.get("after"), limit=query_limit(request, 20)
        )
        return json_response(page.to_json())

    @app.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
    async def job_checkpoints(job_id: str, request: Request) -> Response:
        page = s.jobs.checkpoints(
            job_id, after=request.query_params.get("after"), limit=query_limit(request, 10)
        )
        return json_response(page.to_json(first_last=True))

    # -- models ------------------------------------------------------------------------
    @app.get("/v1/models")
    async def list_models() -> Response:
        return json_response(s.models.list_json())

    @app.get("/v1/models/{model:path}")
    async def get_model(model: str) -> Response:
        return json_response(s.models.retrieve(model))

    @app.delete("/v1/models/{model:path}")
    def delete_model(model: str) -> Response:
        return json_response(s.models.delete(model))

    # -- generation --------------------------------------------------------------------
    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await json_body(request)
        req, stops, stream, include_usage = chat_request(body, s.models, s.executor)
        if stream:  # started here: its errors are a 400, not an error frame in a 200 stream
            started = await run_in_threadpool(run, s.executor, req, stops)
            frames = chat_stream(s.executor, req, started, include_usage)
            return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)
        return json_response(await run_in_threadpool(chat_completion, s.executor, req, stops))

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await json_body(request)
        req, stops, prompts, echo, stream, include_usage = completion_request(
            body, s.models, s.executor
        )
        if stream:
            started = await run_in_threadpool(run, s.executor, per_prompt(req, prompts[0]), stops)
            frames = completion_stream(s.executor, req, stops, prompts, include_usage, started)
            return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)
        return json_response(
            await run_in_threadpool(completion, s.executor, req, stops, prompts, echo)
        )

    app.include_router(graders_router(s))

    asgi: Any = AuthMiddleware(app, config.api_key)
    if config.faults:
        asgi = FaultMiddleware(asgi, config.faults, config.faults_seed)
    return asgi
