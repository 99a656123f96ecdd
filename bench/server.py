"""Benchmark `fttui serve`: list latency on a big store, and a 500 MB upload.

    python bench/server.py                      # 10,000 jobs, 10,000 events, 500 MB upload
    python bench/server.py --upload-mb 100      # quicker

1. List latency. One real sim job is run through the API; its job row and events are then
   cloned (same JSON, new ids) until the store holds ``--jobs`` jobs and one job holds
   ``--events`` events, and the server is started again on that store. Over keep-alive
   loopback HTTP, it times ``GET /v1/fine_tuning/jobs`` (first page, limit 20 and 100, and a
   page deep in the list via ``after``) and ``GET .../events`` the same way.
   Budget: p99 ≤ 20 ms for each.
2. Upload. ``POST /v1/files`` of a ``--upload-mb`` file (streamed by the client), timing
   MB/s and sampling the server's RSS every 20 ms. Budget: the RSS grows by at most 64 MB
   (the body is streamed to disk, never held in memory).

Prints figures and ratios to the budgets; exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

P99_BUDGET_MS = 20.0
RSS_GROWTH_BUDGET_MB = 64.0
TOKEN = "sk-bench"
MODEL = "gpt-4o-mini-2024-07-18"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fttui", "serve", "--executor", "sim", "--port",
             str(self.port), "--data-dir", str(self.data_dir), "--token", TOKEN,
             "--max-upload-mb", "4096"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                status, _ = self.request("GET", "/health")
                if status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("fttui serve did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(30)

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        own = conn is None
        conn = conn or self.conn()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if own:
            conn.close()
        return resp.status, data

    def rss_mb(self) -> float:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0


def seed_store(data_dir: Path, n_jobs: int, n_events: int) -> str:
    """Run one real job, then clone rows up to the wanted sizes. Returns the big job's id."""
    server = Server(data_dir).start()
    try:
        import httpx2

        client = httpx2.Client(base_url=f"http://127.0.0.1:{server.port}/v1",
                               headers={"Authorization": f"Bearer {TOKEN}"})
        lines = "".join(json.dumps({"messages": [
            {"role": "user", "content": f"What is {i} + {i}?"},
            {"role": "assistant", "content": f"{2 * i}"}]}) + "\n" for i in range(20))
        file_id = client.post("/files", data={"purpose": "fine-tune"},
                              files={"file": ("t.jsonl", lines.encode())}).json()["id"]
        job = client.post("/fine_tuning/jobs", json={
            "model": MODEL, "training_file": file_id,
            "metadata": {"sim_seconds_per_step": "0"}}).json()
        while job["status"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.1)
            job = client.get(f"/fine_tuning/jobs/{job['id']}").json()
        assert job["status"] == "succeeded", job
    finally:
        server.stop()

    db = sqlite3.connect(data_dir / "fttui.sqlite3")
    obj, internal = db.execute("SELECT obj, internal FROM jobs WHERE id = ?",
                               (job["id"],)).fetchone()
    template = json.loads(obj)
    rows = []
    for _ in range(n_jobs - 1):
        template["id"] = "ftjob-" + uuid.uuid4().hex[:24]
        rows.append((template["id"], template["status"], 0, json.dumps(template), internal))
    db.executemany("INSERT INTO jobs (id, status, live, obj, internal) VALUES (?, ?, ?, ?, ?)",
                   rows)
    events = [json.loads(r[0]) for r in db.execute(
        "SELECT obj FROM events WHERE job_id = ? ORDER BY seq", (job["id"],))]
    extra = []
    for i in range(max(0, n_events - len(events))):
        event = dict(events[i % len(events)], id="ftevent-" + uuid.uuid4().hex[:24])
        extra.append((event["id"], job["id"], json.dumps(event)))
    db.executemany("INSERT INTO events (id, job_id, obj) VALUES (?, ?, ?)", extra)
    db.commit()
    counts = (db.execute("SELECT count(*) FROM jobs").fetchone()[0],
              db.execute("SELECT count(*) FROM events WHERE job_id = ?",
                         (job["id"],)).fetchone()[0])
    db.close()
    print(f"store: {counts[0]:,} jobs, {counts[1]:,} events on one job")
    return job["id"]


def time_gets(server: Server, path: str, n: int) -> tuple[float, float, int]:
    conn = server.conn()
    for _ in range(20):  # warm up
        server.request("GET", path, conn=conn)
    times = []
    size = 0
    for _ in range(n):
        start = time.perf_counter()
        status, body = server.request("GET", path, conn=conn)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, body[:200]
        size = len(body)
    conn.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], size


def bench_lists(server: Server, job_id: str, n: int) -> bool:
    _, body = server.request("GET", "/v1/fine_tuning/jobs?limit=5000")
    middle = json.loads(body)["data"][-1]["id"]
    _, body = server.request("GET", f"/v1/fine_tuning/jobs/{job_id}/events?limit=5000")
    middle_event = json.loads(body)["data"][-1]["id"]
    cases = [
        ("jobs, first page (20)", "/v1/fine_tuning/jobs"),
        ("jobs, limit=100", "/v1/fine_tuning/jobs?limit=100"),
        ("jobs, page after #5000", f"/v1/fine_tuning/jobs?after={middle}"),
        ("events, first page (20)", f"/v1/fine_tuning/jobs/{job_id}/events"),
        ("events, limit=100", f"/v1/fine_tuning/jobs/{job_id}/events?limit=100"),
        ("events, page after #5000", f"/v1/fine_tuning/jobs/{job_id}/events?after={middle_event}"),
        ("one job", f"/v1/fine_tuning/jobs/{job_id}"),
    ]
    ok = True
    print(f"\nlist latency over keep-alive loopback, {n} requests each "
          f"(budget p99 ≤ {P99_BUDGET_MS:g} ms)")
    for label, path in cases:
        p50, p99, size = time_gets(server, path, n)
        ratio = p99 / P99_BUDGET_MS
        ok &= ratio <= 1
        print(f"  {label:28s} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   {size / 1024:7.1f} KB"
              f"   p99/budget {ratio:.2f}")
    return ok


def bench_upload(server: Server, size_mb: int, tmp: Path) -> bool:
    path = tmp / "big.jsonl"
    line = (json.dumps({"messages": [{"role": "user", "content": "x" * 200},
                                     {"role": "assistant", "content": "y" * 200}]}) + "\n").encode()
    with path.open("wb") as fh:
        chunk = line * (1024 * 1024 // len(line) + 1)
        written = 0
        while written < size_mb * 1024 * 1024:
            part = chunk[: size_mb * 1024 * 1024 - written]
            fh.write(part)
            written += len(part)
    size = path.stat().st_size

    import httpx2

    base_rss = server.rss_mb()
    peak = [base_rss]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                peak[0] = max(peak[0], server.rss_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    with path.open("rb") as fh:
        resp = httpx2.post(f"http://127.0.0.1:{server.port}/v1/files",
                           data={"purpose": "fine-tune"}, files={"file": ("big.jsonl", fh)},
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    assert resp.status_code == 200, resp.text[:300]
    stored = server.data_dir / "files" / resp.json()["id"]
    assert stored.stat().st_size == size == resp.json()["bytes"]
    growth = peak[0] - base_rss
    print(f"\nupload of {size / 1024 / 1024:.0f} MB through POST /v1/files: {elapsed:.2f} s, "
          f"{size / 1024 / 1024 / elapsed:.0f} MB/s")
    print(f"  server RSS {base_rss:.0f} MB before, {peak[0]:.0f} MB peak: grew {growth:.1f} MB"
          f" (budget ≤ {RSS_GROWTH_BUDGET_MB:g} MB, ratio {growth / RSS_GROWTH_BUDGET_MB:.2f})")
    path.unlink()
    return growth <= RSS_GROWTH_BUDGET_MB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--upload-mb", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fttui-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        os.environ.setdefault("FTTUI_HOME", str(Path(tmp) / "home"))
        job_id = seed_store(data_dir, args.jobs, args.events)
        server = Server(data_dir).start()
        try:
            ok = bench_lists(server, job_id, args.requests)
            if args.upload_mb > 0:
                ok &= bench_upload(server, args.upload_mb, Path(tmp))
        finally:
            server.stop()
    print("\nall budgets met" if ok else "\nBUDGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
