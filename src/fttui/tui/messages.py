"""Messages between the panes of the app, through the app (which routes them).

Workers run in threads and only ever talk to the UI through messages (``post_message`` is
thread-safe); the panes never call each other directly. The messages here cross panes;
those a pane's workers send to the pane itself live next to it (``panes/jobs.py``'s
``JobsLoaded``, ``panes/data.py``'s ``IndexProgress``...). All are small dataclasses
(Textual's ``Message.__post_init__`` initialises the message).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class JobSelected(Message):
    """The job under the cursor of the jobs table changed (metrics and playground follow it)."""

    job_id: str | None
    model: str | None = None
    fine_tuned_model: str | None = None
    status: str | None = None


@dataclass
class BackendOk(Message):
    """A call to the provider succeeded: clear any outage banner, stamp the last refresh."""

    what: str = "refresh"


@dataclass
class BackendProblem(Message):
    """A call to the provider failed.

    ``kind`` follows the API layer's error kinds (``network``, ``timeout``, ``rate_limit``,
    ``provider``, ``auth``, ``not_found``, ``bad_request``); ``retry_in`` is when the poller
    will try again, in seconds (for the banner's countdown).
    """

    kind: str
    message: str
    retry_in: float | None = None


@dataclass
class BackendReady(Message):
    """The provider was resolved (and the local server started if needed)."""

    name: str
    base_url: str
    detail: str = ""


@dataclass
class JobCheckpoints(Message):
    """The checkpoints the Jobs pane just fetched for ``job_id`` (oldest first): the
    Playground offers them without asking the provider again."""

    job_id: str
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JobCreated(Message):
    """A job was created (by the create-job screen): select it."""

    job_id: str


@dataclass
class JobsMarked(Message):
    """The jobs marked in the Jobs pane (space), in marking order: the ones to compare;
    ``jobs`` their rows as the Jobs pane has them (the compare view shows them at once)."""

    job_ids: tuple[str, ...]
    jobs: tuple[dict[str, Any], ...] = ()
