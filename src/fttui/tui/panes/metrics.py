"""Pane 3 — Metrics: the selected job's curves, live while it runs; ``e`` exports a CSV.
With two or more jobs marked in Jobs (space), the compare view instead: one series of every
marked job overlaid on a line chart (``s`` cycles the series, ``x`` steps/epochs) above the
diff table (``fttui.tui.widgets.compare_view``).

While a job runs its series grow from its ``metrics`` events (an event follower, so each
poll fetches only new events); once it has finished they come from its result CSV (the
API layer's ``fetch_job_metrics``). One poll serves both views: the selected job's, or
every marked job's in one worker. Polls run only while the pane is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import Static

from fttui.tui.backend import is_terminal
from fttui.tui.messages import BackendProblem, JobSelected, JobsMarked
from fttui.tui.panes.base import Pane
from fttui.tui.poller import Poller
from fttui.tui.widgets.compare_view import (
    CHART_SERIES,
    SERIES_LABELS,
    ChartLine,
    CompareView,
    legend_label,
)
from fttui.tui.widgets.job_table import status_text
from fttui.tui.widgets.metric_sparklines import MetricSparklines

ACTIVE_INTERVAL = 2.0
#: seconds after the last change to the marks (or the compared data) that a hidden
#: Metrics pane draws its compare view, so that showing it is only a layout
COMPARE_CATCH_UP = 0.5


@dataclass
class MetricsLoaded(Message):
    job_id: str
    series: dict[str, list[tuple[int, float]]]
    total_steps: int | None
    status: str | None
    csv: str | None


@dataclass
class CompareLoaded(Message):
    """The marked jobs' rows and series, fetched together (``job_ids`` in marking order)."""

    job_ids: tuple[str, ...]
    rows: dict[str, dict[str, Any]]
    series: dict[str, dict[str, list[tuple[int, float]]]]
    totals: dict[str, int | None]


def series_points(series: Any) -> dict[str, list[tuple[int, float]]]:
    """``MetricSeries`` (or a plain mapping) → {name: [(step, value), ...]}."""
    raw = getattr(series, "series", series) or {}
    return {str(k): [(int(s), float(v)) for s, v in pts] for k, pts in raw.items()}


class MetricsPane(Pane):
    """Sparklines of the selected job."""

    BINDINGS = [
        Binding("e", "export", "Export CSV", id="metrics.export"),
        Binding("s", "cycle_series", "Next series", id="metrics.compare_series"),
        Binding("x", "toggle_x", "Steps/epochs", id="metrics.compare_x"),
    ]
    #: the keys of the compare view only (hidden from the footer and help otherwise)
    COMPARE_ACTIONS = frozenset({"cycle_series", "toggle_x"})

    # -- what the header shows: each change redraws it (the watch_* below _update_header) --
    #: the job selected in Jobs, its status and its curves (the pane shows one job)
    job: var[JobSelected | None] = var(None, init=False)
    status: var[str | None] = var(None, init=False)
    #: always_update: a poll's new curves redraw the header without comparing every point
    series: var[dict[str, list[tuple[int, float]]]] = var(dict, init=False, always_update=True)
    total_steps: var[int | None] = var(None, init=False)
    #: the jobs marked in Jobs, in marking order; two or more: the compare view
    marked: var[tuple[str, ...]] = var((), init=False)
    #: job id -> its curves, in the compare view (replaced whole, never changed in place)
    compare_series: var[dict[str, dict[str, list[tuple[int, float]]]]] = var(
        dict, init=False, always_update=True
    )
    #: the series the user chose with s (the first present one is shown if it is absent)
    chart_series: var[str] = var("train_loss", init=False)
    x_axis: var[str] = var("step", init=False)  # or "epoch"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.csv: str | None = None
        self._timer: Timer | None = None
        self._state_lock = threading.Lock()
        self._follower: Any = None
        self._acc: Any = None  # MetricSeries being grown from events
        self._acc_job: str | None = None
        #: when the poll (of the selected job, or of the compared ones) runs again
        self._poll = Poller(ACTIVE_INTERVAL, None, held=1.0)
        # -- the compare view (UI thread; the marks and the series are above) --
        self.compare_rows: dict[str, dict[str, Any]] = {}
        self.compare_totals: dict[str, int | None] = {}
        self._compare_stale = True  # marks or data changed while the pane was hidden
        #: draws a stale compare view while the pane is hidden, once the marks settle
        self._catch_up_timer: Timer | None = None
        # -- the compare poll's state (its worker, under _state_lock) --
        self._cmp_followers: dict[str, Any] = {}
        self._cmp_acc: dict[str, Any] = {}  # job id -> MetricSeries grown from events
        #: job id -> (row, MetricSeries) of a finished job: its figures do not change
        self._cmp_final: dict[str, tuple[dict[str, Any], Any]] = {}

    def compose(self) -> ComposeResult:
        yield Static(self._header(), id="metrics-header")
        with VerticalScroll(id="metrics-body"):
            yield MetricSparklines(id="sparklines")
        view = CompareView(id="compare-view")
        view.display = False
        yield view

    @property
    def comparing(self) -> bool:
        return len(self.marked) >= 2

    def focus_default(self) -> None:
        if self.comparing:
            self.query_one(CompareView).diff.focus()
        else:
            self.query_one("#metrics-body").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.COMPARE_ACTIONS:
            return self.comparing  # False: not listed at all outside the compare view
        return True

    # -- selection ----------------------------------------------------------------------
    def select_job(self, message: JobSelected) -> None:
        same = self.job is not None and self.job.job_id == message.job_id
        self.job = message
        self.status = message.status
        if self.comparing:
            # the compare view is shown: the selected job's curves are fetched when the
            # marks go back under two (see set_marked)
            if not same:
                self._clear_single()
            return
        if not same:
            self.series = {}
            self.total_steps = None
            self.csv = None
            self.query_one(MetricSparklines).clear()
            self._poll.reset()
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            if self.display and message.job_id and self.ftapp.live:
                self._timer = self.set_timer(0.2, self._tick)

    def _clear_single(self) -> None:
        self.series = {}
        self.total_steps = None
        self.csv = None
        self.query_one(MetricSparklines).clear()

    def on_shown(self) -> None:
        """The pane became visible: fetch now."""
        if self.comparing:
            if self._compare_stale:
                self._show_compare()
            if self.ftapp.live:
                self.refresh_now()
            return
        if self.job and self.job.job_id and self.ftapp.live:
            self.refresh_now()

    def refresh_now(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.comparing:
            if self.ftapp.ready:
                self._fetch_compare(self.marked, fresh=True)  # r: finished jobs' too
            elif self.ftapp.live:
                self._timer = self.set_timer(self._poll.held, self._tick)
            return
        if not (self.job and self.job.job_id):
            return
        if self.ftapp.ready:
            self._fetch(self.job.job_id)
        elif self.ftapp.live:
            # not connected yet: _tick waits for it (returning here left no poll armed,
            # and the pane stayed empty once connected)
            self._timer = self.set_timer(self._poll.held, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.comparing:
            if not self.display:
                return  # resumes in on_shown
            if self.ftapp.screen.is_modal or not self.ftapp.ready:
                self._timer = self.set_timer(self._poll.held, self._tick)
                return
            self._fetch_compare(self.marked)
            return
        if not self.job or not self.job.job_id:
            return
        if not self.display:
            return  # resumes in on_shown
        if self.ftapp.screen.is_modal or not self.ftapp.ready:
            self._timer = self.set_timer(self._poll.held, self._tick)
            return
        self._fetch(self.job.job_id)

    def _poll_failed(self, exc: Exception, worker: Any, rearm: Callable[[float], None]) -> None:
        """A poll (one job's or the compare view's) that raised, in its worker thread: say
        so and poll again after the back-off; nothing when the worker was cancelled."""
        from fttui.api.errors import friendly

        err = friendly(exc)
        if worker.is_cancelled:
            return
        delay = self._poll.backoff(err.retry_after)
        self.post_message(BackendProblem(err.kind, str(err), retry_in=delay))
        self.ftapp.call_from_thread(rearm, delay)

    def _arm(self, job_id: str, delay: float) -> None:
        if self.comparing or not self.job or self.job.job_id != job_id:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self._tick)

    @work(thread=True, exclusive=True, group="metrics", exit_on_error=False)
    def _fetch(self, job_id: str) -> None:
        from textual.worker import get_current_worker

        from fttui.api.metrics import MetricSeries

        worker = get_current_worker()
        backend = self.ftapp.backend
        try:
            job = backend.get_job(job_id)
            status = job.get("status")
            with self._state_lock:
                if is_terminal(status):
                    series = backend.metrics(job_id)
                    self._follower = None
                    self._acc_job = None
                else:
                    if self._acc_job != job_id or self._follower is None:
                        self._follower = backend.event_follower(job_id)
                        self._acc = MetricSeries()
                        self._acc_job = job_id
                    self._acc.add_events(self._follower.poll())
                    series = self._acc
                points = series_points(series)
                total = getattr(series, "total_steps", None)
                csv = series.to_csv() if hasattr(series, "to_csv") else None
        except Exception as exc:
            self._poll_failed(exc, worker, lambda delay: self._arm(job_id, delay))
            return
        if worker.is_cancelled:
            return
        self.post_message(MetricsLoaded(job_id, points, total, status, csv))
        # a finished job's figures do not change: no idle polls (r refetches)
        next_in = self._poll.next_delay(active=not is_terminal(status))
        if next_in is not None:
            self.ftapp.call_from_thread(self._arm, job_id, next_in)

    def on_metrics_loaded(self, message: MetricsLoaded) -> None:
        message.stop()
        if self.comparing or not self.job or message.job_id != self.job.job_id:
            return
        self.show_series(
            message.series, total_steps=message.total_steps, status=message.status, csv=message.csv
        )

    def show_series(
        self,
        series: dict[str, list[tuple[int, float]]],
        *,
        total_steps: int | None = None,
        status: str | None = None,
        csv: str | None = None,
    ) -> None:
        """Display ``series`` (also used by tests and screenshots with fixed data)."""
        self.series = series
        self.total_steps = total_steps
        if status:
            self.status = status
        self.csv = csv
        self.query_one(MetricSparklines).set_series(series)

    # -- the compare view ---------------------------------------------------------------
    def set_marked(self, message: JobsMarked) -> None:
        """The marks in Jobs changed: two or more show the compare view, fewer the
        selected job's curves again."""
        was = self.comparing
        self.marked = tuple(message.job_ids)
        rows = dict(zip(message.job_ids, message.jobs, strict=False))
        # the rows the Jobs pane has now, until the poll brings fresher ones
        self.compare_rows = {
            j: self.compare_rows.get(j) or rows.get(j) or {"id": j} for j in self.marked
        }
        self.compare_series = {j: v for j, v in self.compare_series.items() if j in self.marked}
        self.compare_totals = {j: v for j, v in self.compare_totals.items() if j in self.marked}
        if self.comparing != was:
            self.query_one("#metrics-body").display = not self.comparing
            self.query_one(CompareView).display = self.comparing
            self.refresh_bindings()
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
        if self.comparing:
            self._compare_stale = True
            if not self.display:
                self._catch_up_later()
            else:
                self._show_compare()
                if self.ftapp.live:
                    # a short delay: marking five jobs in a row makes one fetch, not five
                    if self._timer is not None:
                        self._timer.stop()
                    self._timer = self.set_timer(0.2, self._tick)
        elif was:
            # back to the selected job: its curves are fetched afresh
            self._clear_single()
            self._poll.reset()
            if self.display and self.job and self.job.job_id and self.ftapp.live:
                self._timer = self.set_timer(0.2, self._tick)

    @work(thread=True, exclusive=True, group="metrics", exit_on_error=False)
    def _fetch_compare(self, job_ids: tuple[str, ...], fresh: bool = False) -> None:
        """Every marked job's row and series. A running job's series grows from its own
        event follower; a finished job's is read once (its result file) and kept."""
        from textual.worker import get_current_worker

        from fttui.api.metrics import MetricSeries

        worker = get_current_worker()
        backend = self.ftapp.backend
        rows: dict[str, dict[str, Any]] = {}
        try:
            with self._state_lock:
                for cache in (self._cmp_followers, self._cmp_acc, self._cmp_final):
                    for gone in [j for j in cache if j not in job_ids]:
                        del cache[gone]  # unmarked: a later mark starts it over
                if fresh:
                    self._cmp_final.clear()
                for job_id in job_ids:
                    if worker.is_cancelled:
                        return  # the state stays whole: the next poll goes on from it
                    if job_id in self._cmp_final:
                        rows[job_id] = self._cmp_final[job_id][0]
                        continue
                    row = backend.get_job(job_id)
                    rows[job_id] = row
                    if is_terminal(row.get("status")):
                        self._cmp_final[job_id] = (row, backend.metrics(job_id))
                        self._cmp_followers.pop(job_id, None)
                        self._cmp_acc.pop(job_id, None)
                        continue
                    if job_id not in self._cmp_followers:
                        self._cmp_followers[job_id] = backend.event_follower(job_id)
                        self._cmp_acc[job_id] = MetricSeries()
                    self._cmp_acc[job_id].add_events(self._cmp_followers[job_id].poll())
                found = {
                    j: self._cmp_final[j][1] if j in self._cmp_final else self._cmp_acc[j]
                    for j in job_ids
                }
                points = {j: series_points(ms) for j, ms in found.items()}
                totals = {j: getattr(ms, "total_steps", None) for j, ms in found.items()}
        except Exception as exc:
            self._poll_failed(exc, worker, lambda delay: self._arm_compare(job_ids, delay))
            return
        if worker.is_cancelled:
            return
        self.post_message(CompareLoaded(job_ids, rows, points, totals))
        next_in = self._poll.next_delay(
            active=not all(is_terminal(r.get("status")) for r in rows.values())
        )
        if next_in is not None:
            self.ftapp.call_from_thread(self._arm_compare, job_ids, next_in)

    def _arm_compare(self, job_ids: tuple[str, ...], delay: float) -> None:
        if job_ids != self.marked:
            return  # the marks changed since: their own timer is set
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self._tick)

    def on_compare_loaded(self, message: CompareLoaded) -> None:
        message.stop()
        if message.job_ids != self.marked:
            return  # for marks changed since
        self.show_compare(message.rows, message.series, message.totals)

    def show_compare(
        self,
        rows: dict[str, dict[str, Any]],
        series: dict[str, dict[str, list[tuple[int, float]]]],
        totals: dict[str, int | None] | None = None,
    ) -> None:
        """Show the marked jobs' ``rows`` and ``series`` (also used by tests and
        screenshots with fixed data)."""
        compare_series = dict(self.compare_series)
        for job_id in self.marked:
            if job_id in rows:
                self.compare_rows[job_id] = rows[job_id]
            if job_id in series:
                compare_series[job_id] = series[job_id]
            if totals and job_id in totals:
                self.compare_totals[job_id] = totals[job_id]
        self.compare_series = compare_series  # a new series may be the one shown: the header
        self._compare_stale = True
        if self.display:
            self._show_compare()
        else:
            self._catch_up_later()

    def _catch_up_later(self) -> None:
        """Draw the stale compare view in the idle time ``COMPARE_CATCH_UP`` s after the
        last change, while the pane is hidden: its first showing was the slowest pane
        switch (~15 ms of CPU for the table and the chart on 10 marked jobs, issue 15).
        Not at each change: marking jobs one by one in Jobs stays a cell update."""
        if self._catch_up_timer is not None:
            self._catch_up_timer.stop()
        self._catch_up_timer = self.set_timer(COMPARE_CATCH_UP, self._catch_up)

    def _catch_up(self) -> None:
        self._catch_up_timer = None
        if self._compare_stale and self.comparing and not self.display:
            self._show_compare()

    def shown_series(self) -> str:
        """The series on the chart: the one chosen with s, else the first one present."""
        present = self.present_series()
        if self.chart_series in present or not present:
            return self.chart_series
        return present[0]

    def present_series(self) -> list[str]:
        have = {n for pts in self.compare_series.values() for n, p in pts.items() if p}
        return [name for name, _ in CHART_SERIES if name in have]

    def _steps_per_epoch(self, job_id: str) -> float | None:
        """How many steps one epoch of ``job_id`` is (None when its epochs are unknown)."""
        row = self.compare_rows.get(job_id) or {}
        epochs = (row.get("hyperparameters") or {}).get("n_epochs")
        total = self.compare_totals.get(job_id)
        if not total and row.get("status") == "succeeded":
            # a finished job's result file has no total: its last step is
            ends = [pts[-1][0] for pts in self.compare_series.get(job_id, {}).values() if pts]
            total = max(ends) if ends else None
        if not isinstance(epochs, int) or epochs <= 0 or not total:
            return None
        return total / epochs

    def _show_compare(self) -> None:
        from fttui.api.compare import comparison, comparison_cells
        from fttui.api.metrics import MetricSeries

        self._compare_stale = False
        view = self.query_one(CompareView)
        name = self.shown_series()
        per_epoch = {j: self._steps_per_epoch(j) for j in self.marked}
        by_epoch = self.x_axis == "epoch" and all(per_epoch.values())
        labels = {
            j: legend_label(j, (self.compare_rows.get(j) or {}).get("suffix")) for j in self.marked
        }
        lines = []
        for job_id in self.marked:
            points = self.compare_series.get(job_id, {}).get(name) or []
            scale = per_epoch[job_id] if by_epoch else None
            lines.append(
                ChartLine(
                    job_id,
                    labels[job_id],
                    tuple(s / scale if scale else float(s) for s, _ in points),
                    tuple(v for _, v in points),
                )
            )
        view.set_chart(
            lines, title=SERIES_LABELS.get(name, name), x_label="epoch" if by_epoch else "step"
        )
        rows = [self.compare_rows.get(j) or {"id": j} for j in self.marked]
        result = comparison(
            rows, [MetricSeries(series=dict(self.compare_series.get(j, {}))) for j in self.marked]
        )
        view.set_diff(self.marked, labels, comparison_cells(result))

    def action_cycle_series(self) -> None:
        """s: the next series the marked jobs have (loss, validation loss, accuracy, reward)."""
        present = self.present_series()
        if not present:
            self.notify("no series to show yet", severity="warning")
            return
        current = self.shown_series()
        i = present.index(current) if current in present else -1
        self.chart_series = present[(i + 1) % len(present)]
        self._show_compare()

    def action_toggle_x(self) -> None:
        """x: steps or epochs on the x axis (epochs need every job's epoch count)."""
        if self.x_axis == "step":
            unknown = [j for j in self.marked if self._steps_per_epoch(j) is None]
            if unknown:
                self.notify(
                    f"epochs unknown for {', '.join(unknown)}: staying on steps",
                    severity="warning",
                    markup=False,
                )
                return
            self.x_axis = "epoch"
        else:
            self.x_axis = "step"
        self._show_compare()

    # -- header -------------------------------------------------------------------------
    def _header(self) -> Text:
        if self.comparing:
            t = Text()
            t.append(f"Comparing {len(self.marked)} marked jobs  ", style="bold")
            name = self.shown_series()
            t.append(f"{SERIES_LABELS.get(name, name)} by {self.x_axis}  ")
            t.append("s next series · x steps/epochs · space in Jobs unmarks", style="dim")
            return t
        job = self.job
        if job is None or not job.job_id:
            return Text("No job selected — pick one in Jobs (2).", style="dim")
        # Separating spaces end the previous span instead of starting the next one:
        # SVG renderers (screenshots) drop a span's leading spaces.
        t = Text()
        t.append(job.job_id + "  ", style="bold")
        t.append_text(status_text(self.status))
        t.append("  ")
        t.append(f"{job.model or ''}  ", style="dim")
        steps = [pts[-1][0] for pts in self.series.values() if pts]
        if steps:
            step = max(steps)
            t.append(f"step {step}" + (f"/{self.total_steps}" if self.total_steps else "") + "  ")
        t.append("e exports CSV", style="dim")
        return t

    def _update_header(self) -> None:
        """Draw the header from the state above (called by its watchers, never by hand)."""
        # layout=False: the header is one line (app.tcss) as wide as the pane, so new text
        # never resizes it; a layout of the whole screen on each space in Jobs (the marks
        # reach this hidden pane) was ~5 ms of the key's 20 on 5,000 jobs (issue 15)
        self.query_one("#metrics-header", Static).update(self._header(), layout=False)

    # each piece of the header's state redraws it when it changes
    watch_job = watch_status = watch_series = watch_total_steps = _update_header
    watch_marked = watch_compare_series = watch_chart_series = watch_x_axis = _update_header

    # -- export -------------------------------------------------------------------------
    def action_export(self) -> None:
        if self.comparing:
            self.notify(
                "export writes one job's CSV: unmark the jobs (space in Jobs) first",
                severity="warning",
            )
            return
        if not self.job or not self.job.job_id:
            self.notify("no job selected", severity="warning")
            return
        if not any(self.series.values()):
            self.notify("no metrics to export yet", severity="warning")
            return
        self._export(self.job.job_id, self.series, self.csv)

    @work(thread=True, group="metrics-export", exit_on_error=False)
    def _export(
        self, job_id: str, series: dict[str, list[tuple[int, float]]], csv: str | None
    ) -> None:
        path = Path.cwd() / f"{job_id}-metrics.csv"
        tmp = path.with_name(f".{path.name}.part")
        try:
            # written whole then renamed: never a half-written CSV under the final name
            tmp.write_text(csv if csv else to_csv(series), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.ftapp.call_from_thread(
                self.notify, f"export failed: {exc}", severity="error", markup=False
            )
            return
        self.ftapp.call_from_thread(self.notify, f"wrote {path}", markup=False)
        self.ftapp.call_from_thread(self.ftapp.offer_file, path)


def to_csv(series: dict[str, list[tuple[int, float]]]) -> str:
    """step + one column per series (empty where a series has no value at that step)."""
    names = [n for n, pts in series.items() if pts]
    by_step: dict[int, dict[str, float]] = {}
    for name in names:
        for step, value in series[name]:
            by_step.setdefault(step, {})[name] = value
    lines = [",".join(["step", *names])]
    for step in sorted(by_step):
        row = by_step[step]
        lines.append(",".join([str(step), *(repr(row[n]) if n in row else "" for n in names)]))
    return "\n".join(lines) + "\n"
