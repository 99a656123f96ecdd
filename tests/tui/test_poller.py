"""The poll policy the Jobs and Metrics panes ask for their next delay (``fttui.tui.poller``):
active and idle intervals after an answer, a capped back-off after failures, the provider's
Retry-After honoured, a floor for errors retrying will not fix. No UI: plain objects."""

from __future__ import annotations

import ast
from pathlib import Path

from fttui.tui.panes.jobs import DETAIL_ACTIVE, DETAIL_IDLE, LIST_ACTIVE, LIST_IDLE
from fttui.tui.poller import RETRY_DELAYS, Poller, retry_delay


def test_an_answer_gives_the_active_interval_while_a_job_runs_and_the_idle_one_after():
    poller = Poller(LIST_ACTIVE, LIST_IDLE)
    assert poller.next_delay(active=True) == LIST_ACTIVE
    assert poller.next_delay(active=False) == LIST_IDLE


def test_a_loop_without_an_idle_interval_stops_once_nothing_can_change():
    poller = Poller(2.0, None)  # the Metrics pane: a finished job's figures do not change
    assert poller.next_delay(active=True) == 2.0
    assert poller.next_delay(active=False) is None


def test_failures_back_off_longer_each_time_up_to_a_cap():
    poller = Poller(DETAIL_ACTIVE, DETAIL_IDLE)
    delays = [poller.backoff() for _ in range(len(RETRY_DELAYS) + 3)]
    assert delays[: len(RETRY_DELAYS)] == list(RETRY_DELAYS)
    assert delays[len(RETRY_DELAYS) :] == [RETRY_DELAYS[-1]] * 3  # capped
    assert poller.failures == len(RETRY_DELAYS) + 3


def test_an_answer_after_failures_starts_the_back_off_afresh():
    poller = Poller(LIST_ACTIVE, LIST_IDLE)
    poller.backoff()
    poller.backoff()
    assert poller.next_delay(active=True) == LIST_ACTIVE
    assert poller.failures == 0
    assert poller.backoff() == RETRY_DELAYS[0]


def test_retry_after_from_the_provider_wins_over_the_back_off():
    poller = Poller(LIST_ACTIVE, LIST_IDLE)
    poller.backoff()
    poller.backoff()
    assert poller.backoff(retry_after=7) == 7.0
    assert poller.backoff(retry_after=0.1) == 1.0  # never a busy loop
    assert poller.failures == 4  # Retry-After still counts as a failure


def test_an_error_retrying_cannot_fix_is_retried_slowly_where_a_floor_is_set():
    listing = Poller(LIST_ACTIVE, LIST_IDLE, permanent_floor=60.0)
    assert listing.backoff(transient=False) == 60.0
    assert listing.backoff(transient=True) == RETRY_DELAYS[1]
    assert listing.backoff(retry_after=120, transient=False) == 120.0
    detail = Poller(DETAIL_ACTIVE, DETAIL_IDLE)  # no floor: the back-off alone
    assert detail.backoff(transient=False) == RETRY_DELAYS[0]


def test_reset_forgets_the_failures_of_what_was_polled_before():
    poller = Poller(2.0, None)
    poller.backoff()
    poller.backoff()
    poller.reset()
    assert poller.backoff() == RETRY_DELAYS[0]


def test_retry_delay_is_the_back_off_by_attempt():
    assert retry_delay(0) == RETRY_DELAYS[0]
    assert retry_delay(-3) == RETRY_DELAYS[0]
    assert retry_delay(99) == RETRY_DELAYS[-1]
    assert retry_delay(2, retry_after=5) == 5.0


def test_the_poller_module_imports_no_ui():
    import fttui.tui.poller as poller

    tree = ast.parse(Path(poller.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] in ("textual", "rich")}
    assert not {m for m in imported if m.startswith("fttui.tui.")}
