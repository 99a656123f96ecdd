"""The job table's progress for a training job (step / total, %, the time left from
``estimated_finish``) and ``c`` naming the fine-tuned model beside the id it copied."""

from __future__ import annotations

import re

import pytest

from fttui.tui.app import FtApp
from fttui.tui.widgets.job_table import JobTable, format_eta, job_cells
from support.tui import create_sim_job, listed, until, wait_job

pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


def test_a_running_jobs_status_cell_shows_step_share_and_time_left():
    job = {"id": "ftjob-1", "status": "running", "estimated_finish": 1_000_200}
    cells = job_cells(job, progress=(12, 48), now=1_000_000)
    assert cells[2].plain == "running 12/48 25% ETA 3m"
    # no total: the step alone; no estimate (or one that has passed): no ETA
    assert job_cells(job, progress=(12, None), now=1_000_000)[2].plain == "running 12 ETA 3m"
    assert job_cells(job, progress=(48, 48), now=1_000_300)[2].plain == "running 48/48 100%"
    done = {**job, "status": "succeeded"}
    assert job_cells(done, progress=(48, 48), now=1_000_000)[2].plain == "succeeded"
    assert format_eta(1_000_040, now=1_000_000) == "ETA 40s"
    assert format_eta(1_007_500, now=1_000_000) == "ETA 2h05m"
    assert format_eta(None) == ""


async def test_a_training_job_on_the_server_shows_its_time_left(server, fttui_home):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.3)  # 100 steps: about 30 s
    wait_job(client, job_id, {"running"})
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=(160, 40)) as pilot:
        await listed(pilot, job_id)
        table = app.query_one(JobTable)
        table.select_job(job_id)
        await until(
            pilot,
            lambda: re.fullmatch(
                r"running \d+/100 \d+% ETA \d+[sm]", table.get_cell(job_id, "status").plain
            ),
            what="running N/100 P% ETA …",
        )
    client.fine_tuning.jobs.cancel(job_id)


async def test_c_copies_the_id_and_names_the_fine_tuned_model_C_copies(server, fttui_home):
    client = server.client()
    job = wait_job(
        client, create_sim_job(client, seconds_per_step=0.005), {"succeeded"}, timeout=60
    )
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await listed(pilot, job.id)
        app.query_one(JobTable).select_job(job.id)
        await pilot.press("c")
        assert app.clipboard == job.id
        said = [n.message for n in app._notifications]
        assert any(f"C copies its model {job.fine_tuned_model}" in m for m in said), said
        await pilot.press("C")
        assert app.clipboard == job.fine_tuned_model
