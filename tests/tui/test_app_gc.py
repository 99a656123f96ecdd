"""The app leaves its long-lived objects out of the collector's passes while it runs (a
full pass over 5,000 listed jobs held keys up for 0.1-0.4 s) and gives them back when it
ends: a process that runs one app after another (the tests) must not keep every one. The
older generations are collected between keys (fttui.tui.collector)."""

from __future__ import annotations

import gc

import pytest

from fttui.tui.app import GC_THRESHOLDS, FtApp
from fttui.tui.collector import (
    BUSY_YOUNG_PASSES,
    IDLE_S,
    OLD_PASSES,
    PACED_COLLECTOR,
    THRESHOLDS,
    YOUNG_PASSES,
    IdleCollector,
)
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
        assert gc.get_threshold() == (GC_THRESHOLDS if PACED_COLLECTOR else before)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


paced_only = pytest.mark.skipif(
    not PACED_COLLECTOR, reason="CPython 3.14's incremental collector is left as it is"
)


@paced_only
async def test_older_generations_are_collected_between_keys_not_while_they_come(fttui_home):
    """Issue 15: a pass of generation 1, started by whatever allocation crossed its
    threshold, took 15-35 ms in the middle of a pane switch's frame. While keys keep
    coming only generation 0 is collected; the older ones once the user pauses."""
    write_job_cache(sample_jobs(200), base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    passes: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            passes.append(info["generation"])

    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.panes_ready, what="every pane mounted")
        await until(pilot, lambda: app.query_one(JobTable).row_count == 200, what="the list")
        await pilot.pause(IDLE_S * 2)
        gc.callbacks.append(seen)
        try:
            gc.collect(1)  # a clean start: the young generations empty
            passes.clear()
            runs = app.collector.runs
            for _ in range(40):  # keys as fast as the app takes them
                for key in ("3", "2", "4", "escape", "2", "1", "2", "5", "2"):
                    await pilot.press(key)
                if gc.get_count()[1] >= YOUNG_PASSES + 2:
                    break
            assert gc.get_count()[1] >= YOUNG_PASSES + 2 or app.collector.runs > runs, (
                "generation 1 never came due: the test shows nothing"
            )
            # every older pass meanwhile was the idle collector's (a press that took over
            # IDLE_S on a loaded machine is a pause), none started by an allocation
            older = [g for g in passes if g >= 1]
            assert len(older) == app.collector.runs - runs, passes
            # A pass of generation 1 due now (young passes of the test's own, if the
            # collector ran one during a slow press): the user pauses, it comes.
            while gc.get_count()[1] < YOUNG_PASSES:
                gc.collect(0)
            passes.clear()
            await until(pilot, lambda: 1 in passes or 2 in passes, what="a pass once idle")
            assert gc.get_count()[1] < YOUNG_PASSES
            assert app.collector.last_generation in (1, 2)
        finally:
            gc.callbacks.remove(seen)


@paced_only
def test_a_user_who_never_pauses_still_gets_the_older_generations_collected():
    """The idle collector's pacing, on a clock the test moves: nothing before a
    generation 1 pass is due, nothing while keys keep coming until BUSY_YOUNG_PASSES
    young passes, then generation 1 even so; generation 2 after OLD_PASSES of those."""
    now = [0.0]
    collector = IdleCollector(clock=lambda: now[0])
    before = gc.get_threshold()
    gc.collect()
    try:
        gc.set_threshold(*THRESHOLDS)

        def young_passes(n: int) -> None:
            for _ in range(n):
                gc.collect(0)

        young_passes(YOUNG_PASSES - 1)
        now[0] = 10.0
        assert collector.tick() is None  # not due yet, idle or not
        young_passes(1)
        collector.input_seen()
        assert collector.tick() is None  # due, but a key just came
        now[0] += IDLE_S
        assert collector.tick() == 1 and gc.get_count()[1] == 0
        young_passes(BUSY_YOUNG_PASSES)
        collector.input_seen()
        assert collector.tick() == 1  # busy all along: collected even so
        for _ in range(OLD_PASSES):
            gc.collect(1)
        now[0] += IDLE_S
        young_passes(YOUNG_PASSES)
        assert collector.tick() == 2 and gc.get_count()[2] == 0
    finally:
        gc.set_threshold(*before)
