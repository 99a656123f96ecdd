"""Fixtures for the trainer tests: a tiny model built offline, and its training data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from tiny import build_tiny_model, color_examples, write_jsonl  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide Llama with a BPE tokenizer, saved like any Hugging Face model."""
    corpus = [json.dumps(e) for e in color_examples()] * 4
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny", corpus)


@pytest.fixture
def color_files(tmp_path: Path) -> tuple[Path, Path]:
    """(training, validation) files whose answers a tiny model learns in seconds."""
    examples = color_examples(12)
    return (write_jsonl(tmp_path / "train.jsonl", examples),
            write_jsonl(tmp_path / "valid.jsonl", examples[:10]))


def _root_conftest():
    """tests/conftest.py, loaded by path: ``import conftest`` would find this file instead."""
    spec = importlib.util.spec_from_file_location(
        "fttui_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


make_server = _root_conftest().make_server


@pytest.fixture(scope="module")
def torch_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """``fttui serve --executor torch`` with the tiny model registered as ``tiny``."""
    server = make_server(tmp_path_factory.mktemp("torch-server"), "--base-model",
                         f"tiny={tiny_model}", executor="torch").start()
    try:
        yield server
    finally:
        server.stop()
