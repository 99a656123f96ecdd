"""Job events, incrementally: the API lists them newest first and has no streaming, so
:class:`EventFollower` keeps a cursor (the newest id seen), de-duplicates by id and hands
out new events oldest first, with memory bounded however long the backlog is."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from fttui.api.errors import ApiError, backoff_delay, sleep_interruptibly
from fttui.api.jobs import TERMINAL_STATUSES
from fttui.api.paging import read_call


class EventFollower:
    """Follow one job's events.

    ``poll()`` fetches pages from the newest down to the first already-seen event, then
    returns the new ones oldest first. Only the ids of the last ``max_seen`` events are
    kept; a backlog longer than ``cache_events`` is walked once for page cursors and then
    re-read page by page (oldest page first), so a 10,000-event job costs a few pages of
    memory, not 10,000 events. Use one follower per thread.
    """

    def __init__(
        self,
        client: Any,
        job_id: str,
        *,
        page_size: int = 100,
        max_seen: int = 4096,
        cache_events: int = 1000,
    ) -> None:
        self.client = client
        self.job_id = job_id
        self.page_size = max(1, min(int(page_size), 100))
        self.max_seen = max(int(max_seen), self.page_size * 2)
        self.cache_events = max(int(cache_events), self.page_size)
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self.last_id: str | None = None
        self.count = 0

    # -- internals ------------------------------------------------------------------------

    def _page(self, after: str | None) -> tuple[list[Any], bool]:
        kwargs: dict[str, Any] = {"limit": self.page_size}
        if after is not None:
            kwargs["after"] = after
        page = read_call(lambda: self.client.fine_tuning.jobs.list_events(self.job_id, **kwargs))
        data = list(page.data)
        has_more = bool(getattr(page, "has_more", False)) and bool(data)
        return data, has_more

    def _remember(self, event_id: str) -> None:
        if event_id in self._seen:
            return
        self._seen.add(event_id)
        self._order.append(event_id)
        while len(self._order) > self.max_seen:
            self._seen.discard(self._order.popleft())

    def seen(self, event_id: str) -> bool:
        return event_id in self._seen

    # -- public ---------------------------------------------------------------------------

    def iter_new(self, *, limit: int | None = None) -> Iterator[Any]:
        """New events oldest first (the newest ``limit`` of them when given)."""
        # Pass 1: walk newest → older until a seen id; keep pages while the backlog is
        # small, else keep only each page's cursor and its count of new events.
        pages: list[tuple[str | None, int, list[Any] | None]] = []
        cached = 0
        after: str | None = None
        total_new = 0
        while True:
            data, has_more = self._page(after)
            new: list[Any] = []
            hit_seen = False
            for ev in data:
                if ev.id in self._seen:
                    hit_seen = True
                    break
                new.append(ev)
            if new:
                keep = new if cached + len(new) <= self.cache_events or after is None else None
                if keep is not None:
                    cached += len(keep)
                pages.append((after, len(new), keep))
                total_new += len(new)
            if hit_seen or not has_more or not data:
                break
            if limit is not None and total_new >= limit:
                break
            after = data[-1].id
        # Pass 2: oldest page first, each page reversed.
        skip = max(0, total_new - limit) if limit is not None else 0
        for cursor, n_new, kept in reversed(pages):
            events = kept
            if events is None:
                data, _ = self._page(cursor)
                events = [ev for ev in data[:n_new] if ev.id not in self._seen]
            for ev in reversed(events):
                if ev.id in self._seen:
                    continue
                self._remember(ev.id)
                if skip:
                    skip -= 1
                    continue
                self.last_id = ev.id
                self.count += 1
                yield ev

    def poll(self, *, limit: int | None = None) -> list[Any]:
        """New events since the last poll, oldest first."""
        return list(self.iter_new(limit=limit))

    def follow(
        self,
        *,
        interval: float = 1.0,
        should_stop: Callable[[], bool] | None = None,
        get_status: Callable[[], str] | None = None,
        on_error: Callable[[ApiError, float], None] | None = None,
        max_interval: float | None = None,
    ) -> Iterator[Any]:
        """Yield events as they arrive until the job ends (then drain) or ``should_stop``.

        Transient errors (rate limits, network, timeouts, 5xx) are retried with backoff and
        reported through ``on_error(err, delay)``; others raise. After the loop,
        ``self.final_status`` holds the job's last status.
        """
        if get_status is None:

            def get_status() -> str:
                job = read_call(
                    lambda: self.client.fine_tuning.jobs.retrieve(self.job_id), attempts=1
                )
                status: str = job.status
                return status

        self.final_status: str | None = None
        failures = 0
        while True:
            if should_stop is not None and should_stop():
                return
            try:
                status = get_status()
                terminal = status in TERMINAL_STATUSES
                yield from self.iter_new()
                failures = 0
                if terminal:
                    self.final_status = status
                    return
            except ApiError as err:
                if not err.transient:
                    raise
                delay = backoff_delay(failures, err, cap=max_interval or 30.0)
                failures += 1
                if on_error is not None:
                    on_error(err, delay)
                if sleep_interruptibly(delay, should_stop):
                    return
                continue
            if sleep_interruptibly(interval, should_stop):
                return


def iter_events(
    client: Any, job_id: str, *, limit: int | None = None, page_size: int = 100
) -> Iterator[Any]:
    """All events of a job (or the newest ``limit``), oldest first."""
    yield from EventFollower(client, job_id, page_size=page_size).iter_new(limit=limit)


def event_line(event: Any) -> str:
    """``12:03:04 info  Step 3/20: training loss=1.234`` for a terminal."""
    stamp = time.strftime("%H:%M:%S", time.localtime(getattr(event, "created_at", 0) or 0))
    level = getattr(event, "level", "info") or "info"
    return f"{stamp} {level:<5} {getattr(event, 'message', '')}"
