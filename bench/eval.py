"""Benchmark `fttui eval`: its throughput against bare SDK calls, and its memory on 100k items.

    python bench/eval.py                        # 1000 items at concurrency 4, then 100k items
    python bench/eval.py --items 200 --big 20000

1. Throughput. A sim `fttui serve` answers both sides. The baseline makes the same chat
   completions (same messages, max_tokens, temperature 0) straight through the openai SDK
   from a thread pool of the same size; `fttui eval` (its real entry point, in this process)
   does the same work plus scoring and appending the results file. Each side runs three times,
   alternating, and the better run of each is compared. Budget: `fttui eval` at ≥ 0.9× the
   baseline's items/s.
2. Memory. The evaluation engine streams a ``--big``-item file through a model call that
   answers at once (so the engine, not the server, is measured), and samples this
   process's RSS. Budget: RSS grows by ≤ 32 MB from the first 10% of the items to the end
   (items are streamed and at most 2 × concurrency are in flight).

Prints figures and ratios to the budgets; exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from support.live_server import make_server  # noqa: E402

MODEL = "gpt-4o-mini-2024-07-18"
THROUGHPUT_BUDGET = 0.9
RSS_BUDGET_MB = 32.0


def write_items(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "messages": [
                            {"role": "user", "content": f"What is {i} plus one?"},
                            {"role": "assistant", "content": str(i + 1)},
                        ]
                    }
                )
                + "\n"
            )


def baseline(server, path: Path, concurrency: int, max_tokens: int) -> float:
    # Timed from the client's creation, as `fttui eval` is timed from its start: both
    # sides pay for one client (its SSL context alone is ~0.3 s here).
    started = time.perf_counter()
    client = server.client(max_retries=2)
    items = [json.loads(line) for line in path.read_text().splitlines()]

    def one(ex):
        client.chat.completions.create(
            model=MODEL, messages=ex["messages"][:-1], max_tokens=max_tokens, temperature=0
        )

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, items))
    return len(items) / (time.perf_counter() - started)


def fttui_eval(server, path: Path, concurrency: int, max_tokens: int, tmp: Path) -> float:
    from fttui.cli import main

    out = tmp / f"r-{time.monotonic_ns()}.jsonl"
    argv = [
        "--base-url",
        server.base_url,
        "--api-key",
        server.api_key,
        "eval",
        str(path),
        "-m",
        MODEL,
        "-j",
        str(concurrency),
        "--max-tokens",
        str(max_tokens),
        "-o",
        str(out),
        "--json",
    ]
    buf = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = main(argv)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"fttui eval failed ({code})")
    n = sum(1 for _ in out.open())
    return n / elapsed


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(path: Path, n: int) -> tuple[float, float, float]:
    from fttui.evals.items import iter_items
    from fttui.evals.session import Evaluation, Scorer

    class Answer:
        prompt_tokens, completion_tokens, latency, attempts, first_token = 10, 2, 0.001, 1, None

        def __init__(self, text: str) -> None:
            self.text = text

    samples: list[float] = []

    def call(model, item):
        return Answer(item.reference)

    def progress(done, _total):
        if done in (n // 10, n):
            samples.append(rss_mb())

    started = time.perf_counter()
    ev = Evaluation(
        iter_items(path),
        [MODEL],
        call,
        Scorer(metric="exact"),
        concurrency=4,
        results_path=path.with_suffix(".results.jsonl"),
        progress=progress,
    )
    report = ev.run()
    assert report.models[0]["n"] == n, report.models[0]
    return samples[0], samples[-1], n / (time.perf_counter() - started)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--big", type=int, default=100_000)
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        data = tmp / "items.jsonl"
        write_items(data, args.items)
        server = make_server(tmp / "server").start()
        try:
            fttui_eval(server, data, args.concurrency, args.max_tokens, tmp)  # warm up imports
            base, ours = [], []
            for _ in range(3):
                base.append(baseline(server, data, args.concurrency, args.max_tokens))
                ours.append(fttui_eval(server, data, args.concurrency, args.max_tokens, tmp))
        finally:
            server.stop()
        ratio = max(ours) / max(base)
        print(f"throughput, {args.items} items at concurrency {args.concurrency}:")
        print(
            f"  SDK directly  {max(base):8.1f} items/s  (runs: {', '.join(f'{b:.1f}' for b in base)})"
        )
        print(
            f"  fttui eval    {max(ours):8.1f} items/s  (runs: {', '.join(f'{o:.1f}' for o in ours)})"
        )
        verdict = "ok" if ratio >= THROUGHPUT_BUDGET else "OVER BUDGET"
        print(f"  ratio {ratio:.2f} (budget ≥ {THROUGHPUT_BUDGET}) {verdict}")
        ok &= ratio >= THROUGHPUT_BUDGET

        big = tmp / "big.jsonl"
        write_items(big, args.big)
        early, late, rate = memory(big, args.big)
        growth = late - early
        verdict = "ok" if growth <= RSS_BUDGET_MB else "OVER BUDGET"
        print(f"memory, {args.big:,} items through the engine ({rate:,.0f} items/s):")
        print(
            f"  RSS {early:.1f} MB at 10% → {late:.1f} MB at the end: +{growth:.1f} MB "
            f"(budget ≤ {RSS_BUDGET_MB:g} MB) {verdict}"
        )
        ok &= growth <= RSS_BUDGET_MB
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
