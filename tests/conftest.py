"""Shared fixtures: an isolated fttui home, and live ``fttui serve`` processes.

Tests talk to a real server process over loopback with the real ``openai`` SDK; nothing
here stands in for a component we ship. The harness itself lives in ``tests/support/live_server.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.live_server import FIXTURES, LiveServer, free_port, make_server

__all__ = ["FIXTURES", "LiveServer", "free_port", "make_server"]

#: Tests that need the machine alone, marked ``serial``: the README's command runs them after
#: the parallel (``pytest -n auto``) part, one at a time. Found by what they start: a Ray
#: cluster (one per session, so one per xdist worker, each taking every core), real
#: SmolLM2 training, a real terminal under tmux, a real browser (the last two wait on
#: what a screen shows, which a machine busy with other workers may not paint in time).
SERIAL = (
    "ray/",
    "trainer/test_trainer_smollm2.py",
    "tui/test_terminal_tmux.py",
    "tui/test_data_editor.py",  # its real-terminal test runs tmux
    "web/test_web_browser.py",
)
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            where = Path(item.path).relative_to(TESTS).as_posix()
        except ValueError:
            continue
        # A test that trains a pretrained model (slow) needs the cores alone too.
        if where.startswith(SERIAL) or item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test starts from an empty fttui home, so a developer's own config (its
    [prices], profiles or keymap) never changes what a test sees; ``fttui_home`` gives a
    test its own."""
    if "FTTUI_HOME" not in os.environ:  # one a developer set on purpose is kept
        monkeypatch.setenv("FTTUI_HOME", str(tmp_path_factory.getbasetemp() / "empty-home"))


@pytest.fixture(autouse=True)
def _collector_as_it_was() -> Iterator[None]:
    """The app sets the garbage collector's thresholds and freezes objects while it runs,
    and gives both back when it unmounts; an app a failed test left mounted must not leave
    the tests after it in the same worker without automatic older-generation passes."""
    import gc

    thresholds = gc.get_threshold()
    yield
    if gc.get_threshold() != thresholds:
        gc.set_threshold(*thresholds)
    if gc.get_freeze_count():
        gc.unfreeze()


@pytest.fixture
def fttui_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty fttui home (config, data, cache) for this test; no real user state leaks in."""
    home = tmp_path / "fttui-home"
    home.mkdir()
    monkeypatch.setenv("FTTUI_HOME", str(home))
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def sim_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh ``fttui serve --executor sim`` for one test."""
    server = make_server(tmp_path / "server-home").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shared_sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One ``fttui serve --executor sim`` shared by a whole test session (read-mostly tests)."""
    server = make_server(tmp_path_factory.mktemp("shared-server")).start()
    try:
        yield server
    finally:
        server.stop()
