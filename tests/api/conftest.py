"""Fixtures for the API/CLI tests (helpers live in ``tests/support/cli.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.cli import LiveServer, make_server


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A sim server of this module's own (its job counts are ours alone)."""
    server = make_server(tmp_path_factory.mktemp("api-server")).start()
    try:
        yield server
    finally:
        server.stop()
