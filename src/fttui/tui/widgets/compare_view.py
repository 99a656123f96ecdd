"""The Metrics pane's compare view (two or more jobs marked with space in Jobs): a line
chart overlaying one series of every marked job, one colour each, with a legend; and the
diff table — the fields that differ and each job's final and best figures, the same cells
``fttui jobs compare`` prints (``fttui.api.compare.comparison_cells``).

The chart is textual-plotext's ``PlotextPlot``, imported and mounted the first time a
chart is drawn: plotext costs ~0.2 s to import, which nobody who never compares should pay
(and not before the first frame).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from fttui.tui.widgets.measured_table import MeasuredTable

#: The series the chart can show, in the order ``s`` cycles them (those present only).
CHART_SERIES = (
    ("train_loss", "Train loss"),
    ("valid_loss", "Validation loss"),
    ("train_mean_token_accuracy", "Train token accuracy"),
    ("valid_mean_token_accuracy", "Valid token accuracy"),
    ("train_reward_mean", "Train reward (mean)"),
    ("valid_reward_mean", "Valid reward (mean)"),
)
SERIES_LABELS = dict(CHART_SERIES)

#: One colour per marked job, in marking order (RGB: the chart and the table's headers
#: show the same colour, whatever the terminal's palette).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 175, 215),
    (215, 95, 175),
    (135, 215, 0),
    (255, 175, 0),
    (175, 135, 255),
    (255, 95, 95),
    (0, 215, 175),
    (215, 215, 95),
)


def colour_of(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def rich_colour(rgb: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*rgb)


def legend_label(job_id: str, suffix: Any) -> str:
    """A job's name in the legend and the table: its id, and its suffix when it has one."""
    return f"{job_id} {suffix}" if suffix else job_id


@dataclass(frozen=True)
class ChartLine:
    """One job's line on the chart (kept so tests and the header can say what is drawn)."""

    job_id: str
    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


class CompareView(Vertical):
    """The chart above the diff table."""

    DEFAULT_CSS = """
    CompareView { height: 1fr; }
    CompareView > #compare-chart-box { height: 1fr; min-height: 10; }
    CompareView #compare-chart { height: 1fr; }
    CompareView #compare-empty { height: 1fr; color: $text-muted; content-align: center middle; }
    CompareView > #compare-diff { height: auto; max-height: 45%; margin-top: 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: list[ChartLine] = []
        #: the job ids the table's columns are for, and each row's cells as shown
        self._columns: tuple[str, ...] = ()
        self._cells: dict[str, list[str]] = {}
        self._plot: Any = None

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-chart-box"):
            yield Static("No points yet.", id="compare-empty")
        table: DataTable[Text] = MeasuredTable(
            id="compare-diff", cursor_type="row", zebra_stripes=True
        )
        yield table

    @property
    def diff(self) -> DataTable[Text]:
        return self.query_one("#compare-diff", DataTable)

    # -- the chart ------------------------------------------------------------------------
    def set_chart(self, lines: Sequence[ChartLine], *, title: str, x_label: str) -> None:
        """Draw ``lines`` (one per job, in marking order: colour i is job i)."""
        self.lines = list(lines)
        drawn = [line for line in self.lines if line.xs]
        box = self.query_one("#compare-chart-box")
        empty = self.query_one("#compare-empty", Static)
        if not drawn:
            empty.update(Text(f"{title}: no points yet for the marked jobs.", style="dim"))
            empty.display = True
            if self._plot is not None:
                self._plot.display = False
            return
        if self._plot is None:
            from textual_plotext import PlotextPlot  # lazy: see the module's docstring

            self._plot = PlotextPlot(id="compare-chart")
            box.mount(self._plot)
        empty.display = False
        self._plot.display = True
        plt = self._plot.plt
        plt.clear_data()
        plt.title(title)
        plt.xlabel(x_label)
        for i, line in enumerate(self.lines):
            if line.xs:
                plt.plot(
                    list(line.xs),
                    list(line.ys),
                    label=line.label,
                    color=colour_of(i),
                    marker="braille",
                )
        self._plot.refresh()

    # -- the diff table ------------------------------------------------------------------
    def set_diff(
        self,
        job_ids: Sequence[str],
        labels: Mapping[str, str],
        cells: Sequence[tuple[str, list[str]]],
    ) -> None:
        """The table: a column per job (headed by its legend label, in its colour), a row
        per ``cells`` entry. Rows are keyed on their label: while the same jobs are shown
        with the same rows, only the cells that changed are updated."""
        table = self.diff
        ids = tuple(job_ids)
        with self.app.batch_update():
            if ids != self._columns:
                table.clear(columns=True)
                table.add_column(Text("field", style="bold"), key="field")
                for i, job_id in enumerate(ids):
                    style = f"bold {rich_colour(colour_of(i))}"
                    table.add_column(Text(labels.get(job_id, job_id), style=style), key=job_id)
                self._columns = ids
                self._cells = {}
            if [label for label, _ in cells] != list(self._cells):
                table.clear()
                for label, values in cells:
                    # Text, never str: a metadata value is the user's text, not markup
                    table.add_row(Text(label, style="dim"), *map(Text, values), key=label)
            else:
                for label, values in cells:
                    old = self._cells[label]
                    for job_id, value, was in zip(ids, values, old, strict=True):
                        if value != was:
                            table.update_cell(label, job_id, Text(value), update_width=True)
            self._cells = {label: list(values) for label, values in cells}

    @property
    def diff_rows(self) -> dict[str, list[str]]:
        """label → the cells shown, per job (what a test reads)."""
        return dict(self._cells)
