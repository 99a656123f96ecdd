"""Benchmark the app's Evals pane against `fttui eval`, measured the same way in the same run:
throughput, and how fast the screen answers keys while an eval runs.

    python bench/eval_pane.py                 # 300 items at concurrency 4
    python bench/eval_pane.py --items 1000

1. Throughput. A sim `fttui serve` answers both sides. The baseline is `fttui eval` (its
   real entry point, in this process) on the base model; the pane runs the same items ×
   model (a fresh file each run, so nothing is resumed) from a headless app, timed from
   ``ctrl+r`` until its scoreboard is filled. Runs alternate; the better of each is
   compared. Budget: the pane at ≥ 0.8× the CLI's items/s (it also posts progress to the UI
   and reads the results back for the side-by-side table).
2. Responsiveness. In the same app, the time a key takes to be handled (a pane switch,
   ``2`` then ``5``) is measured idle, then while the last run goes on. Budget: the median while
   running ≤ 3× the idle median (p95 reported).

Exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from support.live_server import make_server  # noqa: E402

MODEL = "gpt-4o-mini-2024-07-18"
THROUGHPUT_BUDGET = 0.8
LATENCY_BUDGET = 3.0


def write_items(path: Path, n: int, tag: str) -> None:
    import json

    with path.open("w") as fh:
        for i in range(n):
            ex = {
                "messages": [
                    {"role": "user", "content": f"What is {i} plus one? ({tag})"},
                    {"role": "assistant", "content": str(i + 1)},
                ]
            }
            fh.write(json.dumps(ex) + "\n")


def cli_eval(server, path: Path, concurrency: int, tmp: Path) -> float:
    from fttui.cli import main

    out = tmp / f"r-{time.monotonic_ns()}.jsonl"
    argv = ["--base-url", server.base_url, "--api-key", server.api_key, "eval", str(path)]
    argv += ["-m", MODEL, "-j", str(concurrency), "-o", str(out), "--json"]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"fttui eval failed ({code})")
    return sum(1 for _ in out.open()) / elapsed


async def key_latency(pilot, rounds: int) -> list[float]:
    """Key posted → its pane shown, polled on the app's loop (``pilot.press`` waits for the
    app to go idle, which a running eval's progress keeps it from)."""
    from textual import events

    app = pilot.app
    out = []
    for _ in range(rounds):
        for key, pane in (("2", "jobs"), ("5", "evals")):
            started = time.perf_counter()
            app.post_message(events.Key(key, key))
            while app.current_pane != pane:
                await asyncio.sleep(0.001)
            out.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
    return out


async def pane_runs(server, files: list[Path], concurrency: int) -> tuple[list[float], list, list]:
    from fttui.tui.app import FtApp
    from fttui.tui.panes.evals import EvalsPane

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    rates: list[float] = []
    idle: list[float] = []
    busy: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.ready:
            await pilot.pause(0.05)
        await pilot.press("5")
        pane = app.query_one(EvalsPane)
        pane.query_one("#ev-extra").value = MODEL
        pane.query_one("#ev-concurrency").value = str(concurrency)
        idle += await key_latency(pilot, 10)
        for i, path in enumerate(files):
            keys = i == len(files) - 1  # the last run also takes keys (the others: not slowed)
            pane.query_one("#ev-file").value = str(path)
            pane.focus_default()
            started = time.perf_counter()
            pane.action_run()
            while pane.running:
                if keys and len(busy) < 60:
                    busy += await key_latency(pilot, 1)
                else:
                    await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            report = pane.report
            assert report is not None and not report["interrupted"], report
            rates.append(report["models"][0]["n"] / elapsed)
    return rates, idle, busy


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        os.environ["FTTUI_HOME"] = str(tmp / "home")
        server = make_server(tmp / "server").start()
        try:
            warm = tmp / "warm.jsonl"
            write_items(warm, 20, "warm")
            cli_eval(server, warm, args.concurrency, tmp)  # imports, the server's first answers
            cli: list[float] = []
            files = []
            for run in range(args.runs):
                path = tmp / f"cli-{run}.jsonl"
                write_items(path, args.items, f"cli {run}")
                cli.append(cli_eval(server, path, args.concurrency, tmp))
                pane_file = tmp / f"pane-{run}.jsonl"
                write_items(pane_file, args.items, f"pane {run}")
                files.append(pane_file)
            pane, idle, busy = asyncio.run(pane_runs(server, files, args.concurrency))
        finally:
            server.stop()
    ok = True
    ratio = max(pane) / max(cli)
    print(f"throughput, {args.items} items at concurrency {args.concurrency}:")
    print(f"  fttui eval   {max(cli):8.1f} items/s  (runs: {', '.join(f'{c:.1f}' for c in cli)})")
    print(f"  Evals pane   {max(pane):8.1f} items/s  (runs: {', '.join(f'{p:.1f}' for p in pane)})")
    verdict = "ok" if ratio >= THROUGHPUT_BUDGET else "OVER BUDGET"
    print(f"  ratio {ratio:.2f} (budget ≥ {THROUGHPUT_BUDGET}) {verdict}")
    ok &= ratio >= THROUGHPUT_BUDGET
    lat = statistics.median(busy) / statistics.median(idle)
    print("key handled (a pane switch), idle vs while an eval runs:")
    print(
        f"  idle     median {statistics.median(idle) * 1000:6.1f} ms  p95 {p95(idle) * 1000:6.1f} ms"
    )
    print(
        f"  running  median {statistics.median(busy) * 1000:6.1f} ms  p95 {p95(busy) * 1000:6.1f} ms"
        f"  ({len(busy)} keys)"
    )
    verdict = "ok" if lat <= LATENCY_BUDGET else "OVER BUDGET"
    print(f"  ratio {lat:.2f} (budget ≤ {LATENCY_BUDGET}) {verdict}")
    ok &= lat <= LATENCY_BUDGET
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
