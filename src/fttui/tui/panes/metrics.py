"""Pane 3 — Metrics: the selected job's curves, live while it runs; ``e`` exports a CSV.

While the job runs the series grow from its ``metrics`` events (an event follower, so each
poll fetches only new events); once it has finished they come from its result CSV (the
API layer's ``fetch_job_metrics``). Polls run only while the pane is shown.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from fttui.tui.backend import is_terminal
from fttui.tui.messages import BackendProblem, JobSelected
from fttui.tui.widgets.job_table import status_text
from fttui.tui.widgets.metric_sparklines import MetricSparklines

if TYPE_CHECKING:  # the app imports the panes: typing only, no cycle at run time
    from fttui.tui.app import FtApp

ACTIVE_INTERVAL = 2.0


class MetricsLoaded(Message):
    def __init__(
        self,
        job_id: str,
        series: dict[str, list[tuple[int, float]]],
        total_steps: int | None,
        status: str | None,
        csv: str | None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.series = series
        self.total_steps = total_steps
        self.status = status
        self.csv = csv


def series_points(series: Any) -> dict[str, list[tuple[int, float]]]:
    """``MetricSeries`` (or a plain mapping) → {name: [(step, value), ...]}."""
    raw = getattr(series, "series", series) or {}
    return {str(k): [(int(s), float(v)) for s, v in pts] for k, pts in raw.items()}


class MetricsPane(Vertical):
    """Sparklines of the selected job."""

    app: FtApp  # for the type checker only (no value: Textual's property stays)

    BINDINGS = [
        Binding("e", "export", "Export CSV", id="metrics.export"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job: JobSelected | None = None
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.total_steps: int | None = None
        self.status: str | None = None
        self.csv: str | None = None
        self._timer: Timer | None = None
        self._state_lock = threading.Lock()
        self._follower: Any = None
        self._acc: Any = None  # MetricSeries being grown from events
        self._acc_job: str | None = None
        self._failures = 0

    def compose(self) -> ComposeResult:
        yield Static(self._header(), id="metrics-header")
        with VerticalScroll(id="metrics-body"):
            yield MetricSparklines(id="sparklines")

    def focus_default(self) -> None:
        self.query_one("#metrics-body").focus()

    # -- selection ----------------------------------------------------------------------
    def select_job(self, message: JobSelected) -> None:
        same = self.job is not None and self.job.job_id == message.job_id
        self.job = message
        self.status = message.status
        if not same:
            self.series = {}
            self.total_steps = None
            self.csv = None
            self.query_one(MetricSparklines).clear()
            self._failures = 0
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            if self.display and message.job_id and getattr(self.app, "live", True):
                self._timer = self.set_timer(0.2, self._tick)
        self._update_header()

    def on_shown(self) -> None:
        """The pane became visible: fetch now."""
        if self.job and self.job.job_id and getattr(self.app, "live", True):
            self.refresh_now()

    def refresh_now(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not (self.job and self.job.job_id):
            return
        if getattr(self.app, "ready", False):
            self._fetch(self.job.job_id)
        elif getattr(self.app, "live", True):
            # not connected yet: _tick waits for it (returning here left no poll armed,
            # and the pane stayed empty once connected)
            self._timer = self.set_timer(1.0, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self.job or not self.job.job_id:
            return
        if not self.display:
            return  # resumes in on_shown
        if self.app.screen.is_modal or not getattr(self.app, "ready", False):
            self._timer = self.set_timer(1.0, self._tick)
            return
        self._fetch(self.job.job_id)

    def _arm(self, job_id: str, delay: float) -> None:
        if not self.job or self.job.job_id != job_id:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self._tick)

    @work(thread=True, exclusive=True, group="metrics", exit_on_error=False)
    def _fetch(self, job_id: str) -> None:
        from textual.worker import get_current_worker

        from fttui.api.errors import friendly
        from fttui.api.metrics import MetricSeries

        worker = get_current_worker()
        backend = self.app.backend
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
            err = friendly(exc)
            if worker.is_cancelled:
                return
            from fttui.tui.app import retry_delay

            delay = retry_delay(self._failures, err.retry_after)
            self._failures += 1
            self.post_message(BackendProblem(err.kind, str(err), retry_in=delay))
            self.app.call_from_thread(self._arm, job_id, delay)
            return
        if worker.is_cancelled:
            return
        self._failures = 0
        self.post_message(MetricsLoaded(job_id, points, total, status, csv))
        if not is_terminal(status):  # a finished job's figures do not change (r refetches)
            self.app.call_from_thread(self._arm, job_id, ACTIVE_INTERVAL)

    def on_metrics_loaded(self, message: MetricsLoaded) -> None:
        message.stop()
        if not self.job or message.job_id != self.job.job_id:
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
        self._update_header()

    # -- header -------------------------------------------------------------------------
    def _header(self) -> Text:
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
        self.query_one("#metrics-header", Static).update(self._header())

    # -- export -------------------------------------------------------------------------
    def action_export(self) -> None:
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
            self.app.call_from_thread(
                self.notify, f"export failed: {exc}", severity="error", markup=False
            )
            return
        self.app.call_from_thread(self.notify, f"wrote {path}", markup=False)
        self.app.call_from_thread(self.app.offer_file, path)


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
