"""Recovery details: the order of resume events, and uploads abandoned by their clients
(expired and swept at startup and by the supervisor, parts cut short by a kill removed)."""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import time
from pathlib import Path

import openai
import pytest

from fttui.server import files as files_module
from fttui.server.app import ServerConfig, build_services
from fttui.server.executors import get_executor
from fttui.server.store import Store
from support.live_server import expire_row

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = "gpt-4o-mini-2024-07-18"


def make_services(data: Path):
    return build_services(
        ServerConfig(data_dir=data, api_key="k"),
        get_executor("sim", data_dir=data, base_models={}),
    )


@pytest.fixture
def services(tmp_path: Path):
    svc = make_services(tmp_path / "data")
    yield svc
    svc.jobs.close()  # its thread never started: this stops the executor's runs


def messages(svc, job_id: str) -> list[str]:
    """The job's event messages, oldest first."""
    page = json.loads(svc.jobs.events(job_id, after=None, limit=100).to_json())
    return [e["message"] for e in reversed(page["data"])]


def tick_until(svc, job_id: str, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc.jobs.supervisor.tick()
        if condition(*svc.jobs.records.load(job_id), messages(svc, job_id)):
            return
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never got there: {messages(svc, job_id)}")


def running_sim_job(svc, tmp_path: Path) -> str:
    """A sim job on the valid chat fixture, launched (0.05 s a step)."""
    src = tmp_path / "train.jsonl"
    shutil.copyfile(FIXTURES / "chat_valid.jsonl", src)
    with svc.store.tx() as conn:
        file_id = svc.files.add_copy(conn, src, "train.jsonl", "fine-tune")["id"]
    job_id = svc.jobs.create(
        {"model": MODEL, "training_file": file_id, "metadata": {"sim_seconds_per_step": "0.05"}}
    )["id"]
    svc.jobs.supervisor.validation.validate(job_id)
    assert svc.jobs.supervisor._launch(job_id, resume=False) is True
    return job_id


def test_resumed_is_announced_after_the_trainer_has_paused(services, tmp_path) -> None:
    job_id = running_sim_job(services, tmp_path)
    services.jobs.pause(job_id)
    services.jobs.resume(job_id)  # while the trainer is still pausing
    tick_until(
        services,
        job_id,
        lambda job, internal, said: (
            internal.get("active") and any(m.startswith("Resuming the simulation") for m in said)
        ),
    )
    said = messages(services, job_id)

    def at(prefix: str) -> int:
        return next(i for i, m in enumerate(said) if m.startswith(prefix))

    assert (
        at("Fine-tuning job paused")
        < at("Simulated training paused after step")
        < at("Fine-tuning job resumed")
        < at("Resuming the simulation")
    ), said
    assert said.count("Fine-tuning job resumed") == 1


# -- abandoned uploads --------------------------------------------------------------------


def expire(data_dir: Path, upload_id: str) -> None:
    expire_row(data_dir, "uploads", upload_id)


def rows(data_dir: Path, upload_id: str) -> tuple[str, int]:
    """(status, number of part rows) of an upload, read from the store."""
    store = Store(data_dir / "fttui.sqlite3")
    try:
        status = store.one("SELECT status FROM uploads WHERE id = ?", (upload_id,))[0]
        parts = store.one("SELECT count(*) FROM upload_parts WHERE upload_id = ?", (upload_id,))[0]
        return status, parts
    finally:
        store.close()


def start_part_and_hang(server, upload_id: str) -> http.client.HTTPConnection:
    """Send the start of a 2 MB part and no more: the server streams it to disk."""
    boundary = "fttuiboundary0123456789"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="blob"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", f"/v1/uploads/{upload_id}/parts")
    conn.putheader("Authorization", f"Bearer {server.api_key}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + 2_000_000))
    conn.endheaders()
    conn.send(head + b"a" * 100_000)
    return conn


def test_abandoned_uploads_are_swept_at_restart(tmp_path, make_server) -> None:
    server = make_server(tmp_path).start()
    uploads = server.data_dir / "uploads"
    try:
        client = server.client()
        # a client that died after one part: its upload expires, nobody asks again
        gone = client.uploads.create(
            bytes=10, filename="a.jsonl", mime_type="text/jsonl", purpose="fine-tune"
        )
        client.uploads.parts.create(gone.id, data=b"12345")
        assert any((uploads / gone.id).iterdir())
        # a live upload whose second part the server was killed (-9) in the middle of
        live = client.uploads.create(  # room for the 2 MB part: no part may overfill it
            bytes=2_000_005, filename="b.jsonl", mime_type="text/jsonl", purpose="fine-tune"
        )
        kept = client.uploads.parts.create(live.id, data=b"12345")
        conn = start_part_and_hang(server, live.id)
        deadline = time.monotonic() + 30
        while len(list((uploads / live.id).iterdir())) < 2:
            assert time.monotonic() < deadline, "the cut-short part never reached the disk"
            time.sleep(0.02)
        server.kill()
        conn.close()
        server.proc = None
        expire(server.data_dir, gone.id)

        server.start()
        assert not (uploads / gone.id).exists()
        assert rows(server.data_dir, gone.id) == ("expired", 0)
        for call in (
            lambda: client.uploads.parts.create(gone.id, data=b"67890"),
            lambda: client.uploads.complete(gone.id, part_ids=[]),
        ):
            with pytest.raises(openai.BadRequestError) as err:
                call()
            assert err.value.code == "upload_not_pending" and "expired" in err.value.message
        assert not (uploads / gone.id).exists()

        assert [p.name for p in (uploads / live.id).iterdir()] == [kept.id]
        rest = client.uploads.parts.create(live.id, data=b"6" * 2_000_000)
        done = client.uploads.complete(live.id, part_ids=[kept.id, rest.id])
        assert done.status == "completed"
        assert client.files.content(done.file.id).read() == b"12345" + b"6" * 2_000_000
        assert not (uploads / live.id).exists()
    finally:
        server.stop()


def add_part(svc, upload_id: str, data: bytes) -> dict:
    """POST /v1/uploads/{id}/parts as the app hands it to the file service."""
    from starlette.requests import Request

    boundary = "fttuiboundary0123456789"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="blob"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/v1/uploads/{upload_id}/parts",
        "headers": [
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    return asyncio.run(svc.files.add_part(upload_id, Request(scope, receive)))


def test_the_supervisor_expires_abandoned_uploads(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(files_module, "UPLOAD_SWEEP_INTERVAL", 0.0)  # every tick
    data = tmp_path / "data"
    svc = make_services(data)
    try:
        upload = svc.files.create_upload(
            {"bytes": 10, "filename": "a.jsonl", "mime_type": "text/jsonl", "purpose": "fine-tune"}
        )
        add_part(svc, upload["id"], b"12345")
        svc.jobs.supervisor.tick()
        assert rows(data, upload["id"]) == ("pending", 1)  # not expired yet: kept
        expire(data, upload["id"])
        svc.jobs.supervisor.tick()
        assert rows(data, upload["id"]) == ("expired", 0)
        assert not (data / "uploads" / upload["id"]).exists()
    finally:
        svc.jobs.close()


def test_a_shutdown_cut_short_after_the_pause_resumes_the_job(tmp_path) -> None:
    """A stop pauses the trainer, then marks the job running again so the restart resumes
    it. Cut short in between (a second Ctrl-C, docker stop's 10 s), the job came back
    "paused" though nobody paused it, with no event saying why."""
    from fttui.server.jobfolder import JobState

    data = tmp_path / "data"
    svc = make_services(data)
    job_id = running_sim_job(svc, tmp_path)
    tick_until(
        svc,
        job_id,
        lambda job, internal, said: any(m.startswith("Checkpoint created") for m in said),
    )
    svc.jobs.close()  # the server stops ...
    job_dir = svc.jobs.job_dir(job_id)
    state = JobState.read(job_dir)
    state.status = "paused"  # ... its trainer paused, and then the stop was cut short
    state.write(job_dir)

    again = make_services(data)
    try:
        again.jobs.supervisor.recover()
        job, internal = again.jobs.records.load(job_id)
        assert job["status"] == "running" and internal.get("pending") == "resume"
        assert any("resuming" in m for m in messages(again, job_id))
    finally:
        again.jobs.close()
