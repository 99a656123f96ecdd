"""One sparkline per metric series, with its last / min / max values and step count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

#: (series name, label) in display order; names follow ``fttui.api.metrics.SERIES``.
METRICS = (
    ("train_loss", "Train loss"),
    ("valid_loss", "Validation loss"),
    ("train_mean_token_accuracy", "Train token accuracy"),
    ("valid_mean_token_accuracy", "Valid token accuracy"),
    ("full_valid_loss", "Full validation loss"),
    ("full_valid_mean_token_accuracy", "Full valid token accuracy"),
)


#: Width of a value cell in the stats table (``fmt`` gives e.g. ``0.2908``, ``-12.5000``).
VALUE_WIDTH = 8


def mean(values: Sequence[float]) -> float:
    """The bucket summary for the curves (Sparkline's default, max, hides a falling loss)."""
    return sum(values) / len(values) if values else 0.0


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4f}"


class MetricRow(Horizontal):
    """Label + stats on the left, the curve on the right."""

    DEFAULT_CSS = """
    MetricRow { height: 3; margin-bottom: 1; }
    MetricRow > .metric-info { width: 34; height: 3; padding: 0 1; }
    MetricRow > Sparkline { width: 1fr; height: 3; }
    MetricRow > .metric-empty { width: 1fr; height: 3; color: $text-muted; content-align: left middle; }
    MetricRow.-empty > Sparkline { display: none; }
    MetricRow > .metric-empty { display: none; }
    MetricRow.-empty > .metric-empty { display: block; }
    """

    def __init__(self, name: str, label: str, **kwargs) -> None:
        super().__init__(id=f"metric-{name}", classes="-empty", **kwargs)
        self.series_name = name
        self.label = label
        self.points: list[tuple[int, float]] = []

    def compose(self) -> ComposeResult:
        yield Static(self._info(), classes="metric-info")
        yield Sparkline([], summary_function=mean)
        yield Static("no data yet", classes="metric-empty")

    def _info(self) -> Text:
        """Label, then a two-row table: ``last V   min V`` / ``max V   N steps``.

        Values are padded to a fixed width so the columns line up row to row, and the
        padding stays inside the value's span (no span starts with spaces: SVG
        renderers drop leading spaces and misplace the text).
        """
        values = [v for _, v in self.points]
        text = Text(self.label, style="bold")
        text.append("\n")
        if values:
            n = len(values)
            cells = (
                (("last ", fmt(values[-1])), ("min ", fmt(min(values)))),
                (("max  ", fmt(max(values))), (f"{n} step{'s' if n != 1 else ''}", "")),
            )
            for i, ((label1, value1), (label2, value2)) in enumerate(cells):
                text.append(label1, style="dim")
                text.append(f"{value1:<{VALUE_WIDTH}}  ")
                text.append(label2, style="dim")
                text.append(value2)
                if i == 0:
                    text.append("\n")
        else:
            text.append("—", style="dim")
        return text

    def set_points(self, points: Sequence[tuple[int, float]]) -> None:
        points = [(int(s), float(v)) for s, v in points]
        if points == self.points:
            return
        self.points = points
        self.query_one(".metric-info", Static).update(self._info())
        # Sparkline.data is reactive: assign a new list so it repaints.
        self.query_one(Sparkline).data = [v for _, v in points]
        self.set_class(not points, "-empty")


class MetricSparklines(Vertical):
    """The six series of a job."""

    DEFAULT_CSS = """
    MetricSparklines { height: auto; }
    """

    def compose(self) -> ComposeResult:
        for name, label in METRICS:
            yield MetricRow(name, label)

    def set_series(self, series: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        for row in self.query(MetricRow):
            row.set_points(series.get(row.series_name) or [])

    def clear(self) -> None:
        self.set_series({})
