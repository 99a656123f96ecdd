"""The Metrics pane against a live sim server: curves grow while the job runs, the final
figures come from the result file, ``e`` writes a CSV."""

from __future__ import annotations

import csv

import pytest

from fttui.tui.app import FtApp
from fttui.tui.panes.metrics import MetricsPane, to_csv
from fttui.tui.widgets.job_table import JobTable
from fttui.tui.widgets.metric_sparklines import MetricRow, mean
from support.tui import create_sim_job, listed, sample_series, until, wait_job

SIZE = (120, 40)
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


def row(app, name: str) -> MetricRow:
    return app.query_one(f"#metric-{name}", MetricRow)


async def test_metrics_update_while_the_job_runs(server, fttui_home):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.08, validation=True)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        app.query_one(JobTable).select_job(job_id)
        await pilot.press("3")
        pane = app.query_one(MetricsPane)
        # the pane learns the selection through messages: wait for it, not for the key
        await until(
            pilot,
            lambda: pane.job is not None and pane.job.job_id == job_id,
            what="the pane on the selected job",
        )
        train = row(app, "train_loss")
        await until(pilot, lambda: len(train.points) >= 3, timeout=20, what="first points")
        first = len(train.points)
        await until(pilot, lambda: len(train.points) > first + 3, timeout=20, what="more points")
        # the sparkline itself repaints from a new list
        spark = train.query_one("Sparkline")
        assert list(spark.data) == [v for _, v in train.points]
        assert spark.summary_function is mean
        info = str(train.query_one(".metric-info").render())
        assert "last" in info and "min" in info
        assert f"{len(train.points)} steps" in info
        await until(pilot, lambda: row(app, "valid_loss").points, timeout=20, what="validation")
        header = str(app.query_one("#metrics-header").render())
        assert job_id in header
    client.fine_tuning.jobs.cancel(job_id)


async def test_finished_job_metrics_and_csv_export(server, fttui_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01, validation=True)
    wait_job(client, job_id, {"succeeded"}, timeout=60)
    app = FtApp(base_url=server.base_url, api_key=server.api_key, initial_pane="metrics")
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        app.query_one(JobTable).select_job(job_id)
        train = row(app, "train_loss")
        await until(pilot, lambda: len(train.points) > 5, timeout=20, what="series")
        await pilot.press("e")
        out = tmp_path / f"{job_id}-metrics.csv"
        await until(pilot, out.exists, what="csv written")  # renamed into place: whole
        assert not list(tmp_path.glob(".*.part"))
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and "train_loss" in rows[0] and "step" in rows[0]
    assert len(rows) >= len(train.points)


async def test_shown_before_the_backend_is_ready_polls_once_it_is(server, fttui_home):
    """A job picked (from the cached list) and the pane shown before the provider is
    connected: showing it found nothing to fetch yet and armed nothing, so once connected
    the pane stayed empty until the selection changed."""
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01)
    wait_job(client, job_id, {"succeeded"}, timeout=60)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        app.ready = False  # the racy order: as before BackendReady is handled
        app.query_one(JobTable).select_job(job_id)
        await pilot.press("3")
        pane = app.query_one(MetricsPane)
        await until(
            pilot,
            lambda: pane.job is not None and pane.job.job_id == job_id,
            what="the pane on the selected job",
        )
        assert not pane.series
        app.ready = True  # now connected
        await until(
            pilot,
            lambda: len(row(app, "train_loss").points) > 5,
            timeout=10,
            what="the series fetched once connected",
        )


def test_to_csv_aligns_series_by_step():
    text = to_csv(sample_series(10))
    lines = text.splitlines()
    assert lines[0].startswith("step,train_loss,valid_loss")
    assert len(lines) == 11
    assert lines[5].split(",")[2] != ""  # step 5 has a validation loss
    assert lines[1].split(",")[2] == ""  # step 1 has none


async def test_an_rft_job_shows_its_reward_curves_and_hides_the_empty_loss_rows(server, fttui_home):
    """Reinforcement fine-tuning reports rewards, not losses: the pane shows a row per
    reward series (the mean and each grader's sub-reward) and no empty loss rows."""
    import json

    client = server.client()
    rows = [
        {"messages": [{"role": "user", "content": f"Capital {i}?"}], "reference_answer": f"C{i}"}
        for i in range(12)
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    file_id = client.files.create(file=("rft.jsonl", data), purpose="fine-tune").id
    check = {"type": "string_check", "input": "{{sample.output_text}}", "operation": "eq"}
    grader = {
        "type": "multi",
        "name": "score",
        "graders": {
            "exact": {**check, "name": "exact", "reference": "{{item.reference_answer}}"},
            "loose": {**check, "name": "loose", "reference": "{{item.reference_answer}}",
                      "operation": "ilike"},
        },
        "calculate_output": "0.5 * exact + 0.5 * loose",
    }  # fmt: skip
    job_id = client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18",
        training_file=file_id,
        method={"type": "reinforcement", "reinforcement": {"grader": grader}},
        metadata={"sim_seconds_per_step": "0.01"},
    ).id
    done = wait_job(client, job_id, {"succeeded"}, timeout=60)
    steps = 12 * done.hyperparameters.n_epochs  # batch size 1 for 12 examples
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        app.query_one(JobTable).select_job(job_id)
        await pilot.press("3")
        await until(
            pilot,
            lambda: app.query("#metric-train_reward_mean") and row(app, "train_reward_mean").points,
            timeout=60,
            what="the reward row",
        )
        names = [r.series_name for r in app.query(MetricRow) if r.display]
        assert names == ["train_reward_mean", "train_reward/exact", "train_reward/loose"]
        mean_row = row(app, "train_reward_mean")
        assert "Train reward (mean)" in str(mean_row.query_one(".metric-info").render())
        assert len(mean_row.points) == steps
        sub = app.query_one("#metric-train_reward-exact", MetricRow)
        assert "Train reward · exact" in str(sub.query_one(".metric-info").render())
        # a supervised job after it: the reward rows go, the loss rows come back
        sft = create_sim_job(client, seconds_per_step=0.01)
        wait_job(client, sft, {"succeeded"}, timeout=60)
        await listed(pilot, sft)
        app.query_one(JobTable).select_job(sft)
        await until(pilot, lambda: row(app, "train_loss").points, timeout=60, what="loss points")
        await until(pilot, lambda: not app.query("#metric-train_reward_mean"), what="rows gone")
        assert row(app, "train_loss").display


async def test_the_header_follows_the_panes_state_with_no_call_to_redraw_it(fttui_home):
    """The selected job's step count and the compare view's axis are the pane's state:
    setting them redraws the header (issue 11: hand calls before, one per code path)."""
    from support.tui import sample_jobs, write_job_cache

    offline = "http://127.0.0.1:9/v1"  # nothing listens there; live=False never calls it
    write_job_cache(sample_jobs(12), base_url=offline)
    app = FtApp(base_url=offline, api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one(JobTable).row_count == 12, what="cached rows")
        app.query_one(JobTable).select_job("ftjob-00008demo")
        await pilot.press("3")
        pane = app.query_one(MetricsPane)
        await until(pilot, lambda: pane.job is not None and pane.job.job_id == "ftjob-00008demo")

        def header() -> str:
            return str(pane.query_one("#metrics-header").render())

        pane.series = sample_series(30)
        last = max(pts[-1][0] for pts in sample_series(30).values() if pts)
        assert f"step {last}  " in header()
        pane.total_steps = 40
        assert f"step {last}/40" in header()
        pane.marked = ("ftjob-00007demo", "ftjob-00008demo")
        assert "Comparing 2 marked jobs" in header() and "by step" in header()
        pane.x_axis = "epoch"
        assert "by epoch" in header()
