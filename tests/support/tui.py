"""Helpers for the app tests: fixed job rows for snapshots, sim jobs on a live server,
polling a condition instead of sleeping, and reading the screen as text.

Waiting: a key press returns once the focused screen has handled the messages queued at
that moment, not the ones those handlers post in turn (a row highlight -> the selected
job -> the other panes), nor timers (the debounced filter) or workers (lint, requests).
So assert what a key did at once only when its own binding did it; anything further down
goes through ``until`` on the final state (never "any change", never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHAT_VALID = FIXTURES / "chat_valid.jsonl"
MODELS = ("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14", "babbage-002")
STATUSES = ("running", "succeeded", "failed", "cancelled", "queued", "paused", "succeeded")


def sample_jobs(n: int = 12, *, start: int = 1_732_200_000) -> list[dict[str, Any]]:
    """``n`` fixed job rows (as the app caches them): statuses and models cycle."""
    jobs = []
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        model = MODELS[i % len(MODELS)]
        jobs.append(
            {
                "id": f"ftjob-{i:05d}demo",
                "model": model,
                "status": status,
                "created_at": start + i * 3600,
                "finished_at": start + i * 3600 + 900
                if status in ("succeeded", "failed", "cancelled")
                else None,
                "trained_tokens": None if status == "queued" else 1000 * (i + 1),
                "fine_tuned_model": f"ft:{model}:fttui:demo-{i}:sim{i:04d}"
                if status == "succeeded"
                else None,
                "training_file": f"file-train{i:04d}",
                "validation_file": None,
                "hyperparameters": {
                    "n_epochs": 3,
                    "batch_size": 1,
                    "learning_rate_multiplier": 1.8,
                },
                "method": "supervised",
                "error": {
                    "code": "invalid_training_file",
                    "message": "line 3: no assistant message",
                }
                if status == "failed"
                else None,
                "result_files": [],
                "suffix": f"demo-{i}",
                "seed": 42,
                "metadata": {},
                "estimated_finish": None,
            }
        )
    return jobs


def sample_series(steps: int = 30) -> dict[str, list[tuple[int, float]]]:
    """Fixed curves shaped like a real run (loss falls, accuracy rises)."""
    import math

    train = [
        (s, round(2.4 * math.exp(-s / 9) + 0.35 + 0.08 * math.sin(s), 4))
        for s in range(1, steps + 1)
    ]
    valid = [(s, round(2.5 * math.exp(-s / 10) + 0.45, 4)) for s in range(5, steps + 1, 5)]
    tacc = [
        (s, round(0.95 - 0.5 * math.exp(-s / 8) + 0.02 * math.cos(s), 4))
        for s in range(1, steps + 1)
    ]
    vacc = [(s, round(0.9 - 0.5 * math.exp(-s / 9), 4)) for s in range(5, steps + 1, 5)]
    return {
        "train_loss": train,
        "valid_loss": valid,
        "train_mean_token_accuracy": tacc,
        "valid_mean_token_accuracy": vacc,
        "full_valid_loss": [(steps, 0.5012)],
        "full_valid_mean_token_accuracy": [(steps, 0.8731)],
    }


def write_job_cache(
    jobs: list[dict[str, Any]], *, base_url: str, api_key: str = "sk-test-key"
) -> Path:
    """Store ``jobs`` as the app's cached list for this provider (FTTUI_HOME must be set)."""
    from fttui.tui.backend import Backend

    backend = Backend(base_url=base_url, api_key=api_key)
    backend.save_cached_jobs(jobs)
    return backend.cache_path()


def upload(client, path: Path = CHAT_VALID) -> str:
    with path.open("rb") as fh:
        return client.files.create(file=fh, purpose="fine-tune").id


def create_sim_job(
    client,
    *,
    file_id: str | None = None,
    seconds_per_step: float = 0.05,
    fail_at_step: int | None = None,
    model: str = "gpt-4o-mini-2024-07-18",
    suffix: str | None = None,
    validation: bool = False,
) -> str:
    """Create a sim job through the public API (per-job speed via metadata)."""
    file_id = file_id or upload(client)
    metadata = {"sim_seconds_per_step": str(seconds_per_step)}
    if fail_at_step is not None:
        metadata["sim_fail_at_step"] = str(fail_at_step)
    kwargs: dict[str, Any] = {"model": model, "training_file": file_id, "metadata": metadata}
    if suffix:
        kwargs["suffix"] = suffix
    if validation:
        kwargs["validation_file"] = file_id
    return client.fine_tuning.jobs.create(**kwargs).id


def wait_job(client, job_id: str, statuses: set[str], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{job_id} stayed {job.status}, wanted {statuses}")
        time.sleep(0.1)


async def until(pilot, condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Let the app run until ``condition()`` is truthy (no fixed sleeps). The timeout only
    bounds a failing test: CI is a loaded 2-core box, so it is generous."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


async def listed(pilot, *job_ids: str) -> None:
    """Wait until the job table knows every one of ``job_ids``."""
    from fttui.tui.widgets.job_table import JobTable

    table = pilot.app.query_one(JobTable)
    await until(pilot, lambda: all(j in table.jobs for j in job_ids), what=f"{job_ids} listed")


async def shows(pilot, *texts: str, timeout: float = 30.0) -> str:
    """Wait until the screen shows every one of ``texts``; returns the screen's text."""
    found: list[str] = []

    def check() -> bool:
        found[:] = [screen_text(pilot.app)]
        return all(t in found[0] for t in texts)

    try:
        await until(pilot, check, timeout=timeout, what=f"{texts} on screen")
    except AssertionError:
        raise AssertionError(f"timed out waiting for {texts} on screen:\n{found[0]}") from None
    return found[0]


def screen_text(app) -> str:
    """The whole screen as plain text (what a user would read)."""
    from rich.console import Console

    console = Console(
        width=app.size.width,
        height=app.size.height,
        record=True,
        force_terminal=False,
        color_system=None,
        file=_Null(),
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


class _Null:
    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        pass
