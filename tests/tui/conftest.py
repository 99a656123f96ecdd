"""Fixtures shared by the app tests: one live sim server per test module (each module
sees only its own jobs) and quick polls, so a test waits for a poll in tenths of a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.live_server import LiveServer, make_server


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A ``fttui serve --executor sim`` for this test module."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    srv = make_server(tmp_path_factory.mktemp(f"{name}-server")).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll the job list, the selected job and its metrics every 0.3 s (1 s when idle)."""
    import fttui.tui.panes.jobs as jobs
    import fttui.tui.panes.metrics as metrics

    monkeypatch.setattr(jobs, "LIST_ACTIVE", 0.3)
    monkeypatch.setattr(jobs, "LIST_IDLE", 1.0)
    monkeypatch.setattr(jobs, "DETAIL_ACTIVE", 0.3)
    monkeypatch.setattr(metrics, "ACTIVE_INTERVAL", 0.3)
