"""Fixtures for the ray executor: one real local Ray cluster per test session, a tiny model
built offline, and ``fttui serve --executor ray`` servers pointed at the cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("ray")

from support.live_server import make_server
from support.ray_cluster import start_cluster
from trainer.tiny import build_tiny_model, color_examples, write_jsonl


@pytest.fixture(scope="session")
def ray_cluster():
    """A head node on loopback with 4 logical CPUs (2 real cores: Ray only counts them)."""
    try:
        cluster = start_cluster(num_cpus=4)
    except RuntimeError:  # a head that timed out starting on a loaded machine: once more
        cluster = start_cluster(num_cpus=4)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def ray_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = [json.dumps(e) for e in color_examples()] * 4
    return build_tiny_model(tmp_path_factory.mktemp("ray-tiny") / "tiny", corpus)


@pytest.fixture
def color_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", color_examples(12))


@pytest.fixture
def ray_server(ray_cluster, ray_tiny_model: Path, tmp_path: Path):
    """``fttui serve --executor ray`` on the session's cluster, the tiny model as ``tiny``."""
    server = make_server(
        tmp_path / "srv",
        "--base-model",
        f"tiny={ray_tiny_model}",
        "--ray-address",
        ray_cluster.address,
        executor="ray",
    ).start()
    try:
        yield server
    finally:
        server.stop()
