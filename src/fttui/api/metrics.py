"""Training metrics per job: from ``metrics`` events and from the result CSV.

Series use the event names (``SERIES``). Result CSVs are keyed on header names — OpenAI
(``train_accuracy``), Azure (``training_accuracy``, ``validation_mean_token_accuracy``) and
legacy (``training_loss``, ``validation_token_accuracy``) variants — and a body that arrives
base64-encoded is decoded first.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SERIES = (
    "train_loss",
    "valid_loss",
    "train_mean_token_accuracy",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
    # fttui serve: a checkpoint's mean reward from the job's eval_grader (a metrics event)
    "eval_grader",
)

#: CSV header → series, in order of preference (first present wins per series).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "train_loss": ("train_loss", "training_loss"),
    "valid_loss": ("valid_loss", "validation_loss"),
    "train_mean_token_accuracy": (
        "train_mean_token_accuracy",
        "train_accuracy",
        "training_token_accuracy",
        "training_accuracy",
    ),
    "valid_mean_token_accuracy": (
        "valid_mean_token_accuracy",
        "validation_mean_token_accuracy",
        "validation_token_accuracy",
        "valid_accuracy",
        "validation_accuracy",
    ),
    "full_valid_loss": ("full_valid_loss", "full_validation_loss"),
    "full_valid_mean_token_accuracy": (
        "full_valid_mean_token_accuracy",
        "full_validation_mean_token_accuracy",
    ),
}

#: The reward series of reinforcement fine-tuning, in display order. Providers name their
#: reward metrics differently (and add per-grader sub-rewards), so any numeric field or
#: column whose name holds "reward" is kept as a series of its own; these come first.
REWARD_SERIES = ("train_reward_mean", "valid_reward_mean", "full_valid_reward_mean")

_SPARKS = "▁▂▃▄▅▆▇█"


def is_reward(name: str) -> bool:
    """Whether a metric name is a reward (RFT): kept even when it is no known series."""
    return "reward" in name.lower()


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass
class MetricSeries:
    """Per-series (step, value) points, kept sorted by step (a repeated step replaces)."""

    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    total_steps: int | None = None
    source: str = "events"

    def add(self, name: str, step: int, value: float) -> None:
        points = self.series.setdefault(name, [])
        if not points or points[-1][0] < step:
            points.append((step, value))
            return
        # out of order or repeated step: insert/replace keeping order
        import bisect

        i = bisect.bisect_left(points, (step, -math.inf))
        if i < len(points) and points[i][0] == step:
            points[i] = (step, value)
        else:
            points.insert(i, (step, value))

    def add_event(self, event: Any) -> bool:
        """Record a ``metrics`` event (object or dict); False for other events."""
        etype = event.get("type") if isinstance(event, dict) else getattr(event, "type", None)
        if etype != "metrics":
            return False
        data = event.get("data") if isinstance(event, dict) else getattr(event, "data", None)
        if data is not None and not isinstance(data, dict):
            data = data.model_dump() if hasattr(data, "model_dump") else dict(data)
        if not data:
            return False
        step = _num(data.get("step"))
        if step is None:
            return False
        total = _num(data.get("total_steps"))
        if total is not None:
            self.total_steps = int(total)
        for name in SERIES:
            value = _num(data.get(name))
            if value is not None:
                self.add(name, int(step), value)
        for name, raw in data.items():
            if isinstance(name, str) and is_reward(name):
                value = _num(raw)
                if value is not None:
                    self.add(name, int(step), value)
        return True

    def add_events(self, events: Iterable[Any]) -> int:
        return sum(1 for ev in events if self.add_event(ev))

    def names(self) -> list[str]:
        """Known rewards, then the other rewards (sub-rewards), the loss series, the rest."""
        known = (*REWARD_SERIES, *SERIES)
        extra = sorted(n for n in self.series if n not in known and self.series[n])
        return (
            [n for n in REWARD_SERIES if self.series.get(n)]
            + [n for n in extra if is_reward(n)]
            + [n for n in SERIES if self.series.get(n)]
            + [n for n in extra if not is_reward(n)]
        )

    def rewards(self) -> list[str]:
        """The reward series present (an RFT job's), in display order."""
        return [n for n in self.names() if is_reward(n)]

    def values(self, name: str) -> list[float]:
        return [v for _, v in self.series.get(name, [])]

    def last(self, name: str) -> float | None:
        points = self.series.get(name)
        return points[-1][1] if points else None

    def min(self, name: str) -> float | None:
        points = self.series.get(name)
        return min(v for _, v in points) if points else None

    def max(self, name: str) -> float | None:
        points = self.series.get(name)
        return max(v for _, v in points) if points else None

    def steps(self, name: str) -> int:
        return len(self.series.get(name, ()))

    def last_step(self) -> int | None:
        steps = [pts[-1][0] for pts in self.series.values() if pts]
        return max(steps) if steps else None

    def __bool__(self) -> bool:
        return any(self.series.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_steps": self.total_steps,
            "source": self.source,
            "series": {n: [[s, v] for s, v in self.series[n]] for n in self.names()},
        }

    def to_csv(self) -> str:
        """One row per step, a column per series (empty where a series has no value)."""
        names = self.names()
        rows: dict[int, dict[str, float]] = {}
        for name in names:
            for step, value in self.series[name]:
                rows.setdefault(step, {})[name] = value
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["step", *names])
        for step in sorted(rows):
            row = rows[step]
            writer.writerow([step, *(_fmt(row.get(n)) for n in names)])
        return buf.getvalue()


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def series_from_events(events: Iterable[Any]) -> MetricSeries:
    ms = MetricSeries(source="events")
    ms.add_events(events)
    return ms


def _decode(content: bytes | str) -> str:
    from fttui.api.files import _maybe_base64

    raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    raw = _maybe_base64(raw)
    text = raw.decode("utf-8-sig", errors="replace")
    stripped = text.strip()
    if len(stripped) > 1 and stripped[0] == stripped[-1] == '"' and "\n" not in stripped:
        # a JSON string holding the CSV (or its base64)
        import json

        try:
            inner = json.loads(stripped)
        except ValueError:
            inner = None
        if isinstance(inner, str):
            return _decode(inner)
    return text


def parse_result_csv(content: bytes | str) -> MetricSeries:
    """Metrics from a result CSV, keyed on header names. Unknown columns are ignored."""
    text = _decode(content)
    ms = MetricSeries(source="result_file")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return ms
    cols = [h.strip().lower() for h in header]
    if "step" not in cols:
        return ms
    step_i = cols.index("step")
    picks: list[tuple[str, int]] = []
    for name, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            if alias in cols:
                picks.append((name, cols.index(alias)))
                break
    for i, col in enumerate(cols):
        if is_reward(col) and all(i != j for _, j in picks):
            picks.append((col, i))
    max_step = 0
    for row in reader:
        if len(row) <= step_i:
            continue
        step = _num(row[step_i])
        if step is None:
            continue
        max_step = max(max_step, int(step))
        for name, i in picks:
            if i < len(row):
                value = _num(row[i].strip())
                if value is not None:
                    ms.add(name, int(step), value)
    if max_step:
        ms.total_steps = max_step
    return ms


def fetch_job_metrics(client: Any, job: Any, *, prefer: str = "auto") -> MetricSeries:
    """The job's metrics: its result CSV when it has one (``prefer="auto"``), else its
    metrics events. ``prefer`` may be ``"events"`` or ``"result_file"``."""
    from fttui.api.errors import ApiError
    from fttui.api.events import iter_events
    from fttui.api.files import read_file_content

    if isinstance(job, str):
        from fttui.api.jobs import get_job

        job = get_job(client, job)
    result_files = list(getattr(job, "result_files", None) or [])
    if prefer != "events" and result_files:
        try:
            ms = parse_result_csv(read_file_content(client, result_files[0]))
        except ApiError:
            if prefer == "result_file":
                raise
            ms = MetricSeries()
        if ms:
            return ms
    return series_from_events(iter_events(client, job.id))


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """A one-line unicode sparkline of ``values`` resampled (bucket means) to ``width``."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals or width <= 0:
        return ""
    if len(vals) > width:
        buckets: list[float] = []
        n = len(vals)
        for i in range(width):
            start, end = i * n // width, max((i + 1) * n // width, i * n // width + 1)
            chunk = vals[start:end]
            buckets.append(sum(chunk) / len(chunk))
        vals = buckets
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-12:
        return _SPARKS[len(_SPARKS) // 2] * len(vals)
    scale = (len(_SPARKS) - 1) / (hi - lo)
    return "".join(_SPARKS[round((v - lo) * scale)] for v in vals)
