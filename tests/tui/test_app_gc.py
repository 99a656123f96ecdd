"""The app leaves its long-lived objects out of the collector's passes while it runs (a
full pass over 5,000 listed jobs held keys up for 0.1-0.4 s) and gives them back when it
ends: a process that runs one app after another (the tests) must not keep every one."""

from __future__ import annotations

import gc

from fttui.tui.app import GC_THRESHOLDS, FtApp
from fttui.tui.widgets.job_table import JobTable
from support.tui import sample_jobs, until, write_job_cache

OFFLINE = "http://127.0.0.1:9/v1"


async def test_the_app_freezes_its_objects_while_it_runs_and_frees_them_when_it_ends(fttui_home):
    write_job_cache(sample_jobs(12), base_url=OFFLINE)
    before = gc.get_threshold()
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.panes_ready, what="every pane mounted")
        await until(pilot, lambda: app.query_one(JobTable).row_count == 12, what="the list")
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
