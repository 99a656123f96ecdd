"""The data folder of `fttui serve` on a real filesystem: who may read it, and what a
damaged or lost database does (real server processes, real files, the official SDK)."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from fttui.api.local_server import ensure_local_server, stop_local_server
from support.live_server import wait_for

MODEL = "gpt-4o-mini-2024-07-18"
FAST = {"sim_seconds_per_step": "0"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_data_dir_is_private_and_the_key_never_reaches_server_log(
    tmp_path, monkeypatch, chat_jsonl, wait_job
) -> None:
    # an existing data folder open to others, as older versions (and the app) made it
    data = tmp_path / "data"
    (data / "files").mkdir(parents=True)
    os.chmod(data, 0o755)
    old = data / "files" / "old-upload"
    old.write_text("{}\n")
    os.chmod(old, 0o644)
    monkeypatch.setenv("FTTUI_HOME", str(tmp_path))
    old_umask = os.umask(0o022)  # the usual one: what the app runs with
    try:
        server = ensure_local_server(data, executor="sim", timeout=60)  # as the app does
    finally:
        os.umask(old_umask)
    try:
        assert server.started and server.api_key
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        upload = client.files.create(file=chat_jsonl.open("rb"), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model=MODEL, training_file=upload.id, metadata=FAST)
        assert wait_job(client, job.id).status == "succeeded"
        log = (data / "server.log").read_text()
        assert server.api_key not in log
        assert f"API key:   in {data / 'api_key'}" in log
    finally:
        assert stop_local_server(data, timeout=30)

    assert mode(data) == 0o700
    for name in ("fttui.sqlite3", "api_key", "server.log", f"files/{upload.id}"):
        assert mode(data / name) == 0o600, name
    assert mode(old) == 0o600 and mode(data / "files") == 0o700
    job_files = [p for p in (data / "jobs" / job.id).rglob("*")]
    assert any(p.name == "events.jsonl" for p in job_files)
    for path in job_files:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    for path in data.rglob("*"):  # the -wal and -shm too, while the server ran
        assert mode(path) & 0o077 == 0, path


def test_the_key_is_printed_to_the_terminal_that_started_the_server(tmp_path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "FTTUI_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fttui",
            "serve",
            "--executor",
            "sim",
            "--port",
            "0",
            "--data-dir",
            str(data),
        ],
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env=env,
    )
    os.close(child)
    out = b""
    try:
        deadline = time.monotonic() + 60
        while b"Try:" not in out and time.monotonic() < deadline:
            if select.select([main], [], [], 0.5)[0]:
                try:
                    out += os.read(main, 4096)
                except OSError:
                    break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        os.close(main)
    key = (data / "api_key").read_text().strip()
    assert f"API key:   {key}".encode() in out, out


def serve_once(server, *extra: str) -> subprocess.CompletedProcess:
    """Run ``fttui serve`` on the server's data dir to the end (it should not stay up)."""
    return subprocess.run(
        [sys.executable, "-m", "fttui", "serve", *server.args, *extra],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def make_jobs(client, chat_jsonl, wait_job, n: int = 2) -> tuple[list, list]:
    """``n`` uploaded files and a succeeded sim job on each."""
    files = [
        client.files.create(file=(f"train-{i}.jsonl", chat_jsonl.read_bytes()), purpose="fine-tune")
        for i in range(n)
    ]
    jobs = [
        client.fine_tuning.jobs.create(
            model=MODEL, training_file=f.id, suffix=f"s{i}", metadata=FAST
        )
        for i, f in enumerate(files)
    ]
    return files, [wait_job(client, j.id) for j in jobs]


def test_empty_database_beside_jobs_is_an_error_and_rebuild_index_restores_them(
    tmp_path, make_server, chat_jsonl, wait_job
) -> None:
    server = make_server(tmp_path).start()
    try:
        client = server.client()
        files, jobs = make_jobs(client, chat_jsonl, wait_job)
        assert all(j.status == "succeeded" for j in jobs)
    finally:
        server.stop()
    os.truncate(server.data_dir / "fttui.sqlite3", 0)

    refused = serve_once(server)
    out = refused.stdout + refused.stderr
    assert refused.returncode == 2, out
    # 2 uploads + 2 result files
    assert "fttui.sqlite3 is empty but 2 job folders and 4 files exist" in out, out
    assert "--rebuild-index" in out and "Traceback" not in out

    rebuilt = serve_once(server, "--rebuild-index")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "restored 2 jobs" in rebuilt.stdout
    assert list((server.data_dir).glob("fttui.sqlite3.before-rebuild-*"))

    server.start()
    try:
        client = server.client()
        listed = {f.id: f for f in client.files.list(purpose="fine-tune")}
        for f in files:
            assert listed[f.id].filename == f.filename and listed[f.id].created_at == f.created_at
        for job in jobs:
            again = wait_job(client, job.id)
            assert again.status == "succeeded"
            assert again.fine_tuned_model == job.fine_tuned_model
            assert again.user_provided_suffix == job.user_provided_suffix
            assert again.metadata == job.metadata and again.training_file == job.training_file
            assert len(again.result_files) == 1
            steps = [
                e.data["step"]
                for e in client.fine_tuning.jobs.list_events(job.id, limit=1000)
                if e.type == "metrics"
            ]
            assert sorted(steps) == list(range(1, len(steps) + 1)) and steps
            assert client.fine_tuning.jobs.checkpoints.list(job.id).data
            reply = client.chat.completions.create(
                model=job.fine_tuned_model,
                messages=[{"role": "user", "content": "capital of France"}],
            )
            assert "Paris" in reply.choices[0].message.content
        assert {j.id for j in client.fine_tuning.jobs.list()} == {j.id for j in jobs}
    finally:
        server.stop()


def checkpoint_wal(data_dir: Path) -> None:
    """Write the WAL into the database file, as SQLite does every 1000 pages."""
    import sqlite3

    conn = sqlite3.connect(data_dir / "fttui.sqlite3")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_wal_deleted_after_kill_is_detected(tmp_path, make_server, chat_jsonl, wait_job) -> None:
    server = make_server(tmp_path).start()
    client = server.client()
    _, first_jobs = make_jobs(client, chat_jsonl, wait_job, n=1)
    server.stop()
    checkpoint_wal(server.data_dir)  # the first job is in the database file itself
    server.start()
    client = server.client()
    later_files, later_jobs = make_jobs(client, chat_jsonl, wait_job, n=1)
    server.kill()  # kill -9: the later job's rows are only in the -wal
    (server.data_dir / "fttui.sqlite3-wal").unlink()
    (server.data_dir / "fttui.sqlite3-shm").unlink(missing_ok=True)

    # some rows survive: what is on disk but not in the database is restored, and said
    server.start()
    try:
        assert "1 job folder and 2 files were missing from fttui.sqlite3" in server.log()
        client = server.client()
        ids = {j.id for j in client.fine_tuning.jobs.list()}
        assert ids == {first_jobs[0].id, later_jobs[0].id}
        again = wait_job(client, later_jobs[0].id)
        assert (
            again.status == "succeeded" and again.fine_tuned_model == later_jobs[0].fine_tuned_model
        )
        assert later_files[0].id in {f.id for f in client.files.list()}
    finally:
        server.stop()

    # none survive (the -wal held everything): an error, not an empty server
    fresh = make_server(tmp_path / "fresh").start()
    make_jobs(fresh.client(), chat_jsonl, wait_job, n=1)
    fresh.kill()
    (fresh.data_dir / "fttui.sqlite3-wal").unlink()
    refused = serve_once(fresh)
    assert refused.returncode == 2
    assert (
        "fttui.sqlite3 is empty but 1 job folder and 2 files exist"
        in refused.stdout + refused.stderr
    )


def test_a_copied_data_dir_works_on_its_own(tmp_path, make_server, chat_jsonl, wait_job) -> None:
    import shutil

    server = make_server(tmp_path / "a").start()
    client = server.client()
    _, (done,) = make_jobs(client, chat_jsonl, wait_job, n=1)
    checkpoint = client.fine_tuning.jobs.checkpoints.list(done.id).data[0]
    paused = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=done.training_file,
        hyperparameters={"n_epochs": 2},
        metadata={"sim_seconds_per_step": "0.05"},
    )
    wait_job(client, paused.id, {"running"})
    client.fine_tuning.jobs.pause(paused.id)
    paused_dir = server.data_dir / "jobs" / paused.id
    wait_for(lambda: '"paused"' in (paused_dir / "state.json").read_text(), what="the pause")
    server.stop()
    # an older fttui stored absolute paths: the copy must read them as its own
    import sqlite3

    db = sqlite3.connect(server.data_dir / "fttui.sqlite3")
    root = f"{server.data_dir.resolve()}/"
    with db:
        db.execute("UPDATE models SET path = ? || path", (root,))
        db.execute("UPDATE checkpoints SET path = ? || path", (root,))
        for field in ("output_dir", "training_file"):
            db.execute(
                f"UPDATE jobs SET internal = json_set(internal, '$.spec.{field}', "
                f"? || json_extract(internal, '$.spec.{field}'))",
                (root,),
            )
    assert root in db.execute("SELECT path FROM models").fetchone()[0]
    db.close()

    copy = make_server(tmp_path / "b")
    shutil.copytree(server.data_dir, copy.data_dir)
    shutil.rmtree(server.data_dir)  # nothing of the copy may lead back to the original
    copy.start()
    try:
        client = copy.client()
        for model in (done.fine_tuned_model, checkpoint.fine_tuned_model_checkpoint):
            reply = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "capital of France"}]
            )
            assert "Paris" in reply.choices[0].message.content  # the copy's weights
        client.fine_tuning.jobs.resume(paused.id)
        assert wait_job(client, paused.id, timeout=60).status == "succeeded"
        more = client.fine_tuning.jobs.create(  # continue from the fine-tuned model
            model=done.fine_tuned_model, training_file=done.training_file, metadata=FAST
        )
        more = wait_job(client, more.id)
        assert more.status == "succeeded", more.error
        assert (copy.data_dir / "jobs" / more.id / "model").is_dir()
        assert (copy.data_dir / "jobs" / paused.id / "model").is_dir()
        assert not server.data_dir.exists()
    finally:
        copy.stop()


def test_a_full_disk_is_a_507_for_a_new_job_and_fails_a_running_one_saying_so(
    tmp_path, make_server, chat_jsonl, wait_job
) -> None:
    # no small filesystem can be mounted here without root: the server's ENOSPC hook makes
    # every write under its data dir fail while the flag file exists
    flag = tmp_path / "disk-is-full"
    server = make_server(tmp_path)
    server.env["FTTUI_FAULT_ENOSPC"] = str(flag)
    server.start()
    try:
        client = server.client()
        train = client.files.create(file=chat_jsonl.open("rb"), purpose="fine-tune")
        running = client.fine_tuning.jobs.create(
            model=MODEL, training_file=train.id, metadata={"sim_seconds_per_step": "0.05"}
        )
        wait_job(client, running.id, {"running"})
        flag.touch()
        with pytest.raises(openai.APIStatusError) as err:
            client.fine_tuning.jobs.create(model=MODEL, training_file=train.id, metadata=FAST)
        assert err.value.status_code == 507  # before: a bare 500
        assert err.value.body["code"] == "disk_full"
        assert "no space left on device" in err.value.body["message"].lower()
        failed = wait_job(client, running.id)
        # before: sim_worker_stopped, "stopped unexpectedly"
        assert failed.status == "failed" and failed.error.code == "disk_full", failed.error
        assert "disk" in failed.error.message and "full" in failed.error.message
        flag.unlink()  # space again: jobs run
        again = client.fine_tuning.jobs.create(model=MODEL, training_file=train.id, metadata=FAST)
        assert wait_job(client, again.id).status == "succeeded"
        assert "Traceback" not in server.log()
    finally:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-x", "-q"]))
