"""A uvicorn server that announces itself in ``server.json`` once it serves, not before."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable

import uvicorn


class AnnouncingServer(uvicorn.Server):
    """Calls ``announce`` (which writes ``server.json``) once the event loop serves.

    A client waits for ``server.json``, then talks to the server or signals it. Written
    before the event loop ran, a SIGHUP sent at once landed while asyncio was still building
    its loop: the exit was clean, but the half-built loop printed a traceback (CI, stop 21).
    ``stop_asked`` says whether a stop signal came before uvicorn took the signals over:
    then it starts and stops at once, announcing nothing. Once serving, SIGHUP (a closed
    terminal or SSH session) is uvicorn's graceful shutdown, as SIGTERM is.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        announce: Callable[[], None],
        stop_asked: Callable[[], bool],
    ) -> None:
        super().__init__(config)
        self._announce, self._stop_asked = announce, stop_asked

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if threading.current_thread() is threading.main_thread():
            signal.signal(
                signal.SIGHUP, lambda _sig, frame: self.handle_exit(signal.SIGTERM, frame)
            )
        if self._stop_asked():
            self.should_exit = True
        if self.should_exit:  # a signal came during start-up: nothing to announce
            return
        self._announce()
