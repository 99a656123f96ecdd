"""Benchmark the app against a bare Textual app, measured the same way in the same run:
time to first frame, and key-to-screen latency on a 5,000-job list.

    python bench/tui.py                 # both figures and their ratios, against the budgets
    python bench/tui.py --jobs 20000    # a bigger list

The baseline is the floor of the work: a bare Textual app (``BARE_APP``: a tab line, a
``DataTable`` with the job table's columns and a footer, nothing of fttui) started and
driven exactly as fttui is. A ratio, unlike an absolute time, does not move with the
machine or its load (the two are interleaved run by run).

Time to first frame: each app is started in a pseudo-terminal (a fresh interpreter, as a
user starts it) and the clock runs from the spawn until the first full frame (the tabs,
the table's header and the footer) has been written to the terminal. Budget: fttui's
median of ``--starts`` starts ≤ 1.1 × the bare app's.

Key-to-screen latency: the app runs headless with a cached list of ``--jobs`` jobs (the
list it shows at start-up, before any request) and the clock runs from posting a key
(``j``/``k`` in the job table, ``/`` filter keys, pane switches) until the frame showing
its effect has been rendered; the bare app's DataTable holds the same ``--jobs`` rows and
moves its cursor on the same keys. Budget: fttui's median cursor move ≤ 5 × the bare
table's (p95 reported); pane switches and filter typing are reported, not judged.

Marks and sorting with ``--marked`` (10) jobs marked for comparing (the Metrics pane then
holds its compare view): ``space`` marking and unmarking one more job, and ``o`` sorting
by the next column. Budget: the median of each ≤ 50 ms, judged as a ratio so the machine's
load does not decide it — space ≤ 5 × the bare table's cursor move (a mark is a cell
update, as a move is a cursor update), ``o`` ≤ 5 × the bare table sorting its 5,000 rows
by the next column (``DataTable.sort``); the absolute medians are printed beside.

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

FIRST_FRAME_BUDGET = 1.1  #: × the bare app's first frame
#: × the bare DataTable's cursor move: a move in fttui also shows the job's details in the
#: panes beside the table; the old absolute budget (50 ms) over a bare move (~10 ms)
KEY_BUDGET = 5.0
#: × the same bare figures, for space (mark) and o (sort) with ``--marked`` jobs marked:
#: the task's 50 ms budget over a bare move / sort measured in the same run
MARK_BUDGET = SORT_BUDGET = 5.0
MARK_BUDGET_MS = 50.0  #: printed beside the ratios (load-dependent: not judged alone)
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
        jobs.append(
            {
                "id": f"ftjob-bench{i:07d}",
                "model": model,
                "status": status,
                "created_at": start + i * 60,
                "finished_at": None,
                "trained_tokens": 1000 + i,
                "hyperparameters": {"n_epochs": 3},
                "fine_tuned_model": f"ft:{model}:bench:{i}" if status == "succeeded" else None,
                "training_file": f"file-{i:07d}",
                "method": "supervised",
            }
        )
    return jobs


# -- the baseline: a bare Textual app with a DataTable --------------------------------------
#: Started as ``python -c BARE_APP ROWS`` in the pty, like fttui: the same markers end its
#: first frame (a tab line with "Playground", the table's "Fine-tuned model" header, "Quit").
BARE_APP = """
import sys
from textual.app import App
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static


class Bare(App):
    BINDINGS = [
        Binding("q", "quit", "Quit", id="bare.quit"),
        Binding("o", "sort_next", "Sort", id="bare.sort"),
    ]

    def __init__(self, rows):
        super().__init__()
        self.rows = rows
        self.sorts = 0

    def compose(self):
        yield Static("1 Data  2 Jobs  3 Metrics  4 Playground")
        yield DataTable(cursor_type="row")
        yield Footer()

    def on_mount(self):
        table = self.query_one(DataTable)
        self.keys = table.add_columns("ID", "Model", "Status", "Fine-tuned model", "Created")
        table.add_rows(self.rows)
        table.focus()

    def action_sort_next(self):
        # the baseline of fttui's o: the same rows sorted by the next column
        self.sorts += 1
        self.query_one(DataTable).sort(self.keys[self.sorts % len(self.keys)])


def rows(n):
    statuses = ("succeeded", "succeeded", "failed", "cancelled", "running", "queued")
    return [(f"ftjob-bench{i:07d}", "gpt-4o-mini-2024-07-18", statuses[i % 6],
             f"ft:gpt-4o-mini-2024-07-18:bench:{i}", "2023-11-14 22:13") for i in range(n)]


if __name__ == "__main__":
    Bare(rows(int(sys.argv[1]))).run()
"""


def bare_app(n_rows: int):
    """The baseline app object (for the headless key-latency run), ``n_rows`` rows."""
    namespace: dict = {"__name__": "bare_app"}
    exec(compile(BARE_APP, "<bare app>", "exec"), namespace)
    return namespace["Bare"](namespace["rows"](n_rows))


# -- time to first frame ------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (Linux), or NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


FTTUI_ARGV = [sys.executable, "-m", "fttui", "--base-url", OFFLINE, "--api-key", "sk-bench"]
#: the bare app draws the rows a first frame shows (the screen's height), as fttui does
BARE_ARGV = [sys.executable, "-c", BARE_APP, str(SIZE[1])]


def first_frame(home: Path, runs: int, argv: list[str]) -> tuple[list[float], list[float]]:
    import pty
    import select
    import signal

    times, cpu = [], []
    env = {
        **os.environ,
        "FTTUI_HOME": str(home),
        "TERM": "xterm-256color",
        "COLUMNS": str(SIZE[0]),
        "LINES": str(SIZE[1]),
    }
    for _ in range(runs):
        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.execvpe(argv[0], argv, env)
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
def hook_frames(app) -> list[float]:
    """The times at which the app's screen was rendered, from now on."""
    frames: list[float] = []
    screen = app.screen
    original = screen._compositor_refresh

    def hooked() -> None:
        original()
        frames.append(time.perf_counter())

    screen._compositor_refresh = hooked
    return frames


def timer(app, frames: list[float]):
    """``timed(key, done)``: seconds from posting ``key`` until ``done()`` holds and a frame
    has been rendered after it."""
    from textual import events

    async def timed(key: str, done, limit: float = 5.0) -> float:
        start = time.perf_counter()
        app.post_message(events.Key(key, key if len(key) == 1 else None))
        while True:
            await asyncio.sleep(0.001)
            if done() and frames and frames[-1] > start:
                return frames[-1] - start
            if time.perf_counter() - start > limit:
                raise SystemExit(f"key {key!r} had no visible effect in {limit:g} s")

    return timed


async def cursor_moves(pilot, table, timed, presses: int) -> list[float]:
    """``presses`` cursor moves, ten down then ten up, on the focused table."""
    out = []
    for i in range(presses):
        key = "down" if (i // 10) % 2 == 0 else "up"
        expect = table.cursor_row + (1 if key == "down" else -1)
        out.append(await timed(key, lambda e=expect: table.cursor_row == e))
        await pilot.pause(0.02)
    return out


async def bare_latency(n_rows: int, presses: int) -> dict[str, list[float]]:
    """The baseline's cursor moves and sorts: a bare DataTable of ``n_rows`` rows."""
    from textual.widgets import DataTable

    app = bare_app(n_rows)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        await pilot.pause(0.3)
        frames = hook_frames(app)
        timed = timer(app, frames)
        out = {"cursor": await cursor_moves(pilot, table, timed, presses)}
        out["sort"] = []
        for _ in range(SORTS):
            want = app.sorts + 1
            out["sort"].append(await timed("o", lambda w=want: app.sorts == w))
            await pilot.pause(0.02)
        return out


#: how many o presses are timed (every column, twice over)
SORTS = 12


async def marks(pilot, app, table, timed, n_marked: int, presses: int) -> dict[str, list[float]]:
    """Mark ``n_marked`` jobs (timed as "marking"), then with them marked: space on one
    more job, on and off (``presses`` times), and o through the columns."""
    out: dict[str, list[float]] = {"marking": [], "space": [], "sort": []}
    table.focus()
    await pilot.pause(0.1)
    for i in range(n_marked):
        job_id = table.selected_id
        # the first mark widens the ID column for its "● ": every row is built again once
        limit = 60.0 if i == 0 else 5.0
        out["marking"].append(await timed("space", lambda j=job_id: j in table.marked, limit))
        table.move_cursor(row=table.cursor_row + 1, animate=False)
        await pilot.pause(0.02)
    assert len(table.marked) == n_marked
    extra = table.selected_id
    for _ in range(presses):
        want = extra not in table.marked
        out["space"].append(await timed("space", lambda w=want: (extra in table.marked) == w))
        await pilot.pause(0.02)
    for _ in range(SORTS):
        cols = list(table.shown)
        want = cols[(cols.index(table.sort_column) + 1) % len(cols)]
        out["sort"].append(await timed("o", lambda w=want: table.sort_column == w))
        await pilot.pause(0.02)
    # back to newest first, as the filter's figures below were always measured
    table.sort_by("created", reverse=True)
    return out


async def key_latency(n_jobs: int, presses: int, n_marked: int) -> dict[str, list[float]]:
    from fttui.tui.app import FtApp
    from fttui.tui.widgets.job_table import JobTable

    app = FtApp(base_url=OFFLINE, api_key="sk-bench", live=False)
    results: dict[str, list[float]] = {"cursor": [], "pane": [], "filter": []}

    async with app.run_test(size=SIZE) as pilot:
        frames = hook_frames(app)
        timed = timer(app, frames)
        table = app.query_one(JobTable)
        t0 = time.perf_counter()
        while table.row_count < n_jobs:
            await pilot.pause(0.05)
            if time.perf_counter() - t0 > 120:
                raise SystemExit("the cached job list did not load")
        load_s = time.perf_counter() - t0
        await pilot.pause(0.3)
        # the arrow keys, which the bare DataTable binds too (j/k are fttui's aliases)
        results["cursor"] = await cursor_moves(pilot, table, timed, presses)
        for pane in ("3", "2", "4", "2", "1", "2") * 2:
            target = {"1": "data", "2": "jobs", "3": "metrics", "4": "playground"}[pane]
            if app.focused is not None and app.focused.id == "pg-prompt":
                app.set_focus(None)
            results["pane"].append(await timed(pane, lambda t=target: app.current_pane == t))
            await pilot.pause(0.02)
        results.update(await marks(pilot, app, table, timed, n_marked, presses))
        if len(app.query_one("#metrics").marked) != n_marked:
            raise SystemExit("the Metrics pane did not learn the marks")
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
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--marked", type=int, default=10, help="jobs marked for space / o")
    args = ap.parse_args()

    failed = False
    with tempfile.TemporaryDirectory(prefix="fttui-bench-") as tmp:
        home = Path(tmp)
        os.environ["FTTUI_HOME"] = str(home)
        from fttui.tui.backend import Backend

        Backend(base_url=OFFLINE, api_key="sk-bench").save_cached_jobs(sample_jobs(args.jobs))

        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} (figures grow with load)")
        ours: tuple[list[float], list[float]] = ([], [])
        bare: tuple[list[float], list[float]] = ([], [])
        for _ in range(args.starts):  # interleaved: the machine's load hits both alike
            for acc, argv in ((ours, FTTUI_ARGV), (bare, BARE_ARGV)):
                t, c = first_frame(home, 1, argv)
                acc[0].extend(t)
                acc[1].extend(c)

        def frame_line(name: str, times: list[float], cpu: list[float]) -> str:
            return (
                f"  {name}: median {statistics.median(times) * 1000:.0f} ms, "
                f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
                f"CPU used by then: median {statistics.median(cpu) * 1000:.0f} ms"
            )

        print(
            f"time to first frame (spawn → full frame in a pty, {args.jobs:,} cached jobs, "
            f"{args.starts} starts each):"
        )
        print(frame_line("fttui   ", *ours))
        print(frame_line("bare app", *bare))
        ratio = statistics.median(ours[0]) / statistics.median(bare[0])
        ok = ratio <= FIRST_FRAME_BUDGET
        failed |= not ok
        cpu_ratio = statistics.median(ours[1]) / statistics.median(bare[1])
        print(
            f"  ratio fttui / bare app: {ratio:.2f}× (budget ≤ {FIRST_FRAME_BUDGET}×) "
            f"{'OK' if ok else 'OVER BUDGET'}; CPU time ratio {cpu_ratio:.2f}× (not judged)"
        )

        res = asyncio.run(key_latency(args.jobs, args.presses, args.marked))
        bases = asyncio.run(bare_latency(args.jobs, args.presses))
        base = bases["cursor"]
        print(f"cached list of {args.jobs:,} jobs shown in {res['load'][0] * 1000:.0f} ms")
        for name, label in (
            ("cursor", "cursor move ↓/↑"),
            ("pane", "pane switch 1–4"),
            ("filter", "typing in the filter"),
        ):
            vals = res[name]
            med = statistics.median(vals)
            print(
                f"key-to-screen, {label} on {args.jobs:,} jobs: median {med * 1000:.1f} ms, "
                f"p95 {pct(vals, 0.95) * 1000:.1f} ms, max {max(vals) * 1000:.1f} ms "
                f"(n={len(vals)})"
            )
            if name == "cursor":
                bmed = statistics.median(base)
                ratio = med / bmed
                ok = ratio <= KEY_BUDGET
                failed |= not ok
                print(
                    f"  bare DataTable, same keys on {args.jobs:,} rows: median "
                    f"{bmed * 1000:.1f} ms, p95 {pct(base, 0.95) * 1000:.1f} ms; ratio "
                    f"{ratio:.2f}× (budget ≤ {KEY_BUDGET}×) {'OK' if ok else 'OVER BUDGET'}"
                )
        vals = res["marking"]
        print(
            f"key-to-screen, space marking {args.marked} jobs one by one: the first (it widens "
            f"the ID column: every row again) {vals[0] * 1000:.0f} ms, the others median "
            f"{statistics.median(vals[1:] or vals) * 1000:.1f} ms (not judged)"
        )
        for name, label, baseline, bname, budget in (
            ("space", "space (mark/unmark one more)", base, "cursor move", MARK_BUDGET),
            ("sort", "o (sort by the next column)", bases["sort"], "sort", SORT_BUDGET),
        ):
            vals = res[name]
            med, bmed = statistics.median(vals), statistics.median(baseline)
            ratio = med / bmed
            ok = ratio <= budget
            failed |= not ok
            print(
                f"key-to-screen, {label} with {args.marked} marked on {args.jobs:,} jobs: "
                f"median {med * 1000:.1f} ms, p95 {pct(vals, 0.95) * 1000:.1f} ms "
                f"(n={len(vals)}; {'within' if med * 1000 <= MARK_BUDGET_MS else 'over'} "
                f"{MARK_BUDGET_MS:.0f} ms)"
            )
            print(
                f"  bare DataTable {bname} on {args.jobs:,} rows: median {bmed * 1000:.1f} ms; "
                f"ratio {ratio:.2f}× (budget ≤ {budget}×) {'OK' if ok else 'OVER BUDGET'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
