"""Helpers for the API/CLI tests (``from support.cli import ...``)."""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.live_server import FIXTURES, LiveServer, make_server

__all__ = ["FIXTURES", "LiveServer", "make_server"]

CHAT = FIXTURES / "chat_valid.jsonl"
CHAT_ERRORS = FIXTURES / "chat_errors.jsonl"
SUPERHERO = FIXTURES / "superhero.csv"
FAST = ["--metadata", "sim_seconds_per_step=0.005"]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    argv: list[str],
    server: LiveServer | None = None,
    *,
    stdin: str | None = None,
    capsys: pytest.CaptureFixture | None = None,
    monkeypatch=None,
) -> Result:
    """``fttui ARGV`` in this process (provider options for ``server`` prepended)."""
    from fttui.cli import main

    full = list(argv)
    if server is not None:
        full = ["--base-url", server.base_url, "--api-key", server.api_key, *full]
    old_in = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        if capsys is not None:
            capsys.readouterr()
        code = main(full)
        if capsys is not None:
            cap = capsys.readouterr()
            return Result(code, cap.out, cap.err)
        return Result(code, "", "")
    finally:
        sys.stdin = old_in


def wait_job(
    client, job_id: str, *, timeout: float = 60.0, until=("succeeded", "failed", "cancelled")
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")


def upload(client, path: Path = CHAT) -> str:
    with path.open("rb") as fh:
        f = client.files.create(file=(path.name, fh), purpose="fine-tune")
    deadline = time.monotonic() + 30
    while f.status != "processed" and time.monotonic() < deadline:
        time.sleep(0.05)
        f = client.files.retrieve(f.id)
    return f.id


def start_job(
    client, file_id: str, *, model: str = "gpt-4o-mini-2024-07-18", epochs: int = 1, **metadata: str
):
    meta = {"sim_seconds_per_step": "0.005", **metadata}
    return client.fine_tuning.jobs.create(
        model=model, training_file=file_id, hyperparameters={"n_epochs": epochs}, metadata=meta
    )
