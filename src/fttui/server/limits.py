"""ASGI guards in front of the routes: the JSON body cap, and what a 500 says and does.

Both work on the raw ASGI messages, so they hold for every route, however its body is read
(``Content-Length`` or chunked) and whatever raised.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import sys
import traceback

from fttui.server.errors import ApiError, clip, disk_full, is_disk_full
from fttui.server.faults import CRASH_ENV, App, Message, Receive, Scope, Send

MAX_JSON_BODY = 32 * 1024 * 1024
#: the routes that stream a multipart body to disk under their own, larger limits
STREAMED = re.compile(r"/v1/(files|uploads/[^/]+/parts)")


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than the limit of {limit / 1024 / 1024:g} MB.",
        code="request_too_large",
    )


class BodyLimit:
    """Refuse a request body past ``limit`` bytes with 413, counted as it is received.

    ``Content-Length`` alone let a chunked 200 MB body through (+800 MB RSS): the bytes are
    counted as each message arrives, and the 413 is raised from ``receive`` as soon as the
    count passes the limit, so at most ``limit`` bytes are ever held. The route's own
    error handling answers it, in the error shape.
    """

    def __init__(self, app: App, limit: int = MAX_JSON_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] == "POST" and STREAMED.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await body_too_large(self.limit).response()(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise body_too_large(self.limit)
            return message

        await self.app(scope, counted, send)


class InternalErrors:
    """Answer an unexpected exception with a 500 that closes the connection and says no
    more than an error id; the server's log has the id and the traceback.

    Starlette's handler re-raised after answering, and uvicorn then reset the keep-alive
    connection without ``Connection: close``: the client's next request on it failed with
    ECONNRESET. The message was the exception's repr, with absolute server paths.
    ``FTTUI_FAULT_CRASH=<path>`` (a test hook) makes a request to that path raise.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.crash_path = os.environ.get(CRASH_ENV)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if self.crash_path and scope["path"] == self.crash_path:
                # what a bug looks like: an exception whose repr names a server path
                raise OSError(errno.EIO, "injected crash", os.path.abspath("fttui.sqlite3"))
            await self.app(scope, receive, tracked)
        except Exception as exc:
            error_id = f"err_{secrets.token_hex(6)}"
            where = f"{scope['method']} {clip(scope['path'], quote=False)}"
            if is_disk_full(exc):
                print(f"fttui serve: {error_id} on {where}: disk full: {exc}", flush=True)
            else:
                text = "".join(traceback.format_exception(exc))
                print(
                    f"fttui serve: internal error {error_id} on {where}\n{text}",
                    file=sys.stderr,
                    flush=True,
                )
            if started:  # too late to answer: uvicorn closes an unfinished response
                return
            if is_disk_full(exc):
                error = disk_full(f"complete the request (error id {error_id})")
            else:
                error = ApiError(
                    500,
                    "The server had an error while processing your request. Its log has "
                    f"the details under the error id {error_id}.",
                    type="server_error",
                    code="internal_error",
                    headers={"Connection": "close"},
                )
            await error.response()(scope, receive, send)
