"""Benchmark: the Data pane's preview on a big chat JSONL stays instant.

Generates a realistic chat JSONL (English, code, CJK, Cyrillic, tool calls, vision parts)
of ``--size-mb`` (default 1024) in a temp dir — in a child process, so its memory does not
count — then opens it in the Data pane (headless ``run_test``) and prints, each beside a
baseline measured the same way in the same run:

- time to the first frame showing examples (from ``open_file``), against a bare Textual
  app that reads the file's first 64 kB and shows its first rows in a ``DataTable``
  (``BareTable``); budget ≤ 2 × that;
- key-to-screen latency of ``down`` while the file is still being indexed and linted,
  against the same key on the bare table; budget: median ≤ 3 × that;
- time until the whole file is indexed (``G`` then waits for the line index to reach the
  last example), against the floor of that work: reading the file once and counting its
  newlines (8 MB reads, in this process); budget ≤ 3 × that;
- peak RSS of the app (budget ≤ 300 MB; the preview keeps 8 bytes per line), and of the
  child process that lints a big file (the dataset core's own budget: ≤ 150 MB). Sizes,
  not times: these stay absolute.

    python bench/preview.py                 # 1 GB
    python bench/preview.py --size-mb 200   # quicker
    python bench/preview.py --no-lint       # the preview alone
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_FRAME_RATIO = 2.0  #: × the bare table's first frame
KEY_LATENCY_RATIO = 3.0  #: × the bare table's key-to-screen
INDEX_RATIO = 3.0  #: × reading the file and counting its newlines
RSS_BUDGET_MB = 300.0
FIRST_BYTES = 64 * 1024  #: what the bare table reads to show its first rows

SYSTEMS = [
    "You are a concise, helpful assistant.",
    "You are a senior Python engineer. Answer with code when it helps.",
    "Ты — вежливый помощник. Отвечай кратко.",
    "あなたは親切なアシスタントです。",
]
USERS = [
    "How do I reverse a list in Python without modifying the original?",
    "Explain the difference between a process and a thread in two sentences.",
    "Как приготовить борщ? Перечисли основные шаги.",
    "東京でおすすめの観光地を三つ教えてください。",
    "Write a SQL query that returns the ten most recent orders per customer.",
    "What is the capital of Australia, and why isn't it Sydney?",
]
ANSWERS = [
    "Use slicing: `reversed_copy = items[::-1]` returns a new list and leaves `items` as it is.",
    "A process has its own memory space; threads share the memory of the process they "
    "belong to, so they are cheaper to create but need care around shared state.",
    "Нарежьте овощи, сварите бульон, добавьте свёклу, капусту и картофель, посолите и "
    "подавайте со сметаной.",
    "浅草寺、東京スカイツリー、明治神宮がおすすめです。",
    "```sql\nSELECT * FROM (\n  SELECT o.*, ROW_NUMBER() OVER (PARTITION BY customer_id "
    "ORDER BY created_at DESC) AS rn FROM orders o\n) t WHERE rn <= 10;\n```",
    "Canberra. It was chosen as a compromise between Sydney and Melbourne in 1908.",
]


def example(rng: random.Random, i: int) -> dict:
    kind = rng.random()
    msgs: list[dict] = [{"role": "system", "content": rng.choice(SYSTEMS)}]
    if kind < 0.1:  # tool call
        msgs += [
            {"role": "user", "content": f"What's the weather in city #{i}?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": f'{{"city": "c{i}"}}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": f"call_{i}", "content": '{"temp_c": 21}'},
            {"role": "assistant", "content": "It is 21 °C and sunny."},
        ]
        return {
            "messages": msgs,
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                }
            ],
        }
    if kind < 0.15:  # vision
        msgs.append(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this picture."},
                    {
                        "type": "image_url",
                        "image_url": {"url": f"https://example.com/{i}.png", "detail": "low"},
                    },
                ],
            }
        )
        msgs.append({"role": "assistant", "content": "A red square on a white background."})
        return {"messages": msgs}
    for _ in range(rng.choice((1, 1, 2))):
        msgs.append({"role": "user", "content": f"{rng.choice(USERS)} (#{i})"})
        msgs.append({"role": "assistant", "content": rng.choice(ANSWERS)})
    return {"messages": msgs}


def generate(path: Path, size_mb: int, seed: int = 7) -> int:
    """Write about ``size_mb`` MB of chat JSONL to ``path``; returns the number of lines."""
    import orjson

    rng = random.Random(seed)
    target = size_mb * 1_000_000
    written = 0
    lines = 0
    with open(path, "wb", buffering=8 << 20) as fh:
        while written < target:
            block = b"".join(orjson.dumps(example(rng, lines + k)) + b"\n" for k in range(2000))
            fh.write(block)
            written += len(block)
            lines += 2000
    return lines


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


async def frame(pilot) -> None:
    """Let every queued message be handled, then render a frame (what a terminal would
    show next), without the Pilot's wait for an idle CPU."""
    await pilot._wait_for_screen()
    pilot.app.screen._on_timer_update()


async def key(pilot, name: str) -> None:
    import textual.events

    event = textual.events.Key(name, name if len(name) == 1 else None)
    event.set_sender(pilot.app)
    pilot.app._driver.send_message(event)
    await asyncio.sleep(0)


def newline_floor(path: Path) -> float:
    """Seconds to read ``path`` once and count its newlines: the least any line index does."""
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        n = 0
        for chunk in iter(lambda: fh.read(8 << 20), b""):
            n += chunk.count(b"\n")
    return time.perf_counter() - t


async def measure_bare(path: Path) -> dict[str, float]:
    """The baseline: a bare Textual app showing the file's first rows in a DataTable."""
    from textual.app import App
    from textual.widgets import DataTable

    class BareTable(App[None]):
        def compose(self):
            yield DataTable(cursor_type="row")

        def show(self, file: Path) -> None:
            with open(file, "rb") as fh:
                head = fh.read(FIRST_BYTES).split(b"\n")[:40]
            table = self.query_one(DataTable)
            table.add_columns("line", "example")
            table.add_rows(
                (i + 1, line[:100].decode(errors="replace")) for i, line in enumerate(head)
            )
            table.focus()

    app = BareTable()
    results: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        t0 = time.perf_counter()
        app.show(path)
        await frame(pilot)
        results["first_frame_s"] = time.perf_counter() - t0
        latencies = []
        for _ in range(20):
            before = table.cursor_row
            t = time.perf_counter()
            await key(pilot, "down")
            while table.cursor_row != before + 1:
                await asyncio.sleep(0)
            await frame(pilot)
            latencies.append((time.perf_counter() - t) * 1000)
        results["key_p50_ms"] = statistics.median(latencies)
    return results


async def measure(path: Path, n_lines: int, lint: bool) -> dict[str, float]:
    from textual.app import App

    from fttui.tui.panes.data import DataPane

    class Bench(App[None]):
        def compose(self):
            yield DataPane(id="data")

    app = Bench()
    results: dict[str, float] = {}

    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(DataPane)
        if not lint:
            pane._start_lint = lambda: None  # the preview alone
        preview = pane.preview
        t0 = time.perf_counter()
        pane.open_file(str(path))
        while preview.row_count == 0:
            await asyncio.sleep(0.001)
        await frame(pilot)  # one frame rendered with the rows
        results["first_frame_s"] = time.perf_counter() - t0
        if "1 " not in "".join(s.text for s in preview.render_line(0)):
            raise SystemExit("first frame does not show line 1")

        # key latency while indexing / linting (on the first 20 rows)
        latencies = []
        for _ in range(20):
            before = preview.cursor
            t = time.perf_counter()
            await key(pilot, "down")
            while preview.cursor != before + 1:
                await asyncio.sleep(0)
            await frame(pilot)
            latencies.append((time.perf_counter() - t) * 1000)
        results["key_p50_ms"] = statistics.median(latencies)
        results["key_max_ms"] = max(latencies)

        t1 = time.perf_counter()
        await key(pilot, "G")
        while not (preview.source.done and preview.cursor == n_lines - 1):
            await asyncio.sleep(0.002)
        await frame(pilot)
        results["scroll_end_s"] = time.perf_counter() - t1
        results["index_s"] = time.perf_counter() - t0
        last = "".join(s.text for s in preview.render_line(preview.cursor - int(preview.scroll_y)))
        if str(n_lines) not in last:
            raise SystemExit(f"last frame does not show line {n_lines}: {last!r}")
        if lint:
            t2 = time.perf_counter()
            while pane.report is None and pane.lint_error is None:
                await asyncio.sleep(0.05)
            results["lint_s"] = time.perf_counter() - t0
            results["lint_wait_s"] = time.perf_counter() - t2
            if pane.lint_error:
                print(f"lint failed: {pane.lint_error}")
    results["peak_rss_mb"] = peak_rss_mb()
    results["child_rss_mb"] = peak_rss_mb(resource.RUSAGE_CHILDREN)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--no-lint", action="store_true", help="measure the preview alone")
    parser.add_argument(
        "--lint-in-thread",
        action="store_true",
        help="lint in a thread of the app instead of a child process "
        "(to compare: the GIL then slows the UI down)",
    )
    parser.add_argument("--file", help="use this JSONL instead of generating one")
    parser.add_argument("--generate-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.generate_only:
        print(generate(Path(args.generate_only), args.size_mb))
        return 0

    with tempfile.TemporaryDirectory(prefix="fttui-bench-") as tmp:
        if args.file:
            path = Path(args.file)
            n_lines, last = 0, b"\n"
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(8 << 20), b""):
                    n_lines += chunk.count(b"\n")
                    last = chunk[-1:]
            n_lines += last != b"\n"  # a last line without a final newline
        else:
            path = Path(tmp) / "chat.jsonl"
            t = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--generate-only",
                    str(path),
                    "--size-mb",
                    str(args.size_mb),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            n_lines = int(out.stdout.strip())
            print(
                f"generated {path.stat().st_size / 1e6:,.0f} MB, {n_lines:,} examples "
                f"in {time.perf_counter() - t:.1f} s"
            )
        size_mb = path.stat().st_size / 1e6
        if args.lint_in_thread:
            import fttui.tui.lint_process

            fttui.tui.lint_process.IN_PROCESS_MIN_BYTES = 1 << 62
        floor_s = newline_floor(path)  # the file is in the page cache from here on, for both
        bare = asyncio.run(measure_bare(path))
        res = asyncio.run(measure(path, n_lines, lint=not args.no_lint))

    over = False

    def row(
        name: str,
        value: float,
        unit: str,
        budget: float | None = None,
        base: float | None = None,
        ratio: float | None = None,
    ) -> None:
        nonlocal over
        verdict = ""
        if budget is not None:
            verdict = "ok" if value <= budget else "OVER BUDGET"
            verdict = f"(budget ≤ {budget:g} {unit}: {verdict})"
            over |= value > budget
        if base is not None and ratio is not None:
            r = value / base
            verdict = (
                f"baseline {base:.3f} {unit}, ratio {r:.2f}× (budget ≤ {ratio:g}×: "
                f"{'ok' if r <= ratio else 'OVER BUDGET'})"
            )
            over |= r > ratio
        print(f"{name:<34} {value:>10.3f} {unit:<3} {verdict}")

    where = (
        "off" if args.no_lint else ("in a thread" if args.lint_in_thread else "in a child process")
    )
    print(f"file: {size_mb:,.0f} MB, {n_lines:,} lines, {os.cpu_count()} CPUs; linter {where}")
    print("baselines: a bare Textual DataTable of the first rows; reading the file once")
    row(
        "time to first preview frame",
        res["first_frame_s"],
        "s",
        base=bare["first_frame_s"],
        ratio=FIRST_FRAME_RATIO,
    )
    row(
        "key-to-screen (down) median",
        res["key_p50_ms"],
        "ms",
        base=bare["key_p50_ms"],
        ratio=KEY_LATENCY_RATIO,
    )
    row("key-to-screen (down) max", res["key_max_ms"], "ms")
    row("scroll to the end (G)", res["scroll_end_s"], "s")
    row("whole file indexed", res["index_s"], "s", base=floor_s, ratio=INDEX_RATIO)
    if "lint_s" in res:
        row("lint finished", res["lint_s"], "s", None)
    row("peak RSS of the app", res["peak_rss_mb"], "MB", RSS_BUDGET_MB)
    if res["child_rss_mb"]:
        row("peak RSS of the lint process", res["child_rss_mb"], "MB")
    return 1 if over else 0


if __name__ == "__main__":
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    raise SystemExit(main())
