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


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test starts from an empty fttui home, so a developer's own config (its
    [prices], profiles or keymap) never changes what a test sees; ``fttui_home`` gives a
    test its own."""
    if "FTTUI_HOME" not in os.environ:  # one a developer set on purpose is kept
        monkeypatch.setenv("FTTUI_HOME", str(tmp_path_factory.getbasetemp() / "empty-home"))


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
