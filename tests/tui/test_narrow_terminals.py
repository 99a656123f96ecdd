"""Narrow terminals (60×24, 80×24): the job table keeps its Status column, the footer
shows whole keys (never ``n New j``), the event log is wrapped again on a resize, the Data
pane's examples get a fair share beside the findings, and the create form shows every field."""

from __future__ import annotations

import pytest

from fttui.tui.app import FtApp
from fttui.tui.screens.create_job import CreateJobScreen
from fttui.tui.widgets.event_log import EventLog
from fttui.tui.widgets.job_table import JobTable
from fttui.tui.widgets.key_footer import KeyFooter
from support.tui import (
    CHAT_VALID,
    create_sim_job,
    listed,
    sample_jobs,
    screen_text,
    until,
    wait_job,
    write_job_cache,
)

OFFLINE = "http://127.0.0.1:9/v1"


def long_id_jobs() -> list[dict]:
    """Rows with ids and fine-tuned names as long as OpenAI's."""
    jobs = sample_jobs(9)
    for i, job in enumerate(jobs):
        job["id"] = f"ftjob-WX1CUiZbK44MYFUttKf1BfZ{i}"  # 30 characters
        if job["fine_tuned_model"]:
            job["fine_tuned_model"] = f"ft:{job['model']}:acme:support-bot-v{i}:CwjSn1f{i}"
    jobs[4]["status"] = "validating_files"  # the longest status
    return jobs


def table_lines(app) -> list[str]:
    """The job table's part of the screen, line by line."""
    region = app.query_one(JobTable).region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    return [line[region.x : region.right] for line in lines]


def row_lines(app, job_id: str) -> list[str]:
    """The table's line for a job, found by the end of its id (a narrow table cuts the
    middle of an id: ``ftjob-WX1…ZbK44MYFUttKf1BfZ8``)."""
    return [line for line in table_lines(app) if job_id[-12:] in line]


def footer_keys_fit(app) -> tuple[bool, str]:
    """Every key in the footer is whole and on screen (none cut by the screen's edge or
    hidden under the palette key), and ? (help) is one of them."""
    footer = app.query_one(KeyFooter)
    line = screen_text(app).splitlines()[-1]
    palette = [k for k in footer.keys if k.palette]
    limit = line.rfind("▏") if palette else app.size.width
    if limit < 0:  # the palette key is planned but not drawn
        return False, line
    for key in footer.keys:
        if key in palette:
            continue
        drawn = f"{key.key_display} {key.description}"
        at = line.find(drawn)
        if at < 0 or at + len(drawn) > limit:
            return False, line
    return True, line


@pytest.mark.parametrize("size", [(60, 24), (80, 24)])
async def test_the_status_column_and_whole_footer_keys_at_narrow_widths(fttui_home, size):
    jobs = long_id_jobs()
    write_job_cache(jobs, base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=size) as pilot:
        t = app.query_one(JobTable)
        await listed(pilot, *(j["id"] for j in jobs))
        await until(pilot, lambda: t.size.width, what="laid out")
        await until(
            pilot,
            lambda: t.virtual_size.width <= t.scrollable_content_region.width,
            what="the columns fit: no sideways scrolling",
        )
        header = table_lines(app)[1]  # under the border
        assert "Status" in header and "Model" in header, header
        visible = [j for j in jobs if row_lines(app, j["id"])]
        assert len(visible) >= 3
        for job in visible:  # each row shows its status (and its id's end)
            (line,) = row_lines(app, job["id"])
            assert job["status"] in line, line
        ok, line = footer_keys_fit(app)
        assert ok, line
        assert "? Help" in line, line
        for pane in ("4", "3", "5"):  # the Playground's, Metrics' and Evals' footers too
            if pane == "3":
                await pilot.press("escape")  # out of the prompt box
            await pilot.press(pane)
            await until(pilot, lambda: footer_keys_fit(app)[0], what=f"pane {pane}'s footer fits")


async def test_the_model_column_narrows_before_status_goes(fttui_home):
    """At 60 columns, 30-character ids and long model names: the model name is shortened
    (it keeps its start, ending in …) so the status still shows."""
    jobs = long_id_jobs()
    for job in jobs:
        job["model"] = "gpt-4.1-mini-2025-04-14-very-long-snapshot-name"
    write_job_cache(jobs, base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=(60, 24)) as pilot:
        t = app.query_one(JobTable)
        await listed(pilot, *(j["id"] for j in jobs))
        await until(
            pilot,
            lambda: t.virtual_size.width <= t.scrollable_content_region.width,
            what="the columns fit",
        )
        newest = jobs[-1]
        (line,) = row_lines(app, newest["id"])
        assert newest["status"] in line and "gpt-4" in line and "…" in line, line


async def test_the_event_log_is_wrapped_again_after_a_resize(sim_server, fttui_home):
    client = sim_server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01)
    wait_job(client, job_id, {"succeeded"}, timeout=60)
    app = FtApp(base_url=sim_server.base_url, api_key=sim_server.api_key)
    async with app.run_test(size=(160, 40)) as pilot:
        await listed(pilot, job_id)
        app.query_one(JobTable).select_job(job_id)
        log = app.query_one(EventLog)
        await until(pilot, lambda: log.total > 10, what="the events")

        def widest() -> int:
            return max(line.cell_length for line in log.lines)

        def fits() -> bool:
            width = log.scrollable_content_region.width
            return bool(log.lines) and widest() <= width

        await until(pilot, fits, what="events wrapped to the log")
        wide = widest()
        await pilot.resize_terminal(60, 24)
        await until(pilot, fits, timeout=10, what="events wrapped to the narrow log")
        assert widest() < wide
        created = f"Created fine-tuning job: {job_id}"
        joined = "".join(line.text for line in log.lines).replace(" ", "")
        assert created.replace(" ", "") in joined  # whole, over two lines
        await pilot.resize_terminal(160, 40)
        await until(
            pilot,
            lambda: fits() and widest() > 60,
            timeout=10,
            what="events wrapped to the wide log again",
        )


@pytest.mark.parametrize("size", [(80, 24), (60, 24)])
async def test_the_data_panes_examples_get_a_fair_share_and_the_stats_fit(fttui_home, size):
    """The findings panel adapts (it was a fixed 46 columns: 34 left for the examples at
    80), and the token figures it shows are whole, not cut into ``to…  …  55``."""
    app = FtApp(
        base_url=OFFLINE,
        api_key="sk-test-key",
        live=False,
        data_file=str(CHAT_VALID),
        initial_pane="data",
    )
    async with app.run_test(size=size) as pilot:
        pane = app.query_one("#data")
        await until(pilot, lambda: pane.report is not None, what="the lint")
        left, right = pane.query_one("#data-left"), pane.query_one("#data-right")
        # the share is set once the pane has its size (a resize on a loaded machine is late)
        await until(
            pilot,
            lambda: left.size.width >= size[0] // 2 > right.size.width,
            what=f"the examples' fair share (now {left.size.width} | {right.size.width})",
        )
        stats = pane.query_one("#data-stats")
        total = pane.report.stats["total_tokens"]
        figures = f"total     {round(total['mean'])} · {total['min']}–{total['max']}"
        await until(pilot, lambda: figures in screen_text(app), what=figures)
        lines = screen_text(app).splitlines()[stats.region.y : stats.region.bottom]
        assert "mean · min–max" in "".join(lines)
        assert not any("…" in line[stats.region.x : stats.region.right] for line in lines[1:6])


@pytest.mark.parametrize("size", [(80, 24), (60, 24)])
async def test_the_create_form_shows_every_field_on_a_small_terminal(fttui_home, size):
    """At 80×24 the fields went below the fold (suffix, seed, force): one line a field
    now, and every field, the status and the buttons are on screen at once."""
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=size) as pilot:
        screen = CreateJobScreen(training_file=str(CHAT_VALID))
        app.push_screen(screen)
        await until(pilot, lambda: screen.is_current and bool(screen.query("#create-form")))
        await until(pilot, lambda: "examples (" in screen_text(app), what="the lint line")
        form = screen.query_one("#create-form")
        box = screen.query_one("#create-box")
        await until(pilot, lambda: form.size.height, what="laid out")
        assert form.max_scroll_y == 0
        for widget in form.query("Input, Checkbox, Button, Select"):
            if not all(node.display for node in widget.ancestors_with_self if node is not app):
                continue  # another method's fields (DPO's beta, RFT's grader), not shown
            assert form.region.contains_region(widget.region), widget.id
        for widget in screen.query("#create-buttons Button, #create-status"):
            assert box.region.contains_region(widget.region), widget.id
        text = screen_text(app)
        for label in (
            "Training file",
            "Validation file",
            "Model",
            "Epochs",
            "Suffix",
            "Seed",
            "Method",
            "force",
            "Create ^s",
        ):
            assert label in text, label
