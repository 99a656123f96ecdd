"""Fixtures for the local server's tests: a response-shape checker built from OpenAI's own
OpenAPI files, a finished sim job on the shared server, and a job waiter."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.openapi import OpenAPIShapes, load_shapes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TERMINAL = {"succeeded", "failed", "cancelled"}
#: metadata that makes a sim job run fast
FAST = {"sim_seconds_per_step": "0.002"}


@pytest.fixture(scope="session")
def make_server() -> Callable[..., Any]:
    """The live-server factory of ``support.live_server`` (a fixture, so tests take it as an argument)."""
    from support.live_server import make_server as factory

    return factory


@pytest.fixture(scope="session")
def openapi() -> OpenAPIShapes:
    return load_shapes()


@pytest.fixture(scope="session")
def wait_job() -> Callable[..., Any]:
    """``wait_job(client, job_id, until=TERMINAL, timeout=30)`` → the job once its status
    is in ``until`` (polls the real API)."""

    def wait(
        client: Any,
        job_id: str,
        until: set[str] | None = None,
        timeout: float = 30,
        check: Callable[[Any], bool] | None = None,
    ) -> Any:
        until = until or TERMINAL
        deadline = time.monotonic() + timeout
        while True:
            job = client.fine_tuning.jobs.retrieve(job_id)
            if job.status in until and (check is None or check(job)):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {job.status}, waited for {until}")
            time.sleep(0.05)

    return wait


@pytest.fixture(scope="session")
def chat_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 20-example chat training file (the shared fixture when present)."""
    shared = FIXTURES / "chat_valid.jsonl"
    if shared.exists():
        return shared
    import json

    path = tmp_path_factory.mktemp("data") / "chat.jsonl"
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": f"What is {i} plus {i}?"},
                    {"role": "assistant", "content": f"{2 * i}."},
                ]
            }
        )
        for i in range(20)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def shared_client(shared_sim_server: Any) -> Any:
    return shared_sim_server.client()


@pytest.fixture(scope="session")
def train_file(shared_client: Any, chat_jsonl: Path) -> Any:
    """``chat_jsonl`` uploaded to the shared server."""
    with chat_jsonl.open("rb") as fh:
        return shared_client.files.create(file=fh, purpose="fine-tune")


@pytest.fixture(scope="session")
def finished_job(shared_client: Any, train_file: Any, wait_job: Callable[..., Any]) -> Any:
    """A sim job that succeeded on the shared server (suffix ``shared``)."""
    job = shared_client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=train_file.id, suffix="shared", metadata=FAST
    )
    job = wait_job(shared_client, job.id)
    assert job.status == "succeeded", job
    return job
