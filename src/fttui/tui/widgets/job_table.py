"""The jobs table: keyed, flicker-free updates that keep the cursor on its job."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

STATUS_STYLES = {
    "succeeded": "bold green",
    "failed": "bold red",
    "cancelled": "dim",
    "running": "bold cyan",
    "queued": "yellow",
    "validating_files": "yellow",
    "paused": "magenta",
    "pausing": "magenta",
}

COLUMNS = (
    ("id", "ID"),
    ("model", "Model"),
    ("status", "Status"),
    ("created", "Created"),
    ("tokens", "Tokens"),
    ("fine_tuned_model", "Fine-tuned model"),
)


def format_time(ts: Any) -> str:
    if not ts:
        return "—"
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(int(ts)))
    except (TypeError, ValueError, OverflowError):
        return str(ts)


def format_tokens(value: Any) -> str:
    if value is None:
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def status_text(status: str | None) -> Text:
    status = status or "?"
    return Text(status, style=STATUS_STYLES.get(status, ""))


def job_cells(job: dict[str, Any]) -> tuple[Any, ...]:
    """The cells of a job's row, in ``COLUMNS`` order."""
    return (
        job.get("id") or "",
        job.get("model") or "",
        status_text(job.get("status")),
        format_time(job.get("created_at")),
        Text(format_tokens(job.get("trained_tokens")), justify="right"),
        job.get("fine_tuned_model") or "—",
    )


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def matches(job: dict[str, Any], needle: str) -> bool:
    """True if the job matches the filter text (every word in id/model/status/names)."""
    if not needle:
        return True
    hay = " ".join(
        str(job.get(k) or "")
        for k in ("id", "model", "status", "fine_tuned_model", "suffix", "training_file")
    ).lower()
    return all(word in hay for word in needle.lower().split())


class JobTable(DataTable):
    """All known jobs, newest first, filtered by ``filter_text``."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="jobs.table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="jobs.table.up"),
        Binding("g", "scroll_top", "First job", show=False, id="jobs.table.first"),
        Binding("G", "scroll_bottom", "Last job", show=False, id="jobs.table.last"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.jobs: dict[str, dict[str, Any]] = {}
        self._cells: dict[str, tuple[str, ...]] = {}
        self._seq: dict[str, int] = {}  # ties in created_at keep the provider's order
        self._next_seq = 0
        self.filter_text = ""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    # -- queries ------------------------------------------------------------------------
    @property
    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    @property
    def selected_job(self) -> dict[str, Any] | None:
        job_id = self.selected_id
        return self.jobs.get(job_id) if job_id else None

    def ordered_ids(self) -> list[str]:
        """Every known job id, newest first."""
        return sorted(
            self.jobs,
            key=lambda j: (self.jobs[j].get("created_at") or 0, self._seq.get(j, 0)),
            reverse=True,
        )

    def visible_ids(self) -> list[str]:
        return [j for j in self.ordered_ids() if matches(self.jobs[j], self.filter_text)]

    # -- updates ------------------------------------------------------------------------
    def set_jobs(self, rows: Iterable[dict[str, Any]], *, full: bool = True) -> None:
        """Merge ``rows`` in (``full``: they are the whole list, so vanished jobs go)."""
        rows = list(rows)
        for r in reversed(rows):  # lists come newest first
            job_id = r.get("id")
            if job_id and job_id not in self._seq:
                self._next_seq += 1
                self._seq[job_id] = self._next_seq
        if full:
            fresh = {r["id"]: r for r in rows if r.get("id")}
            self.jobs = fresh
        else:
            for r in rows:
                if r.get("id"):
                    self.jobs[r["id"]] = r
        self._sync()

    def update_job(self, row: dict[str, Any]) -> None:
        self.set_jobs([row], full=False)

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self._sync()

    def select_job(self, job_id: str) -> bool:
        """Put the cursor on ``job_id``; False when it is not shown."""
        try:
            index = self.get_row_index(job_id)
        except Exception:
            return False
        self.move_cursor(row=index, animate=False)
        return True

    def _sync(self) -> None:
        """Bring the table in line with ``jobs``/``filter_text`` without a full redraw."""
        keep = self.selected_id
        visible = self.visible_ids()
        visible_set = set(visible)
        current = [row.key.value for row in self.ordered_rows]
        current_set = set(current)
        with self.app.batch_update():
            gone = [k for k in current if k not in visible_set]
            if len(gone) > 50 or (current and len(gone) == len(current)):
                self.clear()
                self._cells.clear()
                current, current_set = [], set()
            else:
                for key in gone:
                    self.remove_row(key)
                    self._cells.pop(key, None)
            for key in visible:
                cells = job_cells(self.jobs[key])
                plain = tuple(_plain(c) for c in cells)
                if key not in current_set:
                    self.add_row(*cells, key=key)
                    self._cells[key] = plain
                elif self._cells.get(key) != plain:
                    old = self._cells.get(key) or ()
                    for i, (col, _label) in enumerate(COLUMNS):
                        if i >= len(old) or old[i] != plain[i]:
                            self.update_cell(key, col, cells[i], update_width=True)
                    self._cells[key] = plain
            now = [row.key.value for row in self.ordered_rows]
            if now != visible:
                position = {k: i for i, k in enumerate(visible)}
                self.sort("id", key=lambda cell: position.get(_plain(cell), 0))
            if keep and keep in visible_set:
                index = self.get_row_index(keep)
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False)
