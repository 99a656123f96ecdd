"""Benchmark the app: time to first frame, and key-to-screen latency on a 5,000-job list.

    python bench/tui.py                 # both figures, against their budgets
    python bench/tui.py --jobs 20000    # a bigger list

Time to first frame: ``fttui`` is started in a pseudo-terminal (a fresh interpreter, as a
user starts it) and the clock runs from the spawn until the first full frame (the footer)
has been written to the terminal. Budget ≤ 0.5 s (median of 5 starts).

Key-to-screen latency: the app runs headless with a cached list of ``--jobs`` jobs (the
list it shows at start-up, before any request) and the clock runs from posting a key
(``j``/``k`` in the job table, ``/`` filter keys, pane switches) until the frame showing
its effect has been rendered. Budget ≤ 50 ms for the median cursor move (p95 reported).

Exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

FIRST_FRAME_BUDGET = 0.5
KEY_BUDGET = 0.050
SIZE = (120, 40)
OFFLINE = "http://127.0.0.1:9/v1"


def sample_jobs(n: int) -> list[dict]:
    models = ("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14", "babbage-002")
    statuses = ("succeeded", "succeeded", "failed", "cancelled", "running", "queued")
    start = 1_700_000_000
    jobs = []
    for i in range(n):
        status = statuses[i % len(statuses)]
        model = models[i % len(models)]
        jobs.append({
            "id": f"ftjob-bench{i:07d}", "model": model, "status": status,
            "created_at": start + i * 60, "finished_at": None,
            "trained_tokens": 1000 + i, "hyperparameters": {"n_epochs": 3},
            "fine_tuned_model": f"ft:{model}:bench:{i}" if status == "succeeded" else None,
            "training_file": f"file-{i:07d}", "method": "supervised",
        })
    return jobs


# -- time to first frame ------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (Linux), or NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def first_frame(home: Path, runs: int) -> tuple[list[float], list[float]]:
    import pty
    import select
    import signal

    times, cpu = [], []
    env = {**os.environ, "FTTUI_HOME": str(home), "TERM": "xterm-256color",
           "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1])}
    for _ in range(runs):
        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.execvpe(sys.executable, [sys.executable, "-m", "fttui", "--base-url", OFFLINE,
                                        "--api-key", "sk-bench"], env)
        import fcntl
        import struct
        import termios

        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        buf = b""
        elapsed = None
        deadline = start + 20
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                buf += chunk
                # tabs, the job table's header and the footer: a whole, useful frame
                if b"Playground" in buf and b"Fine-tuned model" in buf and b"Quit" in buf:
                    elapsed = time.perf_counter() - start
                    cpu.append(cpu_seconds(pid))
                    break
        os.kill(pid, signal.SIGTERM)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(fd)
        if elapsed is None:
            raise SystemExit(f"no frame within 20 s; output was: {buf[-500:]!r}")
        times.append(elapsed)
    return times, cpu


# -- key-to-screen latency ----------------------------------------------------------------
async def key_latency(n_jobs: int, presses: int) -> dict[str, list[float]]:
    from textual import events

    from fttui.tui.app import FtApp
    from fttui.tui.widgets.job_table import JobTable

    app = FtApp(base_url=OFFLINE, api_key="sk-bench", live=False)
    frames: list[float] = []
    results: dict[str, list[float]] = {"cursor": [], "pane": [], "filter": []}

    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        original = screen._compositor_refresh

        def hooked() -> None:
            original()
            frames.append(time.perf_counter())

        screen._compositor_refresh = hooked
        table = app.query_one(JobTable)
        t0 = time.perf_counter()
        while table.row_count < n_jobs:
            await pilot.pause(0.05)
            if time.perf_counter() - t0 > 120:
                raise SystemExit("the cached job list did not load")
        load_s = time.perf_counter() - t0
        await pilot.pause(0.3)

        async def timed(key: str, done) -> float:
            start = time.perf_counter()
            app.post_message(events.Key(key, key if len(key) == 1 else None))
            while True:
                await asyncio.sleep(0.001)
                if done() and frames and frames[-1] > start:
                    return frames[-1] - start
                if time.perf_counter() - start > 5:
                    raise SystemExit(f"key {key!r} had no visible effect in 5 s")

        for i in range(presses):
            key = "j" if (i // 10) % 2 == 0 else "k"
            before = table.cursor_row
            expect = before + (1 if key == "j" else -1)
            results["cursor"].append(await timed(key, lambda e=expect: table.cursor_row == e))
            await pilot.pause(0.02)
        for pane in ("3", "2", "4", "2", "1", "2") * 2:
            target = {"1": "data", "2": "jobs", "3": "metrics", "4": "playground"}[pane]
            if app.focused is not None and app.focused.id == "pg-prompt":
                app.set_focus(None)
            results["pane"].append(await timed(pane, lambda t=target: app.current_pane == t))
            await pilot.pause(0.02)
        # Typing into the filter (the table itself refilters after a short pause).
        app.query_one(JobTable).focus()
        await pilot.press("slash")
        box = app.query_one("#jobs-filter")
        for ch in "bench000":
            value = box.value + ch
            results["filter"].append(await timed(ch, lambda v=value: box.value == v))
        results["load"] = [load_s]
    return results


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()

    failed = False
    with tempfile.TemporaryDirectory(prefix="fttui-bench-") as tmp:
        home = Path(tmp)
        os.environ["FTTUI_HOME"] = str(home)
        from fttui.tui.backend import Backend

        Backend(base_url=OFFLINE, api_key="sk-bench").save_cached_jobs(sample_jobs(args.jobs))

        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} (figures grow with load)")
        times, cpu = first_frame(home, args.starts)
        med = statistics.median(times)
        ok = med <= FIRST_FRAME_BUDGET
        failed |= not ok
        print(f"time to first frame (spawn → full frame in a pty, {args.jobs:,} cached jobs): "
              f"median {med * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms; CPU used by then: median "
              f"{statistics.median(cpu) * 1000:.0f} ms — budget {FIRST_FRAME_BUDGET * 1000:.0f} ms "
              f"({med / FIRST_FRAME_BUDGET:.2f}× budget) {'OK' if ok else 'OVER BUDGET'}")

        res = asyncio.run(key_latency(args.jobs, args.presses))
        print(f"cached list of {args.jobs:,} jobs shown in {res['load'][0] * 1000:.0f} ms")
        for name, label in (("cursor", "cursor move j/k"), ("pane", "pane switch 1–4"),
                            ("filter", "typing in the filter")):
            vals = res[name]
            med = statistics.median(vals)
            line = (f"key-to-screen, {label} on {args.jobs:,} jobs: median {med * 1000:.1f} ms, "
                    f"p95 {pct(vals, 0.95) * 1000:.1f} ms, max {max(vals) * 1000:.1f} ms "
                    f"(n={len(vals)})")
            if name == "cursor":
                ok = med <= KEY_BUDGET
                failed |= not ok
                line += (f" — budget {KEY_BUDGET * 1000:.0f} ms ({med / KEY_BUDGET:.2f}× budget) "
                         f"{'OK' if ok else 'OVER BUDGET'}")
            print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
