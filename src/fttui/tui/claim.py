"""Who reports the end of a cancelled thread worker: the worker itself, or the UI.

Textual cancels a thread worker by cancelling its asyncio task. When that happens before
the task (or the executor's thread) has started, the worker's function never runs, so the
"stopped" message it would post never comes and the UI stays stuck ("Stopping…", a
streaming cursor). A ``Claim`` settles it without guessing: the worker's first act is
``begin()``; the UI, after ``worker.cancel()``, calls ``abandon()``. Whichever comes first
wins, under a lock: if the worker began it will post its own ending; if not, it never will
run its body and the UI must settle things itself.
"""

from __future__ import annotations

import threading


class Claim:
    """One launch of a thread worker (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: str | None = None

    def begin(self) -> bool:
        """In the worker, first thing: False means the UI gave up on it (return at once)."""
        with self._lock:
            if self._owner is None:
                self._owner = "worker"
            return self._owner == "worker"

    def abandon(self) -> bool:
        """In the UI, after ``cancel()``: True means the worker never began (and never
        will), so nothing will come from it; False means it will post its own ending."""
        with self._lock:
            if self._owner is None:
                self._owner = "ui"
            return self._owner == "ui"
