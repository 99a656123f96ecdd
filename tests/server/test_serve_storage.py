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

from fttui.api.providers import ensure_local_server, stop_local_server

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-x", "-q"]))
