"""Messages the panes of the app send each other (and that workers post back to the UI).

Workers run in threads and only ever talk to the UI through these messages
(``post_message`` is thread-safe); the panes never call each other directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


class JobSelected(Message):
    """The job under the cursor of the jobs table changed (metrics and playground follow it)."""

    def __init__(
        self,
        job_id: str | None,
        model: str | None = None,
        fine_tuned_model: str | None = None,
        status: str | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.model = model
        self.fine_tuned_model = fine_tuned_model
        self.status = status


class JobsLoaded(Message):
    """A fresh (or cached) job list; ``jobs`` are plain dicts from ``backend.job_row``.

    ``poll`` marks the job-list poll's own answer: only that one arms the next list poll
    (the selected job's poll and job actions post one-row updates much more often).
    ``read_at`` (``time.monotonic()`` when the read began) lets the pane keep a newer row a
    job action brought over an older one read before it.
    """

    def __init__(
        self,
        jobs: list[dict[str, Any]],
        *,
        cached: bool = False,
        full: bool = True,
        poll: bool = False,
        read_at: float | None = None,
    ):
        super().__init__()
        self.jobs = jobs
        self.cached = cached
        self.full = full
        self.poll = poll
        self.read_at = read_at


class BackendOk(Message):
    """A call to the provider succeeded: clear any outage banner, stamp the last refresh."""

    def __init__(self, what: str = "refresh") -> None:
        super().__init__()
        self.what = what


class BackendProblem(Message):
    """A call to the provider failed.

    ``kind`` follows the API layer's error kinds (``network``, ``timeout``, ``rate_limit``,
    ``provider``, ``auth``, ``not_found``, ``bad_request``); ``retry_in`` is when the poller
    will try again, in seconds (for the banner's countdown).
    """

    def __init__(self, kind: str, message: str, retry_in: float | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.message = message
        self.retry_in = retry_in


class BackendReady(Message):
    """The provider was resolved (and the local server started if needed)."""

    def __init__(self, name: str, base_url: str, detail: str = "") -> None:
        super().__init__()
        self.name = name
        self.base_url = base_url
        self.detail = detail


@dataclass
class Events(Message):
    """New events of the followed job, oldest first (plain dicts).

    ``log`` is the number of the event log they were fetched for: the pane clears its log
    on every selection, and events meant for an older log are dropped.
    """

    job_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    reset: bool = False
    log: int = 0


@dataclass
class JobCheckpoints(Message):
    """The checkpoints the Jobs pane just fetched for ``job_id`` (oldest first): the
    Playground offers them without asking the provider again."""

    job_id: str
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JobsProgress(Message):
    """Job id -> (step, total steps) of training jobs, from their newest events."""

    progress: dict[str, tuple[int, int | None]] = field(default_factory=dict)


class JobCreated(Message):
    """A job was created (by the create-job screen): select it."""

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id


class JobsMarked(Message):
    """The jobs marked in the Jobs pane (space), in marking order: the ones to compare;
    ``jobs`` their rows as the Jobs pane has them (the compare view shows them at once)."""

    def __init__(self, job_ids: tuple[str, ...], jobs: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__()
        self.job_ids = job_ids
        self.jobs = jobs
