"""Races between the job supervisor and API calls, made deterministic: the supervisor's
thread is not started, so each test decides exactly when a tick's decision is acted on."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from fttui.server.app import ServerConfig, build_services
from fttui.server.executors import get_executor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def services(tmp_path: Path):
    data = tmp_path / "data"
    executor = get_executor("sim", data_dir=data, base_models={})
    svc = build_services(ServerConfig(data_dir=data, api_key="k"), executor)
    yield svc
    svc.jobs.close()  # its thread never started: this stops the executor's runs


def queued_job(svc, tmp_path: Path, seconds_per_step: str = "0.01") -> str:
    """A job whose training file passed validation: the next tick would launch it."""
    src = tmp_path / "train.jsonl"
    shutil.copyfile(FIXTURES / "chat_valid.jsonl", src)
    with svc.store.tx() as conn:
        file_id = svc.files.add_copy(conn, src, "train.jsonl", "fine-tune")["id"]
    job = svc.jobs.create({"model": MODEL, "training_file": file_id,
                           "metadata": {"sim_seconds_per_step": seconds_per_step}})
    svc.jobs._validate(job["id"])
    assert svc.jobs.get(job["id"])["status"] == "queued"
    return job["id"]


def messages(svc, job_id: str) -> list[str]:
    page = json.loads(svc.jobs.events(job_id, after=None, limit=100).to_json())
    return [e["message"] for e in page["data"]]


def tick_until(svc, job_id: str, condition, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc.jobs.tick()
        job, internal = svc.jobs._load(job_id)
        if condition(job, internal):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached the state: {svc.jobs.get(job_id)}")


def test_a_job_cancelled_after_the_tick_chose_it_never_starts(services, tmp_path) -> None:
    job_id = queued_job(services, tmp_path)
    services.jobs.cancel(job_id)  # lands between a tick's snapshot and its _launch
    assert services.jobs._launch(job_id, resume=False) is False
    for _ in range(5):
        services.jobs.tick()
    assert services.jobs.get(job_id)["status"] == "cancelled"
    assert "Fine-tuning job started" not in messages(services, job_id)


def test_a_job_resumed_then_cancelled_before_it_restarts_stays_cancelled(
    services, tmp_path
) -> None:
    job_id = queued_job(services, tmp_path, seconds_per_step="0.05")
    assert services.jobs._launch(job_id, resume=False) is True
    services.jobs.pause(job_id)
    tick_until(services, job_id, lambda job, internal: not internal.get("active"))
    services.jobs.resume(job_id)
    services.jobs.cancel(job_id)  # before any tick relaunched it
    assert services.jobs._launch(job_id, resume=True) is False
    for _ in range(5):
        services.jobs.tick()
    job, internal = services.jobs._load(job_id)
    assert job["status"] == "cancelled" and not internal.get("active")
