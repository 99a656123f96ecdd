"""Scale (a 1,000-job account, a 10,000-event job), faults (retries, clear errors, no lost
output) and the on-demand local server — all against live ``fttui serve`` processes."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import openai
import pytest

from fttui.api.jobs import iter_jobs
from support.cli import CHAT, make_server, run_cli, start_job, upload, wait_job


@pytest.fixture(autouse=True)
def _home(fttui_home):
    return fttui_home


def counting_client(server, counter: dict) -> openai.OpenAI:
    def hook(request: httpx2.Request) -> None:
        counter[request.url.path] = counter.get(request.url.path, 0) + 1

    return openai.OpenAI(
        base_url=server.base_url,
        api_key=server.api_key,
        max_retries=0,
        http_client=httpx2.Client(event_hooks={"request": [hook]}),
    )


class LineSink:
    """A stdout that checks JSON event lines as they come and keeps nothing."""

    def __init__(self) -> None:
        self.count = 0
        self.last: tuple[int, str] | None = None
        self.ids_in_order_ok = True
        self.metrics_steps: list[int] = []
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            if line.strip():
                ev = json.loads(line)
                key = (ev["created_at"], ev["id"])
                if self.last is not None and ev["created_at"] < self.last[0]:
                    self.ids_in_order_ok = False
                self.last = key
                if ev["type"] == "metrics":
                    step = ev["data"]["step"]
                    if self.metrics_steps and step != self.metrics_steps[-1] + 1:
                        self.ids_in_order_ok = False
                    self.metrics_steps.append(step)
                self.count += 1
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


# ----------------------------------------------------------------------------- scale


def test_thousand_jobs_list_in_one_paginated_pass(tmp_path, capsys):
    server = make_server(tmp_path / "big").start()
    try:
        client = server.client(max_retries=2)
        fid = upload(client)

        def create(i: int) -> str:
            return client.fine_tuning.jobs.create(
                model="gpt-4o-mini-2024-07-18",
                training_file=fid,
                hyperparameters={"n_epochs": 1},
                metadata={"sim_seconds_per_step": "0", "sim_fail_at_step": "1", "i": str(i)},
            ).id

        with ThreadPoolExecutor(8) as pool:
            created = set(pool.map(create, range(1000)))
        assert len(created) == 1000

        counter: dict = {}
        t0 = time.monotonic()
        ids = [j.id for j in iter_jobs(counting_client(server, counter))]
        elapsed = time.monotonic() - t0
        assert len(ids) == 1000 and set(ids) == created
        assert counter == {"/v1/fine_tuning/jobs": 10}  # 100 a page, each page asked once
        assert elapsed < 20

        r = run_cli(["jobs", "list", "--json"], server, capsys=capsys)
        listed = json.loads(r.out)
        assert len(listed) == 1000 and {j["id"] for j in listed} == created
        r = run_cli(["jobs", "list"], server, capsys=capsys)
        assert len(r.out.strip().splitlines()) == 1001
    finally:
        server.stop()


def _long_training_file(path, n: int = 200):
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "messages": [
                            {"role": "system", "content": "You count."},
                            {"role": "user", "content": f"What comes after {i}?"},
                            {"role": "assistant", "content": f"{i + 1}."},
                        ]
                    }
                )
                + "\n"
            )
    return path


def test_follow_a_10000_event_job_with_bounded_memory(tmp_path, monkeypatch):
    server = make_server(tmp_path / "long").start()
    try:
        client = server.client(max_retries=2)
        fid = upload(client, _long_training_file(tmp_path / "count.jsonl"))
        job = client.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18",
            training_file=fid,
            hyperparameters={"n_epochs": 50, "batch_size": 1},
            metadata={"sim_seconds_per_step": "0"},
        )
        sink = LineSink()
        monkeypatch.setattr(sys, "stdout", sink)
        tracemalloc.start()
        try:
            code = run_cli(
                ["jobs", "events", job.id, "--follow", "--json", "--interval", "0.2"], server
            )
            _, follow_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        monkeypatch.undo()
        assert code.code == 0
        assert sink.ids_in_order_ok
        assert sink.metrics_steps == list(range(1, 10_001))
        total = sum(1 for _ in client.fine_tuning.jobs.list_events(job.id, limit=100))
        assert sink.count == total > 10_000

        # For scale: what holding 1,000 of those events costs (x10 for all of them).
        page = client.fine_tuning.jobs.list_events(job.id, limit=100)
        tracemalloc.start()
        try:
            held = []
            for ev in page:
                held.append(ev)
                if len(held) == 1000:
                    break
            _, hold_1000 = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        del held
        assert follow_peak < hold_1000 * 10 / 3, (follow_peak, hold_1000)
    finally:
        server.stop()


# ----------------------------------------------------------------------------- faults

FAULTS = "500=0.2,429=0.15,drop=0.05,slow=0.01"


@pytest.fixture(scope="module")
def clean_then_faulty(tmp_path_factory):
    """Data made on a clean server; then the same data dir served with faults."""
    home = tmp_path_factory.mktemp("faults")
    clean = make_server(home).start()
    client = clean.client()
    fid = upload(client)
    job = wait_job(client, start_job(client, fid, epochs=2).id)
    running = start_job(client, fid, epochs=3, sim_seconds_per_step="0.02")
    clean.stop()
    faulty = make_server(home, "--faults", FAULTS, "--faults-seed", "7")
    faulty.start()
    try:
        yield clean, faulty, job, running
    finally:
        faulty.stop()


def test_reads_survive_faults_with_nothing_lost(clean_then_faulty, capsys):
    _, faulty, job, _ = clean_then_faulty
    commands = [
        ["jobs", "list", "--json"],
        ["jobs", "show", job.id, "--json"],
        ["jobs", "events", job.id, "--json"],
        ["jobs", "checkpoints", job.id, "--json"],
        ["jobs", "metrics", job.id, "--csv"],
        ["files", "list", "--json"],
        ["models", "list", "--json"],
    ]
    for argv in commands:
        r = run_cli(argv, faulty, capsys=capsys)
        assert r.code == 0, (argv, r.err)
        assert r.out.strip(), argv
    events = [json.loads(x) for x in run_cli(commands[2], faulty, capsys=capsys).out.splitlines()]
    assert len({e["id"] for e in events}) == len(events)
    assert sum(e["type"] == "metrics" for e in events) == 40
    metrics = run_cli(commands[4], faulty, capsys=capsys).out.strip().splitlines()
    assert len(metrics) == 41


def test_follow_and_create_under_faults(clean_then_faulty, capsys):
    _, faulty, _, running = clean_then_faulty
    # the job that was queued when the clean server stopped: followed to its end
    r = run_cli(
        ["jobs", "events", running.id, "--follow", "--json", "--interval", "0.1"],
        faulty,
        capsys=capsys,
    )
    assert r.code in (0, 1), r.err
    events = [json.loads(x) for x in r.out.splitlines()]
    assert len({e["id"] for e in events}) == len(events)
    steps = [e["data"]["step"] for e in events if e["type"] == "metrics"]
    assert steps == sorted(steps)
    r = run_cli(
        [
            "jobs",
            "create",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--training-file",
            str(CHAT),
            "--epochs",
            "2",
            "--metadata",
            "sim_seconds_per_step=0.01",
            "--wait",
        ],
        faulty,
        capsys=capsys,
    )
    assert r.code == 0, r.err
    steps = [int(ln.split("Step ")[1].split("/")[0]) for ln in r.out.splitlines() if "Step " in ln]
    assert steps == list(range(1, 41))  # every step once, in order
    assert "Traceback" not in r.err


def test_ask_under_faults_loses_nothing(clean_then_faulty, capsys):
    _, faulty, *_ = clean_then_faulty
    answers = set()
    for _ in range(4):
        r = run_cli(
            [
                "ask",
                "gpt-4o-mini-2024-07-18",
                "Tell me about Paris",
                "--temperature",
                "0",
                "--seed",
                "1",
                "--max-tokens",
                "30",
            ],
            faulty,
            capsys=capsys,
        )
        assert r.code == 0, r.err
        answers.add(r.out)
    assert len(answers) == 1 and next(iter(answers)).strip()


def test_permanent_faults_give_one_clear_line(tmp_path, capsys):
    srv = make_server(tmp_path / "down", "--faults", "500=1.0")
    srv.wait_ready = lambda timeout: None  # /v1 is always 500 here: wait on /health
    srv.start()
    try:
        _wait_health(srv)
        t0 = time.monotonic()
        r = run_cli(["jobs", "list"], srv, capsys=capsys)
        assert r.code == 1
        assert r.err.startswith("fttui: provider error (500)")
        assert len(r.err.strip().splitlines()) == 1
        assert time.monotonic() - t0 < 20
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- local


def test_local_server_starts_on_demand(fttui_home, monkeypatch, capsys):
    from fttui import paths
    from fttui.api.local_server import stop_local_server
    from fttui.api.providers import resolve_provider

    monkeypatch.setenv("FTTUI_LOCAL_EXECUTOR", "sim")
    assert resolve_provider().kind == "local"
    try:
        r = run_cli(["models", "list", "--json"], capsys=capsys)
        assert r.code == 0, r.err
        assert "using the local server at http://127.0.0.1:" in r.err and "(sim" in r.err
        info = json.loads((paths.data_dir() / "server.json").read_text())
        assert info["executor"] == "sim"
        key = (paths.data_dir() / "api_key").read_text().strip()
        assert key not in r.err + r.out
        r = run_cli(["models", "list", "--json"], capsys=capsys)
        assert json.loads((paths.data_dir() / "server.json").read_text())["pid"] == info["pid"]

        # Threads racing to connect share one server.
        from fttui.api.local_server import ensure_local_server

        seen = []
        threads = [
            threading.Thread(target=lambda: seen.append(ensure_local_server().pid))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert set(seen) == {info["pid"]}
    finally:
        stopped = run_cli(["serve", "--stop"], capsys=capsys)
    # It keeps running after the app (training goes on) until `fttui serve --stop`.
    assert stopped.code == 0 and "stopped the local server" in stopped.out
    assert not Path(f"/proc/{info['pid']}").exists()
    again = run_cli(["serve", "--stop"], capsys=capsys)
    assert again.code == 0 and "no local server is running" in again.out
    # A stale server.json whose pid is now another program's: that program is left alone.
    (paths.data_dir() / "server.json").write_text(json.dumps({**info, "pid": os.getpid()}))
    assert not stop_local_server()


def test_rate_limits_honour_retry_after_then_one_clear_line(tmp_path, capsys):
    """Every request answered 429 with ``Retry-After: 1``: the layer waits exactly that
    long between attempts, then gives up with one line; the CLI does the same."""
    from fttui.api.errors import ApiError, retry_call
    from fttui.config import ProfileConfig, save_profile

    srv = make_server(tmp_path / "busy", "--faults", "429=1.0")
    srv.wait_ready = lambda timeout: None  # /v1 is always 429 here: wait on /health below
    srv.start()
    try:
        _wait_health(srv)
        client = srv.client()  # the SDK's own retries off: ours are under test
        sleeps: list[float] = []
        retried: list[ApiError] = []
        with pytest.raises(ApiError) as info:
            retry_call(
                lambda: client.models.list(),
                attempts=3,
                sleep=sleeps.append,
                on_retry=lambda err, delay: retried.append(err),
            )
        assert sleeps == [1.0, 1.0]  # from the header, not the exponential backoff
        assert [e.kind for e in retried] == ["rate_limit", "rate_limit"]
        err = info.value
        assert err.kind == "rate_limit" and err.retry_after == 1.0
        assert str(err).startswith("rate limited (429):") and "retry in 1s" in str(err)

        # The CLI through a profile with the SDK's retries off: 3 reads, 2 real 1 s waits.
        save_profile(
            ProfileConfig(
                name="busy",
                kind="custom",
                base_url=srv.base_url,
                api_key=srv.api_key,
                max_retries=0,
            )
        )
        t0 = time.monotonic()
        r = run_cli(["--profile", "busy", "jobs", "list"], capsys=capsys)
        took = time.monotonic() - t0
        assert r.code == 1 and r.out == ""
        assert r.err.startswith("fttui: rate limited (429):") and len(r.err.splitlines()) == 1
        assert 2.0 <= took < 10
    finally:
        srv.stop()


def _wait_health(srv, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # /health is never faulted
        try:
            urllib.request.urlopen(srv.base_url.removesuffix("/v1") + "/health", timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise AssertionError(f"no /health in {timeout}s:\n{srv.log()}")
