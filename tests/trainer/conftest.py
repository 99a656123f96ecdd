"""Fixtures for the trainer tests: a tiny model built offline, and its training data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from tiny import build_tiny_model, color_examples, write_jsonl

from support.live_server import make_server


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide Llama with a BPE tokenizer, saved like any Hugging Face model."""
    corpus = [json.dumps(e) for e in color_examples()] * 4
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny", corpus)


@pytest.fixture
def color_files(tmp_path: Path) -> tuple[Path, Path]:
    """(training, validation) files whose answers a tiny model learns in seconds."""
    examples = color_examples(12)
    return (
        write_jsonl(tmp_path / "train.jsonl", examples),
        write_jsonl(tmp_path / "valid.jsonl", examples[:10]),
    )


@pytest.fixture(scope="module")
def torch_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """``fttui serve --executor torch`` with the tiny model registered as ``tiny``."""
    server = make_server(
        tmp_path_factory.mktemp("torch-server"),
        "--base-model",
        f"tiny={tiny_model}",
        executor="torch",
    ).start()
    try:
        yield server
    finally:
        server.stop()
