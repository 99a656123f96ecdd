"""Cursor pagination with per-page retries (the SDK's auto-pagination retries nothing on
top of its per-request retries, and restarts nothing when a page fails midway)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from fttui.api.errors import retry_call

#: Extra attempts around each read (on top of the client's own ``max_retries``).
READ_ATTEMPTS = 3


def read_call(
    fn: Callable[[], Any],
    *,
    attempts: int = READ_ATTEMPTS,
    should_stop: Callable[[], bool] | None = None,
) -> Any:
    """Run an idempotent read, retrying transient failures; raises ApiError."""
    return retry_call(fn, attempts=attempts, should_stop=should_stop)


def iter_pages(
    fetch: Callable[[str | None], Any],
    *,
    attempts: int = READ_ATTEMPTS,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[Any]:
    """Items of every page: ``fetch(after)`` returns a page with ``data`` and ``has_more``;
    the next page is asked ``after`` the last item's id. One pass; stops on an empty page,
    ``has_more`` false, or a cursor that does not move."""
    after: str | None = None
    while True:
        page = retry_call(partial(fetch, after), attempts=attempts, should_stop=should_stop)
        data = list(getattr(page, "data", None) or [])
        yield from data
        if not data or not getattr(page, "has_more", False):
            return
        nxt = getattr(data[-1], "id", None)
        if nxt is None or nxt == after:
            return
        after = nxt
        if should_stop is not None and should_stop():
            return
