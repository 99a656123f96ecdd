"""When to poll again: the panes' poll policy, with no UI in it (issue 11).

Each poll loop of the Jobs pane (the list, the selected job) and of the Metrics pane keeps
its own ``set_timer``, armed again once a poll finished (never a fixed-rate interval: a
slow provider is never asked twice at once), and asks its ``Poller`` for the delay: the
active or idle interval after an answer, a capped back-off after a failure, the provider's
Retry-After when it sent one.

Below the app, the panes and the screens (any of them may import it): the panes used to
import ``retry_delay`` from ``fttui.tui.app``, an import back up the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Seconds before the next try after 1, 2, 3... consecutive failures (the last one repeats).
RETRY_DELAYS = (2.0, 4.0, 8.0, 15.0, 30.0)


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """When to try again after ``attempt`` consecutive failures (Retry-After wins)."""
    if retry_after is not None:
        return max(1.0, float(retry_after))
    return RETRY_DELAYS[min(max(attempt, 0), len(RETRY_DELAYS) - 1)]


@dataclass
class Poller:
    """The delay policy of one poll loop.

    The worker that polled calls ``next_delay`` after an answer or ``backoff`` after a
    failure (both from its thread: one poll of a loop runs at a time, the workers being
    exclusive), and the pane arms its timer with the result.
    """

    #: seconds between polls while what is polled can still change (a running job)
    active: float
    #: seconds between polls once it cannot (None: no more polls; ``r`` fetches again)
    idle: float | None
    #: seconds before looking again while polls are held (a dialog is open, not connected)
    held: float = 1.0
    #: the least delay after an error retrying will not fix (a revoked key): keep trying,
    #: but slowly (None: the back-off alone)
    permanent_floor: float | None = None
    #: consecutive failed polls
    failures: int = 0

    def next_delay(self, *, active: bool = True) -> float | None:
        """The poll answered: the failures are over; the delay before the next one."""
        self.failures = 0
        return self.active if active else self.idle

    def backoff(self, retry_after: float | None = None, *, transient: bool = True) -> float:
        """The poll failed: the delay before the next try (longer each time, capped)."""
        delay = retry_delay(self.failures, retry_after)
        if not transient and self.permanent_floor is not None:
            delay = max(delay, self.permanent_floor)
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Something else is polled now (another job): its back-off starts afresh."""
        self.failures = 0
