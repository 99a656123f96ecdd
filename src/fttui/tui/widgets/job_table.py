"""The jobs table: keyed, flicker-free updates that keep the cursor on its job.

The columns are sized here, not by the DataTable: every column gets the width of its
longest visible cell, and the fine-tuned model name (the longest, and the one column whose
start repeats the Model column) gets what is left of the table's width, shortened in the
middle, so the whole row fits without a horizontal scrollbar (at 120 columns it was cut).
On a narrow terminal only the columns that fit show, most useful first (Fine-tuned model,
Created, Tokens), then the model name is shortened: ID and Status always show (at 60 columns only ID
and Model did).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, cast

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.css.styles import RenderStyles
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row

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
    ("sweep", "Sweep"),
    ("created", "Created"),
    ("tokens", "Tokens"),
    ("fine_tuned_model", "Fine-tuned model"),
)
COLUMN_KEYS = tuple(key for key, _label in COLUMNS)
#: Always shown (the Model column narrows first).
ESSENTIAL = ("id", "model", "status")
#: The other columns, most useful first: each is shown when it fits beside those before.
#: Sweep shows only while a listed job belongs to one (``metadata.sweep``).
OPTIONAL_ORDER = ("fine_tuned_model", "sweep", "created", "tokens")
#: Columns sorted biggest first when first chosen (the newest, the most tokens).
DESCENDING_FIRST = frozenset({"created", "tokens"})
#: The mark of a job marked with space (for comparing), before its id.
MARK = "● "

#: The narrowest the fine-tuned model column gets (its label) before it is left out.
MIN_FT_WIDTH = len("Fine-tuned model")
#: The narrowest the Model column gets ("gpt-4…"), once every other column has gone.
MIN_MODEL_WIDTH = 6
#: The narrowest the ID column gets ("ftjob-…fZ8") when even that is not enough.
MIN_ID_WIDTH = 12


def text_width(text: str) -> int:
    """Cells ``text`` takes: len() for ASCII (ids, models, dates), 3x quicker than
    cell_len on 5,000 rows."""
    return len(text) if text.isascii() else cell_len(text)


class FitText(Text):
    """A cell that holds its whole text and is shortened when it is drawn, to the width
    its column has then (here: cut at the end, as a base model's name is): a column that
    narrows or widens (a sort's header arrow, a resize) is drawn right without building
    its 5,000 cells again (each such rebuild cost 0.1–0.3 s on 5,000 jobs)."""

    __slots__ = ()

    def shorten(self, text: str, width: int) -> str:
        return elide_end(text, width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        width = options.max_width
        plain = self.plain
        if text_width(plain) <= width:
            yield from super().__rich_console__(console, options)
            return
        short = Text(self.shorten(plain, width), style=self.style, end=self.end)
        yield from short.__rich_console__(console, options)


class KeyText(FitText):
    """An ID cell that knows its row (a shortened id no longer says which job it is),
    cut in the middle."""

    __slots__ = ("row_key",)

    def __init__(self, text: str, row_key: str) -> None:
        super().__init__(text)
        self.row_key = row_key

    def shorten(self, text: str, width: int) -> str:
        return elide_middle(text, width)


class ModelNameText(FitText):
    """A fine-tuned model's name, shortened by ``short_model_name``."""

    __slots__ = ("base",)

    def __init__(self, text: str, base: str) -> None:
        super().__init__(text)
        self.base = base

    def shorten(self, text: str, width: int) -> str:
        return short_model_name(text, self.base, width)


#: ``ls -l`` style: recent jobs show the time of day, older ones the year.
RECENT_SECONDS = 182 * 24 * 3600


def format_time(ts: Any) -> str:
    if not ts:
        return "—"
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(int(ts)))
    except (TypeError, ValueError, OverflowError):
        return str(ts)


def format_when(ts: Any, *, now: float | None = None) -> str:
    """A 12-character creation time for the table, as ``ls -l`` writes it:
    ``Nov 21 20:51`` within half a year of now, ``Nov 21  2024`` before that."""
    if not ts:
        return "—"
    try:
        t = time.localtime(int(ts))
    except (TypeError, ValueError, OverflowError):
        return str(ts)
    now = time.time() if now is None else now
    tail = time.strftime("%H:%M", t) if abs(now - int(ts)) < RECENT_SECONDS else f" {t.tm_year}"
    return f"{time.strftime('%b', t)} {t.tm_mday:>2} {tail}"


def elide_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with "…" in the middle; the end (a model's suffix
    and id, what tells two models apart) keeps two thirds of the room."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    keep = width - 1
    head = keep // 3
    tail = keep - head
    return text[:head] + "…" + text[len(text) - tail :]


def short_model_name(name: str, base: str, width: int) -> str:
    """A fine-tuned model name in ``width`` cells. ``ft:BASE:ORG:SUFFIX:ID`` first loses
    BASE (the Model column shows it), then ORG (the same on every row), then its middle."""
    if cell_len(name) <= width:
        return name
    parts = name.split(":")
    if len(parts) < 4 or parts[0] != "ft":
        return elide_middle(name, width)
    candidates = ["ft:…:" + ":".join(parts[2:])] if base and parts[1] == base else []
    candidates.append("ft:…:" + ":".join(parts[3:]))
    for candidate in candidates:
        if cell_len(candidate) <= width:
            return candidate
    rest = ":".join(parts[3:])
    return "ft:" + elide_middle(rest, width - 3) if width > 8 else elide_middle(name, width)


def elide_end(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, ending in "…" (a model's name starts with what
    tells it apart: ``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mi…``)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    out = text[: width - 1]
    while cell_len(out) > width - 1:
        out = out[:-1]
    return out + "…"


def format_step(progress: tuple[int, int | None] | None) -> str:
    """A job's progress as ``12/48`` (``12`` when the total is not known), else ``""``."""
    if not progress:
        return ""
    step, total = progress
    return f"{step}/{total}" if total else str(step)


def format_eta(estimated_finish: Any, now: float | None = None) -> str:
    """The time left until ``estimated_finish`` (a Unix time) as ``ETA 40s`` / ``ETA 12m``
    / ``ETA 2h05m``; ``""`` when there is none or it has passed."""
    if not isinstance(estimated_finish, int | float) or isinstance(estimated_finish, bool):
        return ""
    left = int(estimated_finish - (time.time() if now is None else now))
    if left <= 0:
        return ""
    if left < 60:
        return f"ETA {left}s"
    if left < 3600:
        return f"ETA {(left + 30) // 60}m"
    hours, rest = divmod(left, 3600)
    return f"ETA {hours}h{rest // 60:02d}m"


def format_progress(
    progress: tuple[int, int | None] | None, estimated_finish: Any = None, now: float | None = None
) -> str:
    """A training job's progress: ``12/48 25% ETA 3m`` (the share when the total is known,
    the time left when the provider estimates it), else ``""``."""
    if not progress:
        return ""
    step, total = progress
    parts = [format_step(progress)]
    if total:
        parts.append(f"{min(100, 100 * step // total)}%")
    eta = format_eta(estimated_finish, now)
    if eta:
        parts.append(eta)
    return " ".join(parts)


def format_tokens(value: Any) -> str:
    if value is None:
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def status_text(
    status: str | None,
    progress: tuple[int, int | None] | None = None,
    estimated_finish: Any = None,
    now: float | None = None,
) -> Text:
    status = str(status or "?")
    text = Text(status, style=STATUS_STYLES.get(status, ""))
    if progress:
        text.append(" " + format_progress(progress, estimated_finish, now), style="dim")
    return text


def sweep_of(job: dict[str, Any]) -> str:
    """The sweep a job belongs to (``metadata.sweep``), or ``""``."""
    meta = job.get("metadata")
    return str(meta.get("sweep") or "") if isinstance(meta, dict) else ""


def job_cells(
    job: dict[str, Any],
    ft_width: int | None = None,
    progress: tuple[int, int | None] | None = None,
    marked: bool = False,
    now: float | None = None,
) -> tuple[Any, ...]:
    """The cells of a job's row, in ``COLUMNS`` order (the fine-tuned model name
    shortened to ``ft_width`` cells when given; ``progress``: its step and total steps;
    ``marked``: the id after ``MARK``)."""
    ft = job.get("fine_tuned_model") or "—"
    if ft_width is not None:
        ft = short_model_name(ft, job.get("model") or "", ft_width)
    active = job.get("status") in ACTIVE_STATUSES
    # Text, never str: DataTable parses a str cell as markup with emoji codes, so a
    # suffix "superhero" showed ft:davinci-002:fttui🦸… and "[b]x[/b]" lost its brackets.
    return (
        Text((MARK if marked else "") + (job.get("id") or "")),
        Text(job.get("model") or ""),
        # a training job's progress beside its status ("running 12/48 25% ETA 3m"): always
        # on screen, where a column of its own would push others out at 120 columns
        status_text(
            job.get("status"), progress if active else None, job.get("estimated_finish"), now
        ),
        Text(sweep_of(job)),
        Text(format_when(job.get("created_at"))),
        Text(format_tokens(job.get("trained_tokens")), justify="right"),
        Text(ft),
    )


#: Statuses whose progress the Step column shows.
ACTIVE_STATUSES = frozenset({"running", "paused", "pausing"})


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def matches(job: dict[str, Any], needle: str) -> bool:
    """True if the job matches the filter text (every word in id/model/status/names)."""
    if not needle:
        return True
    hay = " ".join(
        [
            *(
                str(job.get(k) or "")
                for k in ("id", "model", "status", "fine_tuned_model", "suffix", "training_file")
            ),
            sweep_of(job),
        ]
    ).lower()
    return all(word in hay for word in needle.lower().split())


def _sort_key(column: str) -> Any:
    """The sort key of a job row for ``column`` (ties: the newest first, see ordered_ids)."""
    if column == "tokens":
        return lambda job: job.get("trained_tokens") or -1
    if column == "created":
        return lambda job: job.get("created_at") or 0
    if column == "sweep":
        return sweep_of
    return lambda job: str(job.get(column) or "")


class JobTable(DataTable):
    """All known jobs, newest first (or by ``sort_column``), filtered by ``filter_text``;
    ``marked`` holds the jobs marked for comparing, in the order they were marked."""

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
        #: job id -> (step, total steps) of an active job, as its events last said
        self.progress: dict[str, tuple[int, int | None]] = {}
        #: the keys of the columns shown now (see OPTIONAL_ORDER)
        self.shown: tuple[str, ...] = ()
        self.sort_column = "created"
        self.sort_reverse = True
        #: job id -> None, in marking order (a dict is an ordered set)
        self.marked: dict[str, None] = {}
        #: job id -> how often its mark changed in place (see _sync_mark, _render_line)
        self._mark_version: dict[str, int] = {}
        #: the widest whole text of each column among the rows shown, and whether any row
        #: shows a sweep, as the last _sync found them: _fit_columns sizes the columns by
        #: them, so a new header or width needs no pass over the rows
        self._content: dict[str, int] = dict.fromkeys(COLUMN_KEYS, 0)
        self._any_sweep = False
        #: the width the columns were last fitted to (a pane shown again resizes to it)
        self._fitted_width = -1
        #: bumped whenever ``jobs`` changes: the orders kept by ordered_ids are its
        self._version = 0
        self._order: tuple[tuple[int, str, bool] | None, list[str]] = (None, [])
        self._newest: tuple[int, list[str]] = (-1, [])
        self._sort_keys: dict[str, tuple[int, dict[str, Any]]] = {}
        #: restyled since last drawn, and the styles it was drawn with (notify_style_update)
        self._restyled = False
        self._drawn_style: tuple[Any, ...] | None = None
        #: the sizes of the last Resize (see on_resize)
        self._sizes: tuple[Size, Size, Size] | None = None

    def on_mount(self) -> None:
        self._set_columns(COLUMN_KEYS)
        if self.jobs:
            self._sync()

    def _label(self, key: str) -> str:
        """A column's header: the sorted one says which way (the default order, newest
        first, says nothing: the header reads as it always did)."""
        label = dict(COLUMNS)[key]
        if key != self.sort_column or (key == "created" and self.sort_reverse):
            return label
        return f"{label} {'▼' if self.sort_reverse else '▲'}"

    def _set_columns(self, keys: tuple[str, ...]) -> None:
        """Show these columns (all rows are added again by the next ``_sync``)."""
        self.clear(columns=True)
        self._cells.clear()
        for key in keys:
            self.add_column(self._label(key), key=key)
        self.shown = keys

    # -- sorting and marks --------------------------------------------------------------
    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Order the rows by ``column`` (the same column again: the other way round)."""
        if reverse is None:
            if column == self.sort_column:
                reverse = not self.sort_reverse
            else:
                reverse = column in DESCENDING_FIRST
        self.sort_column, self.sort_reverse = column, reverse
        for col in self.ordered_columns:
            col.label = Text(self._label(str(col.key.value)))
        # Only the order and the headers changed: moving the rows is enough, and a header
        # whose arrow does not fit its column ("Tokens ▼") only resizes the columns (the
        # cells shorten themselves when drawn, see FitText). A whole _sync builds every
        # row's cells again: 0.1–0.3 s for 5,000 jobs, where o has 50 ms. The new headers
        # are drawn once _update_count is bumped (see _apply_widths): once, by _place_rows
        # when the rows move, else here (each bump also makes DataTable build its row
        # order and line offsets again, over all 5,000 rows).
        widths = self._fit_columns()
        if tuple(widths) != self.shown:
            self._update_count += 1
            self._sync()  # a column comes or goes
        else:
            with self.app.batch_update():
                self._apply_widths(widths)
                if not self._reorder():
                    self._update_count += 1
                    self._sync()
        self.refresh()

    def sort_next(self) -> None:
        """The next shown column (after the last, the first)."""
        cols = list(self.shown) or list(COLUMN_KEYS)
        at = cols.index(self.sort_column) if self.sort_column in cols else -1
        self.sort_by(cols[(at + 1) % len(cols)])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def toggle_mark(self, job_id: str) -> bool:
        """Mark or unmark a job; True when it is marked now."""
        if job_id in self.marked:
            del self.marked[job_id]
        elif job_id in self.jobs:
            self.marked[job_id] = None
        if not self._sync_mark(job_id):
            self._sync()
        return job_id in self.marked

    def _sync_mark(self, job_id: str) -> bool:
        """Show a mark by changing that one ID cell's text in place and repainting its row
        (space on 5,000 jobs stays instant); False when the whole table must be synced:
        the marked id does not fit its column (the first mark widens it), or the row is
        not shown.

        Not ``update_cell``: it bumps DataTable's update count, and every cache keyed on
        it goes: the row order and line offsets are rebuilt over all 5,000 rows and every
        visible cell is rendered again, for one cell (space was ~10x a cursor move)."""
        if job_id not in self._cells or "id" not in self.shown:
            return False
        column = self.columns.get(ColumnKey("id"))
        text = (MARK if job_id in self.marked else "") + job_id
        if column is None or column.auto_width:
            return False
        cell = self.get_cell(job_id, "id")
        if not isinstance(cell, KeyText):
            return False
        if len(text) > self._content["id"]:
            # the first mark: the ID column widens for its "● " (the others shorten
            # themselves when drawn: no row is built again)
            self._content["id"] = len(text)
            widths = self._fit_columns()
            if tuple(widths) != self.shown:
                return False
            self._apply_widths(widths)
        # The table's cell and its cached renderable are this object: both say the new
        # text now; _render_line gives the row's lines fresh cache keys to draw it.
        cell.plain = text
        self._mark_version[job_id] = self._mark_version.get(job_id, 0) + 1
        old = self._cells[job_id]
        at = self.shown.index("id")
        self._cells[job_id] = (*old[:at], text, *old[at + 1 :])
        self.refresh_row(self.get_row_index(job_id))
        return True

    def notify_style_update(self) -> None:
        """Textual applies the CSS again to the table whenever its pane is shown again or
        the focus comes and goes, and DataTable then drops every render cache: the switch
        back to Jobs drew every visible cell again (a fifth of its 50 ms). Here the caches
        go only if the table is drawn with other styles than last time (render_lines)."""
        Widget.notify_style_update(self)  # the widget's own style caches, not DataTable's
        self._styles_cache.clear()
        self._restyled = True

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._restyled:
            self._restyled = False
            key = self._style_key()
            if key != self._drawn_style:
                self._drawn_style = key
                # what DataTable.notify_style_update clears
                self._row_render_cache.clear()
                self._cell_render_cache.clear()
                self._row_renderable_cache.clear()
                self._line_cache.clear()
        return super().render_lines(crop)

    def _style_key(self) -> tuple[Any, ...]:
        """What the table's cells are drawn with: its style, and its own rules and its
        components' (cursor, header, hover...), as Textual resolved them."""

        def rules(styles: RenderStyles) -> tuple[dict[str, Any], dict[str, Any]]:
            return dict(styles._base_styles._rules), dict(styles._inline_styles._rules)

        components = sorted(self._component_styles.items())
        return (
            self.rich_style,
            rules(self.styles),
            tuple((name, rules(styles)) for name, styles in components),
        )

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable's line, whose render caches key on the base style among others: the
        lines of a row whose mark changed (``_mark_version``) get a base style carrying
        that version (meta only: it draws the same), so they are rendered again and no
        other line is. Textual is pinned exactly (pyproject), so this private hook holds."""
        if self._mark_version:
            try:
                row_key, _line = self._get_offsets(y)
            except LookupError:
                pass
            else:
                version = self._mark_version.get(cast(str, row_key.value))
                if version:
                    base_style = base_style + Style.from_meta({"fttui_mark": version})
        return super()._render_line(y, x1, x2, base_style)

    def _reorder(self) -> bool:
        """Put the shown rows in ``ordered_ids`` order; False when the shown set differs
        from what should show (then only a ``_sync`` brings it in line)."""
        keep = self.selected_id
        visible = self.visible_ids()
        shown = self._cells  # keyed by the id of every row, as a str (quicker than a RowKey)
        if len(visible) != len(shown) or not all(k in shown for k in visible):
            return False
        with self.app.batch_update():
            self._place_rows(visible)
            if keep is not None:
                self.move_cursor(row=self.get_row_index(keep), animate=False)
        return True

    def _place_rows(self, order: list[str]) -> None:
        """Show the rows (every one of them) in ``order``: what ``DataTable.sort`` does once
        it has sorted, without its sort over every row's cells (the order is known)."""
        rows = cast("dict[str, Row]", self.rows)  # a RowKey hashes and compares as its str
        ordered = [rows[k] for k in order]
        self._row_locations = TwoWayDict({row.key: i for i, row in enumerate(ordered)})
        self._update_count += 1
        # what DataTable.ordered_rows would build again from the locations, key by key
        self._ordered_row_cache[(len(ordered), self._update_count)] = ordered
        self.refresh()

    def set_progress(self, job_id: str, step: int, total: int | None) -> None:
        if self.progress.get(job_id) != (step, total):
            self.progress[job_id] = (step, total)
            if job_id in self.jobs:
                self._sync()

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
        """Every known job id, newest first, or by ``sort_column`` (then newest first).

        Kept until the jobs change (``set_jobs``), with the newest-first order and each
        column's sort keys: ``o`` through the columns and back sorts 5,000 ids by keys
        already made (the caller must not change the list)."""
        at = (self._version, self.sort_column, self.sort_reverse)
        if self._order[0] == at:
            return self._order[1]
        jobs, seq = self.jobs, self._seq
        if self._newest[0] != self._version:
            newest = sorted(jobs, key=lambda j: (jobs[j].get("created_at") or 0, seq.get(j, 0)),
                            reverse=True)  # fmt: skip
            self._newest = (self._version, newest)
        newest = self._newest[1]
        if self.sort_column == "created":
            ids = newest if self.sort_reverse else newest[::-1]
        else:
            keys = self._sort_keys.get(self.sort_column)
            if keys is None or keys[0] != self._version:
                key = _sort_key(self.sort_column)
                keys = (self._version, {j: key(job) for j, job in jobs.items()})
                self._sort_keys[self.sort_column] = keys
            # sorted() is stable: equal keys keep the newest-first order of the first pass
            ids = sorted(newest, key=keys[1].__getitem__, reverse=self.sort_reverse)
        self._order = (at, ids)
        return ids

    def visible_ids(self) -> list[str]:
        if not self.filter_text:
            return list(self.ordered_ids())
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
        self._version += 1  # the orders and sort keys kept (ordered_ids) are made again
        if full:
            fresh = {r["id"]: r for r in rows if r.get("id")}
            self.jobs = fresh
            self.marked = {j: None for j in self.marked if j in fresh}
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

    def on_resize(self, event: events.Resize) -> None:
        # A pane shown again gets a Resize of the size it had: nothing to fit, nothing to
        # draw again. Each one rebuilt every row (0.1–0.3 s on 5,000 jobs) and DataTable's
        # own handler, skipped here, drops every render cache (its _update_count): the
        # switch back to Jobs drew the whole table again, 50 ms of a 50 ms budget.
        sizes = (event.size, event.virtual_size, event.container_size)
        if sizes == self._sizes:
            event.prevent_default()
            return
        self._sizes = sizes
        # A new width re-fits the columns; the cells shorten themselves (FitText).
        if self.size.width == self._fitted_width or not self.shown:
            return
        widths = self._fit_columns()
        if tuple(widths) != self.shown:
            self._sync()
        else:
            self._apply_widths(widths)

    def _available_width(self) -> int:
        """Cells the columns may use: the width less a vertical scrollbar, kept free
        even when none shows (so a list growing past the screen does not re-lay out)."""
        return max(0, self.size.width - self.styles.scrollbar_size_vertical)

    def _measure(self, plain_rows: Iterable[tuple[str, ...]]) -> None:
        """Keep the widest text of each column (in ``COLUMNS`` order) among ``plain_rows``,
        the rows to show, and whether any shows a sweep (see ``_content``)."""
        content = dict.fromkeys(COLUMN_KEYS, 0)
        keys = COLUMN_KEYS
        plain_rows = list(plain_rows)
        at = keys.index("sweep")
        self._any_sweep = any(plain[at] for plain in plain_rows)
        for plain in plain_rows:
            for key, value in zip(keys, plain, strict=True):
                n = text_width(value)
                if n > content[key]:
                    content[key] = n
        self._content = content

    def _fit_columns(self) -> dict[str, int]:
        """Which columns fit and how wide, by the widths ``_measure`` kept: every column as
        wide as its longest visible cell (and its header), the fine-tuned model column gets
        the rest of the width; when the row does not fit, only the columns of
        ``OPTIONAL_ORDER`` that fit are shown, and the Model column narrows when even
        ``ESSENTIAL`` does not. Returns the widths of the columns to show (in ``COLUMNS``
        order): the table shows exactly those after."""
        widths = {key: max(cell_len(self._label(key)), self._content[key]) for key in COLUMN_KEYS}
        keys = COLUMN_KEYS
        any_sweep = self._any_sweep
        pad = 2 * self.cell_padding
        self._fitted_width = self.size.width
        avail = self._available_width()
        if not self.size.width:  # not laid out yet: everything, sized on the first resize
            return {k: w for k, w in widths.items() if k != "sweep" or any_sweep}

        def need(cols: list[str]) -> int:
            fixed = sum(widths[c] for c in cols if c != "fine_tuned_model")
            flexible = MIN_FT_WIDTH if "fine_tuned_model" in cols else 0
            return fixed + flexible + pad * len(cols)

        cols = list(ESSENTIAL)
        for extra in OPTIONAL_ORDER:
            if extra == "sweep" and not any_sweep:
                continue
            if need([*cols, extra]) <= avail:
                cols.append(extra)
        cols.sort(key=keys.index)
        if "fine_tuned_model" in cols:
            room = avail - need(cols) + MIN_FT_WIDTH
            widths["fine_tuned_model"] = max(min(widths["fine_tuned_model"], room), MIN_FT_WIDTH)
        else:
            # Still too wide: the model name narrows, then the id (cut in the middle).
            for col, least in (("model", MIN_MODEL_WIDTH), ("id", MIN_ID_WIDTH)):
                over = need(cols) - avail
                if over > 0:
                    widths[col] = max(min(least, widths[col]), widths[col] - over)
        return {c: widths[c] for c in cols}

    def _apply_widths(self, widths: dict[str, int]) -> None:
        changed = False
        for column in self.ordered_columns:
            width = widths[cast(str, column.key.value)]  # every column is added with a key
            if column.auto_width or column.width != width:
                column.auto_width = False
                column.width = width
                changed = True
        if changed:
            # DataTable has no public call to resize a column: its render caches key on
            # _update_count, and it recomputes its virtual size on idle when asked to.
            self._update_count += 1
            self._require_update_dimensions = True
            self.refresh()

    def _sync(self) -> None:
        """Bring the table in line with ``jobs``/``filter_text`` without a full redraw."""
        if not self.is_mounted or not self.shown:
            return  # not mounted yet: on_mount's columns come first
        keep = self.selected_id
        visible = self.visible_ids()
        visible_set = set(visible)
        marked = self.marked
        rows = {
            key: job_cells(self.jobs[key], progress=self.progress.get(key), marked=key in marked)
            for key in visible
        }
        plains = {key: tuple(_plain(c) for c in cells) for key, cells in rows.items()}
        self._measure(plains.values())
        widths = self._fit_columns()
        shown = tuple(widths)
        with self.app.batch_update():
            if shown != self.shown:
                self._set_columns(shown)  # a resize across a step: rows come back below
            self._apply_widths(widths)
            picks = [COLUMN_KEYS.index(c) for c in shown]
            current = [cast(str, row.key.value) for row in self.ordered_rows]  # keyed by job id
            current_set = set(current)
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
                all_plain = plains[key]
                plain_t = tuple(all_plain[i] for i in picks)
                if key in current_set and self._cells.get(key) == plain_t:
                    continue
                all_cells = rows[key]
                cells = [all_cells[i] for i in picks]
                # whole texts: shortened to their column when drawn (FitText)
                for i, col in enumerate(shown):
                    if col == "id":
                        cells[i] = KeyText(plain_t[i], key)
                    elif col == "model":
                        cells[i] = FitText(plain_t[i])
                    elif col == "fine_tuned_model":
                        cells[i] = ModelNameText(plain_t[i], self.jobs[key].get("model") or "")
                if key not in current_set:
                    self.add_row(*cells, key=key)
                    self._cells[key] = plain_t
                elif self._cells.get(key) != plain_t:
                    old = self._cells.get(key) or ()
                    for i, col in enumerate(shown):
                        if i >= len(old) or old[i] != plain_t[i]:
                            # no update_width: _apply_widths fixed every column's width
                            # above, and DataTable re-measures the whole column for each
                            # cell that got narrower (the first mark narrows every
                            # fine-tuned model cell: 13 s on 1,000 jobs, minutes on 5,000)
                            self.update_cell(key, col, cells[i])
                    self._cells[key] = plain_t
            now = [cast(str, row.key.value) for row in self.ordered_rows]
            if now != visible:
                self._place_rows(visible)
            if keep and keep in visible_set:
                index = self.get_row_index(keep)
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False)
