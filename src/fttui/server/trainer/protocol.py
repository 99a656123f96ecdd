"""The trainer's side of the job-folder protocol (see ``fttui.server.executors.base``).

Everything the trainer tells the server goes through :class:`JobFolder`: events appended to
``events.jsonl``, ``state.json`` rewritten atomically, ``control.json`` read between steps,
and the step-metrics CSV. No torch here, so the executor can use it too.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

from fttui.server.executors.base import JobState

#: header of the step-metrics CSV (``result_files[0]`` of the job)
METRICS_HEADER = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")
METRICS_FILE = "step_metrics.csv"
CHECKPOINTS_DIR = "checkpoints"
RESUME_DIR = "resume"
MODEL_DIR = "model"
LOG_FILE = "trainer.log"
PID_FILE = "trainer.pid"
KEEP_CHECKPOINTS = 3


class JobFolder:
    """One job's folder, as the trainer writes it."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.state = JobState.read(self.path) or JobState()

    # -- events -----------------------------------------------------------------------------
    def event(
        self,
        message: str,
        *,
        type: str = "message",
        level: str = "info",
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append one event line and flush it, so the server sees it at once."""
        line = json.dumps(
            {
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "type": type,
                "data": data or {},
            },
            separators=(",", ":"),
        )
        with (self.path / "events.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()

    # -- state ------------------------------------------------------------------------------
    def update(self, **changes: Any) -> None:
        """Change fields of ``state.json`` and rewrite it atomically."""
        for key, value in changes.items():
            setattr(self.state, key, value)
        self.state.write(self.path)

    def fail(self, code: str, message: str) -> None:
        """Final state ``failed`` (the server turns ``error`` into the job's error and event)."""
        self.update(status="failed", error={"code": code, "message": message})

    # -- control ----------------------------------------------------------------------------
    def control(self) -> str | None:
        """``"cancel"``, ``"pause"`` or None, as the server last asked."""
        try:
            raw = json.loads((self.path / "control.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        action = raw.get("action") if isinstance(raw, dict) else None
        return action if action in ("cancel", "pause") else None

    def clear_control(self) -> None:
        (self.path / "control.json").unlink(missing_ok=True)

    # -- step metrics -----------------------------------------------------------------------
    def metrics_rows(self, up_to_step: int) -> list[list[str]]:
        """Rows already written for steps ≤ ``up_to_step`` (kept when a job resumes)."""
        try:
            with (self.path / METRICS_FILE).open(newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))[1:]
        except FileNotFoundError:
            return []
        return [r for r in rows if r and r[0].isdigit() and int(r[0]) <= up_to_step]

    def start_metrics(self, up_to_step: int, header: tuple[str, ...] = METRICS_HEADER) -> None:
        """(Re)write the CSV with its header and the rows of steps ≤ ``up_to_step``."""
        rows = self.metrics_rows(up_to_step)
        with (self.path / METRICS_FILE).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)

    def add_metrics_row(
        self, metrics: dict[str, Any], header: tuple[str, ...] | None = None
    ) -> None:
        """One CSV row; ``header`` names the columns (an RFT job's rewards), else the
        supervised ones (``train_mean_token_accuracy`` is written as ``train_accuracy``)."""

        def fmt(key: str) -> str:
            value = metrics.get(key)
            return "" if value is None else f"{value:.6g}"

        if header is not None:
            row = [str(metrics["step"]), *(fmt(k) for k in header[1:])]
        else:
            row = [
                str(metrics["step"]),
                fmt("train_loss"),
                fmt("train_mean_token_accuracy"),
                fmt("valid_loss"),
                fmt("valid_mean_token_accuracy"),
            ]
        with (self.path / METRICS_FILE).open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(row)
