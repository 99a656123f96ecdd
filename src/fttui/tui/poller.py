"""When to poll again: the panes' retry policy, with no UI in it (issue 11).

Below the app, the panes and the screens (any of them may import it): the panes used to
import ``retry_delay`` from ``fttui.tui.app``, an import back up the layers.
"""

from __future__ import annotations

#: Seconds between reconnect attempts while the provider cannot be reached (capped).
RETRY_DELAYS = (2.0, 4.0, 8.0, 15.0, 30.0)


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """When to try again after ``attempt`` consecutive failures (Retry-After wins)."""
    if retry_after is not None:
        return max(1.0, float(retry_after))
    return RETRY_DELAYS[min(max(attempt, 0), len(RETRY_DELAYS) - 1)]
