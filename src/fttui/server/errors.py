"""Errors in OpenAI's shape, and the JSON responses the API sends."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

#: an echoed value (a model name, a purpose ...) is cut to this many characters
MAX_ECHO = 200
#: no error message is longer than this: a site that echoes input uncut is still bounded
MAX_MESSAGE = 1000


def clip(value: Any, limit: int = MAX_ECHO, *, quote: bool = True) -> str:
    """``repr(value)`` (the text itself for a string when not ``quote``) for a message, cut
    to ``limit`` characters + "…": a 20 MB model name must not come back as a 20 MB error."""
    text = value if isinstance(value, str) and not quote else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def clip_message(message: str) -> str:
    """A message cut in its middle past ``MAX_MESSAGE``: the head says what was wrong, the
    tail usually says what to do, the echoed input in between is what grows."""
    if len(message) <= MAX_MESSAGE:
        return message
    head = MAX_MESSAGE * 2 // 3
    return message[:head] + "…" + message[-(MAX_MESSAGE - head - 1) :]


class ApiError(Exception):
    """An error answered as ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message = clip_message(message)
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.param = clip(param, quote=False) if param is not None else None
        self.code, self.headers = code, headers

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> Response:
        return json_response(self.body(), status=self.status, headers=self.headers)


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(404, message, param=param, code=code)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_bytes(status: int, message: str, type: str, code: str | None) -> bytes:
    return orjson.dumps(ApiError(status, message, type=type, code=code).body())


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


def disk_full(what: str) -> ApiError:
    """507 in the error shape: the client's request was fine, the server's disk is not."""
    return ApiError(
        507,
        f"No space left on device: the server could not {what}. Free some disk space on "
        "the server and try again.",
        type="server_error",
        code="disk_full",
    )


def allowed_methods(scope: Mapping[str, Any]) -> str:
    """The ``Allow`` of a 405: the methods of every route whose path matches.

    Starlette's own 405 names only the first such route's methods (``GET`` for a ``PUT
    /v1/files`` though ``POST`` is served there too)."""
    app = scope["app"]
    # FastAPI keeps an included router as one opaque entry: create_app records every
    # route's compiled path and methods (``state.route_methods``) for this
    table = getattr(app.state, "route_methods", None) or [
        (route.path_regex, route.methods)
        for route in app.router.routes
        if getattr(route, "path_regex", None) is not None and getattr(route, "methods", None)
    ]
    methods: set[str] = set()
    for regex, route_methods in table:
        if regex.match(scope["path"]):
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


def http_error(
    scope: Mapping[str, Any], status: int, detail: str, headers: Mapping[str, str] | None
) -> Response:
    """Starlette's 404s and 405s (and any ``HTTPException``) in the error shape."""
    path, method = scope["path"], scope["method"]
    message = (
        f"Invalid URL ({method} {clip(path, quote=False)})" if status in (404, 405) else detail
    )
    headers = dict(headers or {})
    if status == 405:
        headers["Allow"] = allowed_methods(scope)
    return ApiError(status, message, headers=headers).response()
