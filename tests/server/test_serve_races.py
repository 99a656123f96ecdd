"""Races between the job supervisor and API calls, made deterministic: the supervisor's
thread is not started, so each test decides exactly when a tick's decision is acted on."""

from __future__ import annotations

import json
import shutil
import threading
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
    job = svc.jobs.create(
        {
            "model": MODEL,
            "training_file": file_id,
            "metadata": {"sim_seconds_per_step": seconds_per_step},
        }
    )
    svc.jobs.supervisor.validation.validate(job["id"])
    assert svc.jobs.get(job["id"])["status"] == "queued"
    return job["id"]


def messages(svc, job_id: str) -> list[str]:
    page = json.loads(svc.jobs.events(job_id, after=None, limit=100).to_json())
    return [e["message"] for e in page["data"]]


@pytest.fixture
def hold(monkeypatch):
    """``hold(method, when)``: the sim trainer stops before ``_SimRun.method`` runs with
    arguments that ``when`` accepts, until the test releases it. Returns (reached, release)."""
    from fttui.server.executors import sim

    releases: list[threading.Event] = []

    def install(method: str, when) -> tuple[threading.Event, threading.Event]:
        reached, release = threading.Event(), threading.Event()
        releases.append(release)
        original = getattr(sim._SimRun, method)

        def held(run, *args, **kwargs):
            if when(*args):
                reached.set()
                assert release.wait(30)
            return original(run, *args, **kwargs)

        monkeypatch.setattr(sim._SimRun, method, held)
        return reached, release

    yield install
    for release in releases:  # never leave a trainer thread waiting after a failure
        release.set()


def tick_until(svc, job_id: str, condition, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc.jobs.supervisor.tick()
        job, internal = svc.jobs.records.load(job_id)
        if condition(job, internal):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached the state: {svc.jobs.get(job_id)}")


def test_a_job_cancelled_after_the_tick_chose_it_never_starts(services, tmp_path) -> None:
    job_id = queued_job(services, tmp_path)
    services.jobs.cancel(job_id)  # lands between a tick's snapshot and its _launch
    assert services.jobs.supervisor._launch(job_id, resume=False) is False
    for _ in range(5):
        services.jobs.supervisor.tick()
    assert services.jobs.get(job_id)["status"] == "cancelled"
    assert "Fine-tuning job started" not in messages(services, job_id)


def test_a_job_resumed_then_cancelled_before_it_restarts_stays_cancelled(
    services, tmp_path
) -> None:
    job_id = queued_job(services, tmp_path, seconds_per_step="0.05")
    assert services.jobs.supervisor._launch(job_id, resume=False) is True
    services.jobs.pause(job_id)
    tick_until(services, job_id, lambda job, internal: not internal.get("active"))
    services.jobs.resume(job_id)
    services.jobs.cancel(job_id)  # before any tick relaunched it
    assert services.jobs.supervisor._launch(job_id, resume=True) is False
    for _ in range(5):
        services.jobs.supervisor.tick()
    job, internal = services.jobs.records.load(job_id)
    assert job["status"] == "cancelled" and not internal.get("active")


def test_a_resumed_job_waits_for_a_free_slot(services, tmp_path) -> None:
    """Resuming must respect ``max_concurrent_jobs`` like a first start does: with one
    slot, a job resumed while another took its place waits until that one ends."""
    services.jobs.executor.max_concurrent_jobs = 1  # the torch executor's limit
    first = queued_job(services, tmp_path, seconds_per_step="0.05")
    second = queued_job(services, tmp_path, seconds_per_step="0.05")
    services.jobs.supervisor.tick()
    assert (
        services.jobs.records.load(first)[1]["active"]
        and not services.jobs.records.load(second)[1]["active"]
    )
    services.jobs.pause(first)
    tick_until(services, first, lambda job, internal: not internal.get("active"))
    services.jobs.supervisor.tick()  # the freed slot goes to the queued job
    assert services.jobs.records.load(second)[1]["active"]
    services.jobs.resume(first)
    services.jobs.supervisor.tick()
    active = [j for j in (first, second) if services.jobs.records.load(j)[1]["active"]]
    assert active == [second]
    services.jobs.cancel(second)
    tick_until(services, first, lambda job, internal: internal.get("active"))


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_the_trainers_last_event_is_kept_when_it_stops(services, tmp_path, hold, action) -> None:
    """The supervisor stops reading a job's events once its state says it stopped, so the
    run's last event must be written before that state: a tick between the two writes
    must not lose it."""
    last = ("Simulated training cancelled", "Simulated training paused")
    reached, release = hold("event", lambda message: message.startswith(last))
    job_id = queued_job(services, tmp_path, seconds_per_step="0.05")
    assert services.jobs.supervisor._launch(job_id, resume=False) is True
    getattr(services.jobs, action)(job_id)
    assert reached.wait(30)
    services.jobs.supervisor.tick()  # the supervisor looks while the trainer is between its writes
    release.set()
    services.jobs.executor._runs[job_id].join(30)
    tick_until(services, job_id, lambda job, internal: not internal.get("active"))
    for _ in range(3):
        services.jobs.supervisor.tick()
    trainer_said = [m for m in messages(services, job_id) if m.startswith("Simulated training")]
    assert any(m.startswith(f"Simulated training {action}") for m in trainer_said), trainer_said


def test_a_checkpoint_rotated_away_before_the_next_tick_is_not_answered(
    services, tmp_path, hold
) -> None:
    """The trainer deletes the oldest checkpoint folder when it writes a fourth; the
    server drops that checkpoint at its next tick. A request in between must get the
    torch executor's clear "weights are gone", not an answer from an untrained model."""
    from fttui.server.executors.base import ExecutorError, GenerationRequest

    # the fourth epoch checkpoint: step 20's folder goes right after it is saved
    reached, release = hold("save_adapter", lambda folder, step, *_: step == 80)
    job_id = queued_job(services, tmp_path, seconds_per_step="0")
    assert services.jobs.supervisor._launch(job_id, resume=False) is True
    assert reached.wait(30)
    services.jobs.supervisor.tick()  # the server lists steps 20, 40 and 60
    release.set()
    services.jobs.executor._runs[job_id].join(30)  # the trainer rotates step 20 away
    oldest = services.store.one(
        "SELECT model FROM checkpoints WHERE job_id = ? AND step = 20", (job_id,)
    )[0]
    resolved = services.models.resolve(oldest)
    assert not Path(resolved.adapter_path).exists()
    request = GenerationRequest(
        model=oldest,
        base_model=resolved.base_model,
        adapter_path=resolved.adapter_path,
        messages=[{"role": "user", "content": "hello"}],
    )
    with pytest.raises(ExecutorError) as err:
        list(services.executor.generate(request).deltas)
    assert err.value.code == "model_not_found"


def test_a_job_no_tick_can_start_is_failed_with_the_reason(services, tmp_path, monkeypatch):
    """Its folder cannot be made (here a file sits where it goes; a full disk does the
    same): every tick failed, the job stayed queued for ever and the reason only reached
    the server's console. After a while it is failed, and the job says why."""
    from fttui.server import supervisor as supervisor_mod

    monkeypatch.setattr(supervisor_mod, "STUCK_JOB_SECONDS", 0.0)
    job_id = queued_job(services, tmp_path)
    _job, internal = services.jobs.records.load(job_id)
    # Stored relative to the data dir (so a moved data dir keeps working).
    folder = services.jobs.data_dir / internal["spec"]["output_dir"]
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_text("not a folder")
    for _ in range(supervisor_mod.STUCK_JOB_TRIES - 1):
        services.jobs.supervisor.tick()
        assert services.jobs.get(job_id)["status"] == "queued"  # a passing hiccup is retried
    services.jobs.supervisor.tick()
    job = services.jobs.get(job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "server_error"
    assert "could not run this job" in job["error"]["message"]
    assert any("could not run this job" in m for m in messages(services, job_id))
