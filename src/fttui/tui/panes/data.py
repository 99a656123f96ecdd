"""Pane 1 — Data: open a training file, read its examples, lint it, prepare it.

Layout: a one-line header (file, size, indexing / linting progress) above the example list
(``DatasetPreview``, instant on a 1 GB file) and the example under its cursor
(``ExampleView``); on the right the linter's findings grouped by code (``FindingsList``)
and the token statistics with the epoch / cost estimate.

All file work runs in thread workers that report back with messages: indexing line
offsets (``fttui.datasets.lineindex``), linting (``fttui.datasets.lint_path`` with
progress and ``should_stop``), preparing (``fttui.datasets.prepare.prepare_file``).
Opening another file cancels the workers of the previous one.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import ProgressBar, Static
from textual.worker import get_current_worker

from fttui.text import human_size
from fttui.text import plural as _plural
from fttui.tui.panes.base import Pane
from fttui.tui.widgets.dataset_preview import DatasetPreview
from fttui.tui.widgets.example_view import ExampleView
from fttui.tui.widgets.findings_list import FindingsList

if TYPE_CHECKING:  # the dataset modules load when a file is opened, not at start-up
    from fttui.datasets.findings import LintReport
    from fttui.datasets.lineindex import LineIndex, RecordsSource
    from fttui.datasets.prepare import PrepareResult

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
#: the TUI lists at most this many findings (the rest are counted)
MAX_FINDINGS = 20_000
PROGRESS_INTERVAL = 0.1
#: the index worker waits at most this long for the first rows to be painted
FIRST_PAINT_WAIT = 0.5


def prepared_path(src: str) -> str:
    """A new file next to ``src`` for its prepared copy: ``name.prepared.jsonl`` (or -2…)."""
    path = Path(src)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    candidate = path.with_name(f"{stem}.prepared.jsonl")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{stem}.prepared-{n}.jsonl")
        n += 1
    return str(candidate)


# -- worker → UI messages ---------------------------------------------------------------


@dataclass
class IndexProgress(Message):
    """More of the file is indexed (``done`` when finished)."""

    token: int
    scanned: int
    total: int
    done: bool
    painted: threading.Event | None = None

    def can_replace(self, message: Message) -> bool:
        # Textual asks the *older* queued message whether ``message``, a newer one, may
        # supersede it. Plain progress may be dropped; the first-paint handshake (it starts
        # the linter) and the final "done" must always be handled.
        return isinstance(message, IndexProgress) and not self.done and self.painted is None


@dataclass
class IndexFailed(Message):
    token: int
    error: str


@dataclass
class LintProgress(Message):
    token: int
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LintProgress)


@dataclass
class LintFinished(Message):
    """The linter's report (``report`` is None and ``error`` set when it failed)."""

    token: int
    report: LintReport | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class PrepareFinished(Message):
    src: str
    result: PrepareResult | None = None
    error: str | None = None


# -- the stats panel ----------------------------------------------------------------------


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    try:
        return f"{round(value):,}"
    except (TypeError, ValueError):
        return str(value)


#: below this many columns the token table (label + 5 figures) no longer fits: each row
#: becomes one line of mean and range
STATS_TABLE_WIDTH = 40


def render_stats(report: LintReport, width: int = 0) -> Table:
    """Format, token statistics and the epoch / billed tokens / cost estimate; ``width``
    (0: unknown, as wide as needed) picks the token table or its narrow form."""
    stats = report.stats or {}
    est = report.estimate or {}
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("format", f"{report.format} · {report.examples:,} examples")
    encoding = stats.get("encoding")
    exact = stats.get("tokens_exact")
    if encoding or exact is not None:
        grid.add_row("tokens", f"{encoding or '?'} ({'exact' if exact else 'estimate'})")
    rows = [
        (label, values)
        for key, label in (("total_tokens", "total"), ("assistant_tokens", "assistant"))
        if isinstance(values := stats.get(key), dict)
    ]
    if rows and 0 < width < STATS_TABLE_WIDTH:
        grid.add_row("", Text("mean · min–max", style="dim"))
        for label, values in rows:
            grid.add_row(
                label,
                f"{_num(values.get('mean'))} · {_num(values.get('min'))}–{_num(values.get('max'))}",
            )
    elif rows:
        table = Table(box=None, padding=(0, 1), show_edge=False, pad_edge=False)
        table.add_column("", style="bold")
        for col in ("min", "mean", "p10", "p90", "max"):
            table.add_column(col, justify="right", style="")
        for label, values in rows:
            table.add_row(
                label, *(_num(values.get(c)) for c in ("min", "mean", "p10", "p90", "max"))
            )
        grid.add_row("", table)
    if est:
        grid.add_row("model", str(est.get("model", "?")))
        limit = est.get("token_limit")
        if limit:
            grid.add_row("limit", f"{_num(limit)} tokens per example")
        grid.add_row(
            "epochs", f"{_num(est.get('n_epochs'))} (default for {report.examples:,} examples)"
        )
        billed = Text(f"{_num(est.get('billed_tokens'))} tokens")
        over = est.get("examples_over_limit") or 0
        if over:
            billed.append(f" · {over:,} over the limit (truncated)", style="bold yellow")
        grid.add_row("billed", billed)
        cost = est.get("cost")
        price = est.get("price_per_million")
        if cost is not None:
            grid.add_row("cost", f"${cost:,.2f} at ${price:,.2f} / 1M tokens")
        else:
            grid.add_row("cost", Text("— no price known: m sets one", style="dim"))
    return grid


class StatsPanel(Static):
    """The token statistics and estimate of a report, laid out for the panel's width."""

    report: LintReport | None = None

    def show_report(self, report: LintReport) -> None:
        self.report = report
        self.update(render_stats(report, self.content_size.width))

    def show_text(self, text: Text) -> None:
        self.report = None
        self.update(text)

    def on_resize(self) -> None:
        # the panel's width follows the terminal's (40% of it below 115 columns)
        if self.report is not None:
            self.update(render_stats(self.report, self.content_size.width))


class EmptyHint(Static, can_focus=True):
    """What the pane shows before a file is open (focusable, so the pane's keys work)."""


class DataPane(Pane):
    """Pane 1: a training file's examples, findings, token stats and estimate."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open", "Open file", id="data.open"),
        Binding("P", "prepare", "Prepare", id="data.prepare"),
        Binding("L", "lint", "Lint again", id="data.lint"),
        Binding("m", "lint_options", "Model & price", id="data.lint_options"),
        Binding("n", "create_job", "New job", id="data.create_job"),
        # Not in the footer: at 120 columns the keys overflowed under ^p palette (? lists it).
        Binding("f", "focus_findings", "Findings", show=False, id="data.focus_findings"),
        Binding("e", "focus_example", "Example", show=False, id="data.focus_example"),
        Binding("escape", "focus_preview", "Back to list", show=False, id="data.back"),
    ]

    # -- what the header shows: each change redraws it (the watch_* methods below) --
    #: the open file (None: none yet)
    path: var[str | None] = var(None, init=False)
    #: its size in bytes, when opened
    file_size: var[int] = var(0, init=False)
    #: the lines (rows of a CSV/XLSX) indexed so far: the preview's count
    rows: var[int] = var(0, init=False)
    source: var[LineIndex | RecordsSource | None] = var(None, init=False)
    #: "indexing 40%" while the file is scanned, "" once it is
    index_state: var[str] = var("", init=False)
    #: "linting 40%" while it is linted, "" once the report (or the error) is in
    lint_state: var[str] = var("", init=False)
    report: var[LintReport | None] = var(None, init=False)
    lint_error: var[str | None] = var(None, init=False)
    index_error: var[str | None] = var(None, init=False)

    def __init__(
        self, *, id: str | None = "data", classes: str | None = None, model: str = DEFAULT_MODEL
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.model = model
        #: the model m chose (None: the default), which a new job's form starts from
        self.chosen_model: str | None = None
        self.price_per_million: float | None = None
        self._token = 0  # bumps on every open: messages of older files are ignored
        self._lint_token = 0  # bumps on every lint run
        self._lint_pending = False
        self._pending_line: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="data-header"):
            yield Static("No file open", id="data-header-text")
            yield ProgressBar(total=100, show_eta=False, id="data-progress")
        yield EmptyHint(
            Text.assemble(
                ("No training file open.\n\n", "bold"),
                "Press ",
                ("o", "bold reverse"),
                " to open one (JSONL, JSON, CSV, TSV or XLSX),\nor start the app with ",
                ("fttui data FILE", "bold"),
                ".",
            ),
            id="data-empty",
        )
        with Horizontal(id="data-body"):
            with Vertical(id="data-left"):
                preview = DatasetPreview(id="data-preview")
                preview.border_title = "Examples"
                yield preview
                example = ExampleView(id="data-example")
                example.border_title = "Example"
                yield example
            with Vertical(id="data-right"):
                findings = FindingsList(id="data-findings")
                findings.border_title = "Findings"
                yield findings
                stats = StatsPanel("", id="data-stats")
                stats.border_title = "Tokens & estimate"
                yield stats

    # -- opening ------------------------------------------------------------------------
    @property
    def preview(self) -> DatasetPreview:
        return self.query_one("#data-preview", DatasetPreview)

    @property
    def findings(self) -> FindingsList:
        return self.query_one("#data-findings", FindingsList)

    @property
    def example(self) -> ExampleView:
        return self.query_one("#data-example", ExampleView)

    def open_file(self, path: str) -> None:
        """Show ``path``: index it and lint it in workers; the first rows show at once."""
        from fttui.datasets.lineindex import open_source

        path = os.path.abspath(os.path.expanduser(str(path)))
        try:
            if os.path.isdir(path):
                raise IsADirectoryError(f"{path} is a folder")
            source = open_source(path)
            size = os.path.getsize(path)
        except OSError as exc:
            message = f"Cannot open {path}: {exc.strerror or exc}"
            self.notify(message, title="Open file", severity="error")
            if self.path is None:
                self._set_header(Text(message, style="bold red"))
            return
        self._close_source()
        self._token += 1
        self.path = path
        self.source = source
        self.file_size = size
        self.index_error = None
        self._pending_line = None
        self.index_state = "indexing…"
        self.add_class("-open")
        self.preview.set_source(source)
        self.rows = self.preview.row_count
        self.preview.border_title = f"Examples — {os.path.basename(path)}"
        self.example.show(None)
        self._lint_pending = True  # starts once the first rows are on screen
        self._index(source, self._token)
        self.preview.focus()

    def _close_source(self) -> None:
        for group in ("data-index", "data-lint"):
            self.workers.cancel_group(self, group)
        # a lint of the old file may have finished already, its answer still queued: bumping
        # the token drops it (it would put the old file's report and markers on the new one)
        self._lint_token += 1
        self.report = None
        self.lint_error = None
        if self.source is not None:
            old = self.source
            self.source = None
            # the index worker may still be reading it: close once it has stopped
            self.set_timer(2.0, old.close)

    def on_unmount(self) -> None:
        if self.source is not None:
            self.source.close()

    def reload(self) -> None:
        """Read the file again (the app's refresh, ``r``)."""
        if self.path:
            self.open_file(self.path)

    def refresh_now(self, **_: Any) -> None:
        self.reload()

    def focus_default(self) -> None:
        """Focus what the keys of this pane act on: the example list, or the empty hint."""
        if self.path is not None:
            self.preview.focus()
        else:
            self.query_one("#data-empty", EmptyHint).focus()

    # -- header ---------------------------------------------------------------------------
    def _set_header(self, text: Text | str) -> None:
        self.query_one("#data-header-text", Static).update(text)

    def _update_header(self) -> None:
        """Draw the header from the state above (called by its watchers, never by hand)."""
        if self.path is None:
            return
        # Each field is a list of (text, style) pieces; fields are joined by " · ".
        # Spaces go at the end of a span, never the start: SVG renderers (screenshots,
        # snapshots) drop a span's leading spaces and the text runs together.
        fields: list[list[tuple[str, str]]] = [
            [(os.path.basename(self.path), "bold")],
            [(human_size(self.file_size), "dim")],
        ]
        unit = "rows" if type(self.source).__name__ == "RecordsSource" else "lines"
        fields.append([(f"{self.rows:,} {unit}", "")])
        if self.index_state:
            fields[-1].append((f"({self.index_state})", "italic"))
        if self.report is not None:
            errors = sum(1 for f in self.report.findings if f.severity == "error")
            warnings = sum(1 for f in self.report.findings if f.severity == "warning")
            fields.append([(f"{self.report.examples:,} examples", "")])
            fields.append(
                [
                    (_plural(errors, "error"), "bold red" if errors else "green"),
                    (",", ""),
                    (_plural(warnings, "warning"), "yellow" if warnings else "green"),
                ]
            )
        elif self.lint_state:
            fields.append([(self.lint_state, "italic")])
        if self.lint_error:
            fields.append([(f"lint failed: {self.lint_error}", "bold red")])
        if self.index_error:
            fields.append([(self.index_error, "bold red")])
        text = Text()
        for i, field in enumerate(fields):
            if i:
                text.append("  ", style=fields[i - 1][-1][1])
                text.append("·  ", style="dim")
            for j, (piece, style) in enumerate(field):
                if j and piece != ",":
                    text.append(" ", style=field[j - 1][1])
                text.append(piece, style=style)
        self._set_header(text)

    # each piece of the header's state redraws it when it changes
    watch_path = watch_file_size = watch_rows = watch_source = _update_header
    watch_index_state = watch_lint_state = watch_report = _update_header
    watch_lint_error = watch_index_error = _update_header

    # -- indexing -------------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="data-index",
        exit_on_error=False,
        description="index the lines of the data file",
    )
    def _index(self, source: Any, token: int) -> None:
        worker = get_current_worker()
        last = 0.0
        painted = threading.Event()

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if last == 0.0:
                # the top of the file is indexed: let the UI paint it before the rest of
                # the scan (and the linter) compete with it for the GIL
                last = now
                self.post_message(IndexProgress(token, done, total, False, painted))
                painted.wait(FIRST_PAINT_WAIT)
            elif now - last >= PROGRESS_INTERVAL:
                last = now
                self.post_message(IndexProgress(token, done, total, False))

        try:
            finished = source.scan(progress=progress, should_stop=lambda: worker.is_cancelled)
        except Exception as exc:  # unreadable file, bad CSV, ...
            self.post_message(IndexFailed(token, _error_text(exc)))
            return
        if finished:
            self.post_message(IndexProgress(token, 1, 1, True))

    def on_index_progress(self, message: IndexProgress) -> None:
        message.stop()
        if message.token != self._token:
            return
        preview = self.preview
        preview.grow()
        self.rows = preview.row_count
        if message.painted is not None:
            # first rows: paint them, then let the scan go on and the linter start
            self.call_after_refresh(message.painted.set)
            if self._lint_pending:
                self._lint_pending = False
                self.call_after_refresh(self._start_lint)
        if message.done:
            self.index_state = ""
        else:
            pct = 100 * message.scanned / max(1, message.total)
            self.index_state = f"indexing {pct:.0f}%"
        if self._pending_line is not None and (
            preview.go_to_line(self._pending_line) or message.done
        ):
            self._pending_line = None

    def on_index_failed(self, message: IndexFailed) -> None:
        message.stop()
        if message.token != self._token:
            return
        self.index_error = f"cannot read the file: {message.error}"
        self.index_state = ""
        if self._lint_pending:  # the linter says more about why
            self._lint_pending = False
            self._start_lint()
        self.preview.grow()
        self.rows = self.preview.row_count
        self.notify(self.index_error, title="Open file", severity="error")

    # -- linting --------------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="data-lint",
        exit_on_error=False,
        description="lint the data file",
    )
    def _lint(self, path: str, token: int) -> None:
        worker = get_current_worker()
        last = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL:
                last = now
                self.post_message(LintProgress(token, done, total))

        started = time.monotonic()
        try:
            from fttui.config import price_for
            from fttui.tui.lint_process import lint

            price = self.price_per_million
            if price is None:  # the config's [prices] entry for the model, if any
                price = price_for(self.model)
            report = lint(  # a big file lints in a child process: the UI keeps the GIL
                path,
                model=self.model,
                price_per_million=price,
                max_findings=MAX_FINDINGS,
                progress=progress,
                should_stop=lambda: worker.is_cancelled,
            )
        except Exception as exc:
            if not worker.is_cancelled:
                self.post_message(LintFinished(token, error=_error_text(exc)))
            return
        if not worker.is_cancelled and report is not None:
            self.post_message(LintFinished(token, report, seconds=time.monotonic() - started))

    def on_lint_progress(self, message: LintProgress) -> None:
        message.stop()
        if message.token != self._lint_token:
            return
        bar = self.query_one("#data-progress", ProgressBar)
        bar.add_class("-running")
        bar.update(total=max(1, message.total), progress=message.done)
        pct = 100 * message.done / max(1, message.total)
        self.lint_state = f"linting {pct:.0f}%"

    def on_lint_finished(self, message: LintFinished) -> None:
        message.stop()
        if message.token != self._lint_token:
            return
        self.query_one("#data-progress", ProgressBar).remove_class("-running")
        self.lint_state = ""
        stats = self.query_one("#data-stats", StatsPanel)
        if message.error is not None:
            self.lint_error = message.error
            self.findings.set_findings([], note=f"lint failed: {message.error}")
            stats.show_text(Text(f"lint failed: {message.error}", style="bold red"))
            self.notify(message.error, title="Lint", severity="error")
            return
        report = message.report
        if report is None:  # not sent: a lint without an error always has its report
            return
        self.report = report
        self.findings.set_findings(report.findings, truncated=report.findings_truncated)
        self.preview.set_markers(self.findings.markers())
        stats.show_report(report)
        self._show_current()

    # -- the example under the cursor -----------------------------------------------------
    @on(DatasetPreview.CursorMoved)
    def _cursor_moved(self, event: DatasetPreview.CursorMoved) -> None:
        event.stop()
        self._show_current()

    def _show_current(self) -> None:
        preview = self.preview
        try:
            row = preview.current_row()
        except (OSError, IndexError, ValueError) as exc:
            self.example.show(None)
            self.notify(f"Cannot read this line: {exc}", severity="error")
            return
        if row is None:
            self.example.show(None)
            return
        self.example.show(row, self.findings.findings_on(row.line))
        self.example.border_title = f"Example — line {row.line}"

    @on(DatasetPreview.Opened)
    def _preview_opened(self, event: DatasetPreview.Opened) -> None:
        event.stop()
        self.example.focus()

    @on(FindingsList.FindingSelected)
    def _finding_selected(self, event: FindingsList.FindingSelected) -> None:
        event.stop()
        finding = event.finding
        self.go_to_finding(finding)

    def go_to_finding(self, finding: Any) -> None:
        """Put the preview's cursor on ``finding``'s example (file findings: say so)."""
        line = getattr(finding, "line", None)
        if line is None:
            self.notify(f"{finding.code}: {finding.message}", title="About the whole file")
            return
        if getattr(finding, "file", None) and finding.file != self.path:
            self.notify(f"line {line} of {finding.file}: {finding.message}")
            return
        if not self.preview.go_to_line(line):
            self._pending_line = line
            self.notify(f"Line {line} is not indexed yet: going there when it is.")

    # -- the user's editor ----------------------------------------------------------------
    @on(FindingsList.EditRequested)
    def _edit_requested(self, event: FindingsList.EditRequested) -> None:
        event.stop()
        self.edit_at(event.finding)

    def edit_at(self, finding: Any) -> None:
        """``E`` on a finding: suspend the app, run ``$VISUAL`` / ``$EDITOR`` on the file at
        the finding's line, then read and lint the file again."""
        from textual.app import SuspendNotSupported

        from fttui.tui.editor import EditorError, editor_command, run_editor

        if self.path is None:
            return
        path = self.path
        line = getattr(finding, "line", None)
        other = getattr(finding, "file", None)
        if other and other != path:
            path = other  # a finding of the validation file: that file
        try:
            argv = editor_command(path, line)
        except EditorError as exc:
            self.notify(str(exc), title="Edit", severity="error", markup=False)
            return
        try:
            with self.ftapp.suspend():
                result = run_editor(argv)  # inside: an editor that fails must not stop resume
        except SuspendNotSupported:
            # fttui web, or no terminal to hand over: the editor would draw over the app
            self.notify(
                f"cannot hand the terminal to an editor here: edit {path}"
                + (f" at line {line}" if line else "")
                + " yourself, then L lints it again",
                title="Edit",
                severity="warning",
                markup=False,
            )
            return
        self.edited(path, line, result)

    def edited(self, path: str, line: int | None, result: Any) -> None:
        """After the editor: say how it ended, read the file again, lint it again and go
        back to the line (the finding is gone when the edit fixed it)."""
        if result.error is not None:
            self.notify(result.error, title="Edit", severity="error", markup=False)
            return
        if result.returncode:
            self.notify(
                f"the editor exited with status {result.returncode}: reading the file again",
                title="Edit",
                severity="warning",
                markup=False,
            )
        if path != self.path:
            self.notify(f"{path} edited: L lints the training file again", title="Edit")
            return
        self.open_file(path)
        if line:
            self._pending_line = line  # once indexed that far (see on_index_progress)

    # -- actions --------------------------------------------------------------------------
    def action_open(self) -> None:
        from fttui.tui.screens.file_picker import FilePickerScreen

        def chosen(path: str | None) -> None:
            if path:
                self.open_file(path)

        self.ftapp.push_screen(FilePickerScreen(start=self.path), chosen)

    def action_lint(self) -> None:
        """Lint the open file again (e.g. after editing it elsewhere)."""
        if self.path is None:
            self.notify("Open a file first (o).", severity="warning")
            return
        self._start_lint()

    def action_lint_options(self) -> None:
        """Choose the target model (and a price) for the estimate, then lint again."""
        from fttui.tui.screens.lint_options import LintOptionsScreen

        def chosen(value: tuple[str, float | None] | None) -> None:
            if value is None:
                return
            self.model, self.price_per_million = value
            self.chosen_model = self.model
            if self.path is not None:
                self._start_lint()

        self.ftapp.push_screen(LintOptionsScreen(self.model, self.price_per_million), chosen)

    def _start_lint(self) -> None:
        self._lint_token += 1
        self.report = None
        self.lint_error = None
        self.lint_state = "linting…"
        self.findings.set_findings([], note="linting…")
        self.query_one("#data-stats", StatsPanel).show_text(Text("linting…", style="dim"))
        assert self.path is not None
        self._lint(self.path, self._lint_token)

    def action_prepare(self) -> None:
        if self.path is None:
            self.notify("Open a file first (o).", severity="warning")
            return
        self.notify(f"Preparing {os.path.basename(self.path)}…", title="Prepare")
        self._prepare(self.path)

    @work(
        thread=True,
        exclusive=True,
        group="data-prepare",
        exit_on_error=False,
        description="prepare the data file",
    )
    def _prepare(self, src: str) -> None:
        worker = get_current_worker()
        try:
            from fttui.datasets.prepare import prepare_file

            result = prepare_file(src, prepared_path(src))
        except Exception as exc:
            if not worker.is_cancelled:
                self.post_message(PrepareFinished(src, error=_error_text(exc)))
            return
        if not worker.is_cancelled:  # P pressed again meanwhile: that run reports
            self.post_message(PrepareFinished(src, result))

    def on_prepare_finished(self, message: PrepareFinished) -> None:
        message.stop()
        if message.error is not None:
            self.notify(message.error, title="Prepare failed", severity="error", timeout=10)
            return
        from fttui.tui.screens.prepare_result import PrepareResultScreen

        def done(open_path: str | None) -> None:
            if open_path:
                self.open_file(open_path)

        self.ftapp.push_screen(PrepareResultScreen(message.src, message.result), done)

    def action_create_job(self) -> None:
        if self.ftapp.read_only:
            self.notify("Read-only mode: creating jobs is disabled.", severity="warning")
            return
        from fttui.tui.screens.create_job import CreateJobScreen

        def created(job_id: str | None) -> None:
            if job_id:
                from fttui.tui.messages import JobCreated

                self.notify(f"Created {job_id}", title="New job")
                self.post_message(JobCreated(job_id))

        self.ftapp.push_screen(
            CreateJobScreen(training_file=self.path, model=self.chosen_model), created
        )

    def action_focus_findings(self) -> None:
        if self.path is not None:
            self.findings.focus()

    def action_focus_example(self) -> None:
        if self.path is not None:
            self.example.focus()

    def action_focus_preview(self) -> None:
        if self.path is not None:
            self.preview.focus()


def _error_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__
