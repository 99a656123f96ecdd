"""A live ``fttui serve --executor sim`` for the evaluation tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.live_server import LiveServer, make_server


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = make_server(tmp_path_factory.mktemp("eval-server")).start()
    try:
        yield server
    finally:
        server.stop()
