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
list it shows at start-up, before any request), ``--marked`` (10) of them marked for
comparing first (so the Metrics pane holds its compare view), and the clock runs from
posting a key until the first frame rendered with its effect: cursor moves (↓/↑ in the
job table), pane switches (1–5, each away from Jobs and back: the frame in which the
compositor has laid out the new pane and no other, the focus is in it and the footer
shows its keys), ``space`` marking and unmarking one more job, ``o`` sorting by the next
column, typing in the ``/`` filter. The condition is checked as each frame is rendered (``Frames.watch``).
Budget (issue 15): each key's median and p95 ≤ 50 ms (``KEY_BUDGET_MS``), printed key by
key, with the CPU time the app's thread spent on each key (not judged: what the key costs
the app, which a loaded machine stretches into more wall time). The 50 ms are absolute: a
loaded machine misses them (the load average is printed first), so the same figures are
also judged as ratios to a bare DataTable measured in the same run, which the load moves
alike: fttui's median cursor move and space ≤ 5 × the bare table's
cursor move (a mark is a cell update, as a move is a cursor update), ``o`` ≤ 5 × the bare
table sorting its rows by the next column (``DataTable.sort``).

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
from collections.abc import Callable
from pathlib import Path

FIRST_FRAME_BUDGET = 1.1  #: × the bare app's first frame
#: × the bare DataTable's cursor move: a move in fttui also shows the job's details in the
#: panes beside the table; the old absolute budget (50 ms) over a bare move (~10 ms)
KEY_BUDGET = 5.0
#: × the same bare figures, for space (mark) and o (sort) with ``--marked`` jobs marked:
#: the task's 50 ms budget over a bare move / sort measured in the same run
MARK_BUDGET = SORT_BUDGET = 5.0
#: every key's median and p95, with ``--marked`` jobs marked (issue 15)
KEY_BUDGET_MS = 50.0
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
class Frames(list[float]):
    """The times at which the app's screen was rendered; ``cpu``: the app thread's CPU
    time at each (what the frame cost the app, whatever else the machine ran).

    ``watch``: a key's condition, checked as each frame is rendered; ``hit`` the first
    frame (time, CPU time) rendered with it holding. Checked there, not by the timing loop
    afterwards: a frame already due when the key was posted (the previous key's footer, a
    tab underline's slide) used to stop the clock before the key's own frame was drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []
        self.watch: Callable[[], bool] | None = None
        self.hit: tuple[float, float] | None = None
        self.error: Exception | None = None


def hook_frames(app) -> Frames:
    """The times at which the app's screen was rendered, from now on."""
    frames = Frames()
    screen = app.screen
    original = screen._compositor_refresh

    def hooked() -> None:
        original()
        now, cpu = time.perf_counter(), time.thread_time()
        frames.append(now)
        frames.cpu.append(cpu)
        if frames.watch is not None and frames.hit is None:
            try:
                held = frames.watch()
            except Exception as exc:  # a bench bug, not the app's: say so, do not crash it
                frames.watch, frames.error = None, exc
                return
            if held:
                frames.hit = (now, cpu)

    screen._compositor_refresh = hooked
    return frames


def timer(app, frames: Frames, cpu: list[float] | None = None):
    """``timed(key, done)``: seconds from posting ``key`` until a frame has been rendered
    with ``done()`` holding; each key's CPU seconds (the app's thread, which the headless
    app shares with this loop) go to ``cpu`` when given."""
    from textual import events

    async def timed(key: str, done, limit: float = 5.0) -> float:
        start, start_cpu = time.perf_counter(), time.thread_time()
        frames.watch, frames.hit = done, None
        app.post_message(events.Key(key, key if len(key) == 1 else None))
        try:
            while frames.hit is None:
                await asyncio.sleep(0.001)
                if frames.error is not None:
                    raise frames.error
                if time.perf_counter() - start > limit:
                    raise SystemExit(f"key {key!r} had no visible effect in {limit:g} s")
        finally:
            frames.watch = None
        hit, hit_cpu = frames.hit
        if cpu is not None:
            cpu.append(hit_cpu - start_cpu)
        return hit - start

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


#: how many o presses are timed (every column, four times over: a p95 of 24)
SORTS = 24
#: the pane switches timed: to each other pane and back to Jobs, three times over
PANE_KEYS = ("3", "2", "4", "2", "1", "2", "5", "2") * 3
PANES = {"1": "data", "2": "jobs", "3": "metrics", "4": "playground", "5": "evals"}


async def mark(pilot, table, timed, n_marked: int) -> list[float]:
    """Mark ``n_marked`` jobs one by one with space (each timed)."""
    out = []
    table.focus()
    await pilot.pause(0.1)
    for _ in range(n_marked):
        job_id = table.selected_id
        out.append(await timed("space", lambda j=job_id: j in table.marked, 60.0))
        table.move_cursor(row=table.cursor_row + 1, animate=False)
        await pilot.pause(0.02)
    assert len(table.marked) == n_marked
    return out


async def marks(pilot, table, timed, presses: int) -> dict[str, list[float]]:
    """With jobs marked: space on one more job, on and off (``presses`` times), and o
    through the columns."""
    out: dict[str, list[float]] = {"space": [], "sort": []}
    table.focus()
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

    cpu: list[float] = []  # each timed key's CPU time, in the order they are timed
    async with app.run_test(size=SIZE) as pilot:
        frames = hook_frames(app)
        timed = timer(app, frames, cpu)
        table = app.query_one(JobTable)
        t0 = time.perf_counter()
        while table.row_count < n_jobs:
            await pilot.pause(0.05)
            if time.perf_counter() - t0 > 120:
                raise SystemExit("the cached job list did not load")
        load_s = time.perf_counter() - t0
        while not app.panes_ready:  # every pane mounted (after the first frame)
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        # every key below with n_marked jobs marked (the Metrics pane's compare view)
        results["marking"] = await mark(pilot, table, timed, n_marked)
        await until(pilot, lambda: len(app.query_one("#metrics").marked) == n_marked)
        # the arrow keys, which the bare DataTable binds too (j/k are fttui's aliases)
        results["cursor"] = await cursor_moves(pilot, table, timed, presses)
        shown = pane_shown(app)
        for pane in PANE_KEYS:
            target = PANES[pane]
            if app.focused is not None and app.focused.id == "pg-prompt":
                app.set_focus(None)  # a digit typed into the prompt is a digit
            results["pane"].append(await timed(pane, lambda t=target: shown(t)))
            await pilot.pause(0.02)
        results.update(await marks(pilot, table, timed, presses))
        # Typing into the filter (the table itself refilters after a short pause).
        app.query_one(JobTable).focus()
        await pilot.press("slash")
        box = app.query_one("#jobs-filter")
        for ch in "bench000":
            value = box.value + ch
            results["filter"].append(await timed(ch, lambda v=value: box.value == v))
        results["load"] = [load_s]
    at = 0
    for name in ("marking", "cursor", "pane", "space", "sort", "filter"):  # as timed
        n = len(results[name])
        results[name + "_cpu"] = cpu[at : at + n]
        at += n
    return results


def pane_shown(app):
    """``shown(pane_id)``: the pane ``pane_id`` is what the screen's compositor has laid
    out (no other pane is), the focus is in it and the footer shows its keys: the frame of
    a pane switch. (The switcher's ``current`` changes before the layout does, and the
    focus moves a moment later: a frame already due drew the tabs and the footer over the
    old pane, or the new pane under the old pane's keys.)"""
    from fttui.tui.widgets.key_footer import KeyFooter

    footer = app.query_one(KeyFooter)
    panes = {pane_id: app.pane(pane_id) for pane_id in PANES.values()}

    def shown(pane_id: str) -> bool:
        compositor = app.screen._compositor
        pane = panes[pane_id]
        if [p for p in panes.values() if p in compositor] != [pane]:
            return False
        return pane.has_focus_within and footer.shows_current_keys()

    return shown


async def until(pilot, done, limit: float = 30.0) -> None:
    start = time.perf_counter()
    while not done():
        if time.perf_counter() - start > limit:
            raise SystemExit("the Metrics pane did not learn the marks")
        await pilot.pause(0.05)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


#: the keys judged against KEY_BUDGET_MS, in the order printed
KEYS = (
    ("cursor", "cursor move ↓/↑"),
    ("pane", "pane switch 1–5 and back to 2"),
    ("space", "space (mark/unmark one more)"),
    ("sort", "o (sort by the next column)"),
    ("filter", "typing in the filter"),
)


def judge_first_frame(home: Path, n_jobs: int, starts: int) -> bool:
    """Time ``starts`` first frames of each app, interleaved; True when within budget."""
    ours: tuple[list[float], list[float]] = ([], [])
    bare: tuple[list[float], list[float]] = ([], [])
    for _ in range(starts):  # interleaved: the machine's load hits both alike
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
        f"time to first frame (spawn → full frame in a pty, {n_jobs:,} cached jobs, "
        f"{starts} starts each):"
    )
    print(frame_line("fttui   ", *ours))
    print(frame_line("bare app", *bare))
    ratio = statistics.median(ours[0]) / statistics.median(bare[0])
    ok = ratio <= FIRST_FRAME_BUDGET
    cpu_ratio = statistics.median(ours[1]) / statistics.median(bare[1])
    print(
        f"  ratio fttui / bare app: {ratio:.2f}× (budget ≤ {FIRST_FRAME_BUDGET}×) "
        f"{'OK' if ok else 'OVER BUDGET'}; CPU time ratio {cpu_ratio:.2f}× (not judged)"
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--starts", type=int, default=5, help="first frames timed (0: none)")
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
        if args.starts:
            failed |= not judge_first_frame(home, args.jobs, args.starts)

        res = asyncio.run(key_latency(args.jobs, args.presses, args.marked))
        bases = asyncio.run(bare_latency(args.jobs, args.presses))
        print(f"cached list of {args.jobs:,} jobs shown in {res['load'][0] * 1000:.0f} ms")
        vals = res["marking"]
        print(
            f"space marking {args.marked} jobs one by one: the first (it widens the ID column) "
            f"{vals[0] * 1000:.0f} ms, the others median "
            f"{statistics.median(vals[1:] or vals) * 1000:.1f} ms (not judged)"
        )
        print(
            f"key-to-screen on {args.jobs:,} jobs with {args.marked} marked (budget: median and "
            f"p95 ≤ {KEY_BUDGET_MS:.0f} ms each):"
        )
        for name, label in KEYS:
            vals = res[name]
            med, p95 = statistics.median(vals) * 1000, pct(vals, 0.95) * 1000
            over = [what for what, v in (("median", med), ("p95", p95)) if v > KEY_BUDGET_MS]
            failed |= bool(over)
            verdict = f"OVER BUDGET ({', '.join(over)})" if over else "OK"
            used = res[name + "_cpu"]
            print(
                f"  {label:30s} median {med:6.1f} ms  p95 {p95:6.1f} ms  "
                f"max {max(vals) * 1000:6.1f} ms  (n={len(vals)})  {verdict}; CPU median "
                f"{statistics.median(used) * 1000:.1f} ms, p95 {pct(used, 0.95) * 1000:.1f} ms"
            )
        by_pane: dict[str, list[float]] = {}
        for key, value in zip(PANE_KEYS, res["pane"], strict=True):
            by_pane.setdefault(PANES[key], []).append(value)
        print(
            "  pane switch medians by pane: "
            + ", ".join(f"{p} {statistics.median(v) * 1000:.1f} ms" for p, v in by_pane.items())
        )
        print("the same against a bare DataTable in this run (load moves both alike):")
        base = bases["cursor"]
        for name, label, baseline, bname, budget in (
            ("cursor", "cursor move", base, "cursor move", KEY_BUDGET),
            ("space", "space", base, "cursor move", MARK_BUDGET),
            ("sort", "o", bases["sort"], "sort by the next column", SORT_BUDGET),
        ):
            med, bmed = statistics.median(res[name]), statistics.median(baseline)
            ratio = med / bmed
            ok = ratio <= budget
            failed |= not ok
            print(
                f"  {label}: bare {bname} median {bmed * 1000:.1f} ms "
                f"(p95 {pct(baseline, 0.95) * 1000:.1f} ms); ratio {ratio:.2f}× "
                f"(budget ≤ {budget}×) {'OK' if ok else 'OVER BUDGET'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
