"""The Metrics pane's compare view: jobs marked in Jobs (space) are overlaid on one line
chart, one colour and a legend entry each, above the diff table of the fields that differ
and each job's final and best figures — against a live sim server, and as a snapshot of
fixed data."""

from __future__ import annotations

import time

import pytest

from fttui.tui.app import FtApp
from fttui.tui.panes.metrics import MetricsPane
from fttui.tui.screens.help import HelpScreen
from fttui.tui.widgets.compare_view import CompareView
from fttui.tui.widgets.job_table import JobTable
from fttui.tui.widgets.metric_sparklines import MetricRow
from support.tui import (
    create_sim_job,
    listed,
    sample_jobs,
    sample_series,
    screen_text,
    shows,
    until,
    upload,
    wait_job,
    write_job_cache,
)

SIZE = (120, 40)
OFFLINE = "http://127.0.0.1:9/v1"  # nothing listens there; live=False never calls it
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


def sim_job(client, file_id: str, *, n_epochs: int, seconds_per_step: float = 0.01) -> str:
    """A sim job whose settings differ from its sibling's only where the test says: the
    same file, model, seed and metadata."""
    return client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18",
        training_file=file_id,
        seed=7,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": n_epochs}}},
        metadata={"sim_seconds_per_step": str(seconds_per_step)},
    ).id


async def mark(pilot, *job_ids: str) -> None:
    """Select each job in the table and press space on it."""
    table = pilot.app.query_one(JobTable)
    for job_id in job_ids:
        table.select_job(job_id)
        await until(pilot, lambda j=job_id: table.selected_id == j, what=f"{job_id} selected")
        await pilot.press("space")
    assert list(table.marked) == list(job_ids)


def view(app) -> CompareView:
    return app.query_one(CompareView)


def drawn(app) -> dict[str, int]:
    """job id → how many points its line on the chart has."""
    return {line.job_id: len(line.xs) for line in view(app).lines}


async def test_marking_two_jobs_overlays_their_loss_and_lists_only_what_differs(server, fttui_home):
    client = server.client()
    file_id = upload(client)
    one, two = sim_job(client, file_id, n_epochs=1), sim_job(client, file_id, n_epochs=2)
    wait_job(client, one, {"succeeded"}, timeout=60)
    wait_job(client, two, {"succeeded"}, timeout=60)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, one, two)
        await mark(pilot, one, two)
        await pilot.press("3")
        pane = app.query_one(MetricsPane)
        assert pane.comparing
        await until(
            pilot,
            lambda: len(drawn(app)) == 2 and all(drawn(app).values()),
            timeout=20,
            what="both jobs' lines on the chart",
        )
        # one line per job, in marking order, the train loss by default; two epochs of the
        # same file are twice the steps of one
        assert [line.job_id for line in view(app).lines] == [one, two]
        assert drawn(app)[two] == 2 * drawn(app)[one]
        text = await shows(pilot, "Train loss", one, two)  # the chart's title and legend
        assert not app.query_one("#metrics-body").display  # the single-job curves step aside
        assert "Comparing 2 marked jobs" in text
        rows = view(app).diff_rows
        assert rows["hyperparameters.n_epochs"] == ["1", "2"]
        for same in ("model", "training_file", "seed", "method", "metadata.sim_seconds_per_step"):
            assert same not in rows, f"{same} is the same for both jobs: not a difference"
        assert rows["status"] == ["succeeded", "succeeded"]
        # each job's final and best train loss, "value @step", at its own last step
        finals = rows["train_loss final"]
        assert finals[0].endswith(f"@{drawn(app)[one]}")
        assert finals[1].endswith(f"@{drawn(app)[two]}")
        assert "train_loss best" in rows


async def test_the_chart_grows_as_the_marked_running_jobs_report(server, fttui_home):
    client = server.client()
    file_id = upload(client)
    one = sim_job(client, file_id, n_epochs=3, seconds_per_step=0.08)
    two = sim_job(client, file_id, n_epochs=4, seconds_per_step=0.08)
    try:
        app = FtApp(base_url=server.base_url, api_key=server.api_key)
        async with app.run_test(size=SIZE) as pilot:
            await listed(pilot, one, two)
            await mark(pilot, one, two)
            await pilot.press("3")
            await until(
                pilot,
                lambda: len(drawn(app)) == 2 and min(drawn(app).values()) >= 2,
                timeout=30,
                what="first points of both",
            )
            first = drawn(app)
            await until(
                pilot,
                lambda: all(drawn(app)[j] > first[j] + 2 for j in (one, two)),
                timeout=30,
                what="both lines growing",
            )
            # the diff's figures follow the lines (updated in place, by row key)
            rows = view(app).diff_rows
            last = {line.job_id: line for line in view(app).lines}
            assert rows["train_loss final"][0].startswith(f"{last[one].ys[-1]:.4g} @")
    finally:
        for job_id in (one, two):
            client.fine_tuning.jobs.cancel(job_id)


async def test_unmarking_back_to_one_job_returns_to_the_single_job_view(server, fttui_home):
    client = server.client()
    one = create_sim_job(client, seconds_per_step=0.01)
    two = create_sim_job(client, seconds_per_step=0.01)
    wait_job(client, one, {"succeeded"}, timeout=60)
    wait_job(client, two, {"succeeded"}, timeout=60)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, one, two)
        await mark(pilot, one, two)
        await pilot.press("3")
        await until(pilot, lambda: len(drawn(app)) == 2, timeout=20, what="the compare view")
        await pilot.press("2")
        await pilot.press("space")  # unmarks `two`, the selected job: one mark left
        await pilot.press("3")
        pane = app.query_one(MetricsPane)
        assert not pane.comparing
        assert not view(app).display and app.query_one("#metrics-body").display
        train = app.query_one("#metric-train_loss", MetricRow)
        await until(pilot, lambda: len(train.points) > 5, timeout=20, what="the job's curve")
        assert pane.job is not None and pane.job.job_id == two
        assert "Comparing" not in screen_text(app)
        # the compare keys are gone with the view
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "metrics.compare_series" not in screen_text(app)


# -- fixed data: keys, and the snapshot ------------------------------------------------
@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fixed_jobs() -> list[dict]:
    jobs = sample_jobs(12)
    jobs[8]["hyperparameters"] = {**jobs[8]["hyperparameters"], "n_epochs": 2}
    return jobs


def fixed_series() -> dict[str, dict[str, list[tuple[int, float]]]]:
    """ftjob-00008demo: 30 steps over 2 epochs; ftjob-00001demo: 20 steps over 3, its loss
    higher and its accuracy lower."""
    a = sample_series(30)
    b = {
        name: [(s, round(v * (1.15 if "loss" in name else 0.9), 4)) for s, v in points if s <= 20]
        for name, points in sample_series(30).items()
        if not name.startswith("full_")
    }
    return {"ftjob-00008demo": a, "ftjob-00001demo": b}


@pytest.fixture
def cached_app(fttui_home, utc):
    """An offline app showing a fixed cached job list (deterministic frames)."""
    write_job_cache(fixed_jobs(), base_url=OFFLINE)
    return FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)


async def compare_fixed(pilot) -> MetricsPane:
    """Mark two of the cached jobs, show Metrics, and give it their fixed series."""
    table = pilot.app.query_one(JobTable)
    await until(pilot, lambda: table.row_count == 12, what="cached rows")
    await mark(pilot, "ftjob-00008demo", "ftjob-00001demo")
    await pilot.press("3")
    pane = pilot.app.query_one(MetricsPane)
    pane.show_compare({}, fixed_series())
    return pane


async def test_s_cycles_the_series_and_x_puts_epochs_on_the_x_axis(cached_app):
    async with cached_app.run_test(size=SIZE) as pilot:
        pane = await compare_fixed(pilot)
        app = pilot.app
        assert pane.shown_series() == "train_loss"
        await pilot.press("s")
        assert pane.shown_series() == "valid_loss"
        # validation loss is every 5th step: 6 points of one job, 4 of the other
        assert drawn(app) == {"ftjob-00008demo": 6, "ftjob-00001demo": 4}
        await shows(pilot, "Validation loss by step")
        await pilot.press("s", "s", "s")  # train accuracy, valid accuracy, back to loss
        assert pane.shown_series() == "train_loss"
        await pilot.press("x")
        assert pane.x_axis == "epoch"
        # each job's last step is its last epoch: 30 steps / 2 epochs, 20 steps / 3 epochs
        ends = {line.job_id: line.xs[-1] for line in view(app).lines}
        assert ends == {"ftjob-00008demo": 2.0, "ftjob-00001demo": 3.0}
        await shows(pilot, "Train loss by epoch")
        await pilot.press("x")
        assert pane.x_axis == "step"
        await pilot.press("question_mark")
        text = await shows(pilot, "Keys that work here")
        assert "metrics.compare_series" in text and "metrics.compare_x" in text


async def test_the_diff_of_fixed_jobs_lists_the_fields_that_differ(cached_app):
    async with cached_app.run_test(size=SIZE) as pilot:
        await compare_fixed(pilot)
        rows = view(pilot.app).diff_rows
        # sample jobs differ in model, file and suffix; job 8 trains 2 epochs, job 1 three
        assert rows["hyperparameters.n_epochs"] == ["2", "3"]
        assert rows["model"] == ["babbage-002", "gpt-4.1-mini-2025-04-14"]
        assert "seed" not in rows and "hyperparameters.batch_size" not in rows
        assert rows["train_loss final"][1].endswith("@20")
        assert rows["full_valid_loss final"] == ["0.5012 @30", "-"]


async def test_a_hidden_metrics_pane_draws_the_compare_view_once_the_marks_settle(cached_app):
    """Issue 15: the first showing of Metrics with jobs marked was the slowest pane switch
    (the diff table and the chart built then); the hidden pane now builds them in the idle
    time after the marks, so 3 only lays them out."""
    async with cached_app.run_test(size=SIZE) as pilot:
        app = pilot.app
        table = app.query_one(JobTable)
        await until(pilot, lambda: table.row_count == 12, what="cached rows")
        await until(pilot, lambda: app.panes_ready, what="every pane mounted")
        await mark(pilot, "ftjob-00008demo", "ftjob-00001demo")
        pane = app.query_one(MetricsPane)
        assert pane.comparing and not pane.display
        rows = await until(pilot, lambda: view(app).diff_rows, 10, "the hidden diff table")
        assert app.current_pane == "jobs"  # never shown meanwhile
        assert rows["model"] == ["babbage-002", "gpt-4.1-mini-2025-04-14"]
        assert [line.job_id for line in view(app).lines] == ["ftjob-00008demo", "ftjob-00001demo"]
        await pilot.press("3")
        assert view(app).diff_rows == rows  # shown as drawn: nothing changed meanwhile


SNAPSHOT_TEXTUAL = "8.2.8"


@pytest.mark.skipif(
    __import__("textual").__version__ != SNAPSHOT_TEXTUAL,
    reason=f"snapshots were taken with Textual {SNAPSHOT_TEXTUAL}",
)
def test_snapshot_compare_view(snap_compare, cached_app):
    async def run_before(pilot):
        await compare_fixed(pilot)

    assert snap_compare(cached_app, terminal_size=SIZE, run_before=run_before)
