"""``--faults``: make the server misbehave on purpose, so clients can be tested against it.

SPEC is a comma list of ``kind=rate``: ``500`` (server error), ``429`` (rate limited, with
``Retry-After: 1``), ``slow`` (about 2 s added before answering) and ``drop`` (the
connection is closed without a response). Each request draws once from a generator seeded
by ``--faults-seed``; ``GET /health`` is never touched.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fttui.server.errors import error_bytes

FAULT_KINDS = ("500", "429", "slow", "drop")
SLOW_SECONDS = 2.0
#: test hook: a request to the path this names raises inside the app, as a bug would
CRASH_ENV = "FTTUI_FAULT_CRASH"

# the ASGI types as starlette.types spells them, so these apps and Starlette's interoperate
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def parse_faults(spec: str) -> dict[str, float]:
    """``"500=0.3,429=0.2"`` → ``{"500": 0.3, "429": 0.2}``; ValueError with the reason."""
    rates: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, sep, rate = item.partition("=")
        kind = kind.strip()
        if not sep or kind not in FAULT_KINDS:
            raise ValueError(
                f"bad fault {item!r}: use KIND=RATE with KIND one of {', '.join(FAULT_KINDS)}"
            )
        try:
            value = float(rate)
        except ValueError:
            raise ValueError(f"bad rate in {item!r}: a number from 0 to 1") from None
        if not 0 <= value <= 1:
            raise ValueError(f"bad rate in {item!r}: a number from 0 to 1")
        rates[kind] = value
    if sum(rates.values()) > 1:
        raise ValueError("the fault rates add up to more than 1")
    return rates


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class FaultMiddleware:
    """Injects the configured faults in front of the whole API."""

    def __init__(self, app: App, rates: dict[str, float], seed: int | None) -> None:
        self.app, self.rates = app, rates
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def draw(self) -> str | None:
        with self.lock:
            roll = self.rng.random()
        for kind in FAULT_KINDS:
            rate = self.rates.get(kind, 0.0)
            if roll < rate:
                return kind
            roll -= rate
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/health":
            await self.app(scope, receive, send)
            return
        fault = self.draw()
        if fault == "500":
            await send_json(
                send,
                500,
                error_bytes(
                    500,
                    "The server had an error while processing your request (injected fault).",
                    "server_error",
                    "injected_fault",
                ),
            )
        elif fault == "429":
            await send_json(
                send,
                429,
                error_bytes(
                    429,
                    "Rate limit reached (injected fault). Please try again in 1s.",
                    "requests",
                    "rate_limit_exceeded",
                ),
                [(b"retry-after", b"1")],
            )
        elif fault == "drop":
            self._drop(send)
        else:
            if fault == "slow":
                await asyncio.sleep(SLOW_SECONDS)
            await self.app(scope, receive, send)

    @staticmethod
    def _drop(send: Send) -> None:
        """Close the connection without a byte of response.

        uvicorn gives the app no handle on the connection; its ``send`` is a method of the
        request cycle, which holds the transport."""
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionAbortedError("injected fault: drop")
        transport.close()
        cycle.disconnected = True  # type: ignore[union-attr]
