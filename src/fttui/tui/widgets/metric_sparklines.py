"""One sparkline per metric series, with its last / min / max values and step count.

The six loss/accuracy rows are always there; reward series (reinforcement fine-tuning: the
mean reward, per-grader sub-rewards, whatever the provider reports) get rows of their own,
above them, when a job has any — and then the empty loss rows step aside.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from fttui.api.metrics import REWARD_SERIES, is_reward

#: (series name, label) in display order; names follow ``fttui.api.metrics.SERIES``.
METRICS = (
    ("train_loss", "Train loss"),
    ("valid_loss", "Validation loss"),
    ("train_mean_token_accuracy", "Train token accuracy"),
    ("valid_mean_token_accuracy", "Valid token accuracy"),
    ("full_valid_loss", "Full validation loss"),
    ("full_valid_mean_token_accuracy", "Full valid token accuracy"),
)


REWARD_LABELS = {
    "train_reward_mean": "Train reward (mean)",
    "valid_reward_mean": "Valid reward (mean)",
    "full_valid_reward_mean": "Full valid reward (mean)",
}


def reward_label(name: str) -> str:
    """``train_reward/answer`` → ``Train reward · answer``; known names get their label."""
    if name in REWARD_LABELS:
        return REWARD_LABELS[name]
    head, sep, tail = name.partition("/")
    words = head.replace("_", " ").strip()
    label = words[:1].upper() + words[1:]
    return f"{label} · {tail}" if sep else label


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

    def __init__(
        self,
        name: str,
        label: str,
        points: Sequence[tuple[int, float]] = (),
        **kwargs,
    ) -> None:
        # a provider's metric name may hold characters a widget id cannot ("reward/judge")
        safe = re.sub(r"[^A-Za-z0-9_-]", "-", name)
        self.points: list[tuple[int, float]] = [(int(s), float(v)) for s, v in points]
        super().__init__(id=f"metric-{safe}", classes="" if self.points else "-empty", **kwargs)
        self.series_name = name
        self.label = label

    def compose(self) -> ComposeResult:
        yield Static(self._info(), classes="metric-info")
        yield Sparkline([v for _, v in self.points], summary_function=mean)
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
    """The six series of a job, and its reward series when it has any (RFT)."""

    DEFAULT_CSS = """
    MetricSparklines { height: auto; }
    MetricSparklines.-rewards > MetricRow.-empty { display: none; }
    """

    def compose(self) -> ComposeResult:
        for name, label in METRICS:
            yield MetricRow(name, label)

    def set_series(self, series: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        rewards = [n for n in series if is_reward(n) and series[n]]
        known = {row.series_name: row for row in self.query(MetricRow)}
        # rows of rewards this job does not have (the previous job's) go
        for name, row in known.items():
            if is_reward(name) and name not in rewards:
                row.remove()
        first_static = self.query_one(f"#metric-{METRICS[0][0]}", MetricRow)
        for name in sorted(rewards, key=_reward_order):
            shown = known.get(name)
            if shown is None:
                self.mount(MetricRow(name, reward_label(name), series[name]), before=first_static)
            else:
                shown.set_points(series[name])
        for name, _label in METRICS:
            known[name].set_points(series.get(name) or [])
        self.set_class(bool(rewards), "-rewards")

    def clear(self) -> None:
        self.set_series({})


def _reward_order(name: str) -> tuple[int, str]:
    """The mean rewards first (train, valid, full valid), then the sub-rewards by name."""
    if name in REWARD_SERIES:
        return REWARD_SERIES.index(name), ""
    return len(REWARD_SERIES), name
