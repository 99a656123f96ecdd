"""The live-server harness: start a real ``fttui serve`` on a random loopback port.

A plain module (not a conftest) so any test or conftest can ``from support.live_server import ...``:
pytest puts ``tests/`` on ``sys.path``, while several ``conftest`` modules would clash.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def free_port() -> int:
    """A loopback port nothing listens on. Under pytest-xdist each worker takes only ports
    of its own residue (port // 2 % workers == its number; halved because Linux hands
    ``bind`` odd ports only): the port is free when picked, not yet bound by the server it
    is for, and another worker must not pick it meanwhile."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    mine = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    for _ in range(64 * count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port // 2 % count == mine:
            return port
    raise RuntimeError(f"no free loopback port for xdist worker {worker}")


@dataclass
class LiveServer:
    """A running ``fttui serve`` subprocess."""

    base_url: str
    api_key: str
    data_dir: Path
    port: int
    args: list[str]
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs):
        """An ``openai.OpenAI`` client pointed at this server."""
        import openai

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 30)
        return openai.OpenAI(base_url=self.base_url, api_key=self.api_key, **kwargs)

    def raw(self):
        """An ``httpx2.Client`` with the key, for what the SDK cannot send (close it)."""
        import httpx2

        return httpx2.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=60,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def start(self, timeout: float = 60) -> LiveServer:
        assert self.log_path is not None
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fttui", "serve", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        # /health is never faulted (``--faults``), so readiness costs one probe, not retries.
        root = self.base_url.removesuffix("/v1")
        req = urllib.request.Request(f"{root}/health")
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"fttui serve exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"fttui serve did not answer in {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
        self.proc = None

    def kill(self) -> None:
        """kill -9, as a crash or the OOM killer would: nothing is saved on the way out."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()


def terminate(proc: subprocess.Popen, timeout: float = 15) -> int:
    """SIGTERM, as ctrl+c or a service manager would; kill -9 if it is not gone in
    ``timeout`` seconds. Returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def wait_for(condition, timeout: float = 30, what: str = "the condition") -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def checkpoint_scores(client, job) -> list:
    """The ``eval_grader`` metrics events of a finished job, once every checkpoint has one
    (the server scores checkpoints on the validation file after they are saved)."""
    steps = sorted(c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id))
    assert steps, "the job saved no checkpoint"

    def scored() -> list:
        events = list(client.fine_tuning.jobs.list_events(job.id, limit=1000))
        return [e for e in events if e.type == "metrics" and "eval_grader" in (e.data or {})]

    wait_for(lambda: len(scored()) >= len(steps), 60, "a score for every checkpoint")
    events = scored()
    assert sorted(e.data["step"] for e in events) == steps
    return events


def error_of(response, status: int, openapi) -> dict:
    """The ``error`` object of ``response``, asserted to be ``status`` in OpenAI's shape."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    openapi.check(body, "ErrorResponse")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return body["error"]


def expire_row(data_dir: Path, table: str, row_id: str) -> None:
    """Move the ``expires_at`` of a row of ``table`` (files, uploads) into the past, as an
    hour's wait would."""
    from fttui.server.store import Store

    store = Store(data_dir / "fttui.sqlite3")
    try:
        with store.tx() as conn:
            conn.execute(
                f"UPDATE {table} SET obj = json_set(obj, '$.expires_at', 1000) WHERE id = ?",
                (row_id,),
            )
    finally:
        store.close()


def make_server(
    home: Path, *extra: str, executor: str = "sim", token: str = "sk-test-key"
) -> LiveServer:
    """Build (not start) a server with its data under ``home``."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data_dir = home / "data"
    args = [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--executor",
        executor,
        "--token",
        token,
        *extra,
    ]
    env = {**os.environ, "FTTUI_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return LiveServer(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=token,
        data_dir=data_dir,
        port=port,
        args=args,
        log_path=home / "server.log",
        env=env,
    )
