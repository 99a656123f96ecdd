"""Running `fttui serve`: auth, keys and server.json, restart survival, --faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from fttui.server.executors import ExecutorUnavailable, get_executor
from fttui.server.faults import parse_faults

MODEL = "gpt-4o-mini-2024-07-18"


def _serve(*args: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "FTTUI_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "fttui", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_file(path: Path, proc: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read())
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_auth_is_required(shared_sim_server):
    import httpx2

    for key in ("", "sk-wrong"):
        client = openai.OpenAI(
            base_url=shared_sim_server.base_url,
            api_key=key or "x",
            max_retries=0,
            default_headers={} if key else {"Authorization": ""},
        )
        with pytest.raises(openai.AuthenticationError) as err:
            client.models.list()
        assert err.value.status_code == 401
        assert err.value.body["code"] in ("invalid_api_key", "missing_api_key")
    bare = httpx2.get(f"{shared_sim_server.base_url}/models")
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "missing_api_key"
    health = httpx2.get(shared_sim_server.base_url.removesuffix("/v1") + "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    unknown = httpx2.get(
        f"{shared_sim_server.base_url}/nothing",
        headers={"Authorization": f"Bearer {shared_sim_server.api_key}"},
    )
    assert unknown.status_code == 404 and "error" in unknown.json()


def test_generated_key_server_json_and_port_zero(tmp_path):
    data = tmp_path / "data"
    proc = _serve(
        "--executor",
        "sim",
        "--port",
        "0",
        "--data-dir",
        str(data),
        "--base-model",
        f"my-local={tmp_path}",
        "--base-model",
        "hub-model=HuggingFaceTB/SmolLM2-360M-Instruct",  # a Hub id, not a local path
        home=tmp_path,
    )
    try:
        info = _wait_file(data / "server.json", proc)
        assert info["executor"] == "sim" and info["pid"] == proc.pid
        assert info["base_url"].startswith("http://127.0.0.1:") and not info["base_url"].endswith(
            ":0/v1"
        )
        key = (data / "api_key").read_text().strip()
        for name in ("api_key", "server.json"):
            assert (data / name).stat().st_mode & 0o777 == 0o600
        client = openai.OpenAI(base_url=info["base_url"], api_key=key, max_retries=0)
        _wait_ready(client)
        models = {m.id: m.owned_by for m in client.models.list()}
        assert models["my-local"] == models["babbage-002"] == "fttui-sim"  # --base-model
        assert "hub-model" in models

        # a second server on the same data folder is refused
        other = _serve("--executor", "sim", "--port", "0", "--data-dir", str(data), home=tmp_path)
        assert other.wait(timeout=30) == 2
        assert "already using" in other.stdout.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0
    # a pipe is no terminal: the key stays out of the output (see test_serve_storage)
    assert key not in out and f"API key:   in {data / 'api_key'}" in out and info["base_url"] in out
    assert not (data / "server.json").exists()

    again = _serve("--executor", "sim", "--port", "0", "--data-dir", str(data), home=tmp_path)
    try:
        _wait_file(data / "server.json", again)
        assert (data / "api_key").read_text().strip() == key  # reused
    finally:
        # a closed terminal or SSH session (SIGHUP) stops it as cleanly as SIGTERM
        again.send_signal(signal.SIGHUP)
        out = again.communicate(timeout=30)[0]
    assert again.returncode == 0 and "Traceback" not in out
    assert not (data / "server.json").exists()


@pytest.mark.parametrize("when", ["server.json appears", "start-up is said"])
def test_a_signal_the_moment_the_server_starts_stops_it_cleanly(tmp_path, when):
    # server.json says "serving": a client may signal us as soon as it appears. Written
    # before the event loop ran, a signal then could land while asyncio built its loop:
    # exit 0, but a traceback from the half-built loop (1 start in 10 here; CI, stop 21).
    # A terminal closed while the server starts (after its "Try:" line) is the same.
    for i, sig in enumerate([signal.SIGHUP, signal.SIGTERM] * 4):
        data = tmp_path / f"data{i}"
        proc = _serve("--executor", "sim", "--port", "0", "--data-dir", str(data), home=tmp_path)
        said: list[str] = []
        try:
            if when == "server.json appears":
                deadline = time.monotonic() + 30
                while not (data / "server.json").exists():
                    assert proc.poll() is None and time.monotonic() < deadline, "never served"
                    time.sleep(0.001)
            else:
                while not (line := proc.stdout.readline()).startswith("Try:"):
                    assert line, "the server ended before it said how to try it"
                    said.append(line)
        finally:
            proc.send_signal(sig)
            out = "".join(said) + proc.communicate(timeout=30)[0]
        assert proc.returncode == 0 and "Traceback" not in out, out
        assert not (data / "server.json").exists()


def _wait_ready(client: openai.OpenAI) -> None:
    for _ in range(100):
        try:
            client.models.list()
            return
        except openai.APIConnectionError:
            time.sleep(0.1)


def test_refuses_public_address_without_token(tmp_path):
    proc = _serve(
        "--host", "0.0.0.0", "--executor", "sim", "--data-dir", str(tmp_path / "d"), home=tmp_path
    )
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 2 and "--token" in out


def test_bad_cli_values(tmp_path):
    for args in (["--faults", "500=2"], ["--faults", "boom=0.1"], ["--base-model", "nopath"]):
        proc = _serve(*args, "--executor", "sim", "--data-dir", str(tmp_path), home=tmp_path)
        assert proc.communicate(timeout=30)[0].startswith("fttui: ")
        assert proc.returncode == 2


def test_unusable_data_folder_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("x")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "fttui.sqlite3").write_bytes(b"not a database, not at all" * 10)
    for folder, reason in (
        (tmp_path / "a-file" / "data", "Not a directory"),
        (damaged, "fttui.sqlite3: file is not a database"),
    ):
        proc = _serve("--executor", "sim", "--port", "0", "--data-dir", str(folder), home=tmp_path)
        out = proc.communicate(timeout=30)[0]
        assert proc.returncode == 2, out
        assert out.splitlines() == [
            f"fttui: cannot use the data folder {folder}: "
            + (f"{folder}/" if "sqlite3" in reason else "")
            + reason
        ]


def test_get_executor(tmp_path):
    assert get_executor("sim", data_dir=tmp_path, base_models={"mine": "/x"}).name == "sim"
    with pytest.raises(ExecutorUnavailable):
        get_executor("quantum", data_dir=tmp_path, base_models={})
    assert parse_faults("500=0.3, 429=0.2,drop=0") == {"500": 0.3, "429": 0.2, "drop": 0.0}


def _metric_steps(client, job_id):
    return [
        e.data["step"]
        for e in client.fine_tuning.jobs.list_events(job_id, limit=1000)
        if e.type == "metrics"
    ]


def test_restart_keeps_everything(tmp_path, make_server, chat_jsonl, wait_job):
    server = make_server(tmp_path).start()
    try:
        client = server.client()
        train = client.files.create(file=chat_jsonl.open("rb"), purpose="fine-tune")
        done = client.fine_tuning.jobs.create(
            model=MODEL, training_file=train.id, metadata={"sim_seconds_per_step": "0"}
        )
        done = wait_job(client, done.id)
        # one job past its first checkpoint, one before any
        resumable = client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=train.id,
            hyperparameters={"n_epochs": 3},
            metadata={"sim_seconds_per_step": "0.04"},
        )
        doomed = client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=train.id,
            hyperparameters={"n_epochs": 1},
            metadata={"sim_seconds_per_step": "0.5"},
        )
        deadline = time.monotonic() + 30
        while not client.fine_tuning.jobs.checkpoints.list(resumable.id).data:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        wait_job(client, doomed.id, {"running"})
        before = {
            "files": [f.id for f in client.files.list()],
            "events": [e.id for e in client.fine_tuning.jobs.list_events(done.id, limit=1000)],
            "checkpoints": [c.id for c in client.fine_tuning.jobs.checkpoints.list(done.id)],
            "models": [m.id for m in client.models.list()],
        }

        server.kill()  # a crash: nothing is saved on the way out
        half_written = server.data_dir / "files" / ".file-cutshort.partial"
        half_written.write_bytes(b"an upload the crash cut short")
        server.start()
        assert not half_written.exists()
        client = server.client()
        assert [f.id for f in client.files.list()] == before["files"]
        assert [e.id for e in client.fine_tuning.jobs.list_events(done.id, limit=1000)] == before[
            "events"
        ]
        assert [c.id for c in client.fine_tuning.jobs.checkpoints.list(done.id)] == before[
            "checkpoints"
        ]
        assert [m.id for m in client.models.list()] == before["models"]
        assert client.fine_tuning.jobs.retrieve(done.id) == done
        assert (
            "Paris"
            in client.chat.completions.create(
                model=done.fine_tuned_model,
                messages=[{"role": "user", "content": "capital of France"}],
            )
            .choices[0]
            .message.content
        )

        failed = wait_job(client, doomed.id)
        assert failed.status == "failed" and failed.error.code == "server_restarted"
        assert "first checkpoint" in failed.error.message
        resumed = wait_job(client, resumable.id, timeout=60)
        assert resumed.status == "succeeded"
        messages = [e.message for e in client.fine_tuning.jobs.list_events(resumable.id, limit=500)]
        assert any("resuming from the checkpoint at step 20" in m for m in messages)

        # a clean stop saves the running job's step: it resumes exactly there
        graceful = client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=train.id,
            hyperparameters={"n_epochs": 2},
            metadata={"sim_seconds_per_step": "0.05"},
        )
        wait_job(client, graceful.id, {"running"})
        deadline = time.monotonic() + 30
        while len(_metric_steps(client, graceful.id)) < 5:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.05)
        server.restart()
        client = server.client()
        finished = wait_job(client, graceful.id, timeout=60)
        assert finished.status == "succeeded"
        assert sorted(_metric_steps(client, graceful.id)) == list(range(1, 41))
        messages = [e.message for e in client.fine_tuning.jobs.list_events(graceful.id, limit=500)]
        assert any("resuming where it stopped" in m for m in messages)
    finally:
        server.stop()


def test_faults(tmp_path, make_server):
    import httpx2

    server = make_server(
        tmp_path, "--faults", "500=0.2,429=0.2,drop=0.2,slow=0.1", "--faults-seed", "7"
    ).start()  # its readiness probe retries faults
    try:
        health = server.base_url.removesuffix("/v1") + "/health"
        assert all(httpx2.get(health).status_code == 200 for _ in range(30))  # never faulted
        client = server.client(timeout=10)

        def call(_):
            start = time.monotonic()
            try:
                client.models.list()
                return "ok", time.monotonic() - start, None
            except openai.RateLimitError as exc:
                return "429", 0, exc.response.headers.get("retry-after")
            except openai.InternalServerError as exc:
                return str(exc.status_code), 0, exc.body
            except openai.APIConnectionError:
                return "drop", 0, None

        # 100 draws: how many the readiness probe took varies with load, so the test must
        # not hang on one seed's sequence (no slow one among 60 draws: 0.2%; among 100: 3e-5)
        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(call, range(100)))
        kinds = [r[0] for r in results]
        assert {"ok", "429", "500", "drop"} <= set(kinds), kinds
        assert all(r[2] == "1" for r in results if r[0] == "429")
        assert all(r[2]["code"] == "injected_fault" for r in results if r[0] == "500")
        assert 0.2 < kinds.count("ok") / len(kinds) < 0.8
        assert any(r[1] >= 1.9 for r in results if r[0] == "ok")  # the slow ones
        assert server.proc.poll() is None
    finally:
        server.stop()


def test_torch_missing_says_what_to_do(tmp_path):
    code = (
        "import sys; sys.modules['peft'] = None; from fttui.cli import main; "
        f"sys.exit(main(['serve', '--executor', 'torch', '--data-dir', {str(tmp_path)!r}]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FTTUI_HOME": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "fttui: the torch executor needs peft: pip install 'fttui[local]', or run with "
        "--executor sim"
    ]
    auto = (
        "import sys; sys.modules['peft'] = None; from fttui.server.executors import "
        "resolve_name; print(resolve_name('auto'))"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", auto], capture_output=True, text=True, timeout=60
        ).stdout.strip()
        == "sim"
    )
