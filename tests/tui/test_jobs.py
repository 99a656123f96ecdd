"""The Jobs pane against a live ``fttui serve --executor sim``: navigate, filter, cancel
(Keep / y), pause, follow and pause the event log, copy, create, read-only, cache."""

from __future__ import annotations

import time

import pytest

from fttui.tui.app import FtApp
from fttui.tui.screens.confirm import ConfirmScreen
from fttui.tui.widgets.event_log import EventLog
from fttui.tui.widgets.job_table import JobTable
from support.tui import (
    create_sim_job,
    listed,
    sample_jobs,
    screen_text,
    shows,
    until,
    upload,
    wait_job,
    write_job_cache,
)

SIZE = (120, 40)
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


def make_app(server, **kwargs) -> FtApp:
    return FtApp(base_url=server.base_url, api_key=server.api_key, **kwargs)


def table(app) -> JobTable:
    return app.query_one(JobTable)


def running_job(client, seconds_per_step: float = 0.5) -> str:
    """A sim job that is training, slow enough to act on before it ends."""
    job_id = create_sim_job(client, seconds_per_step=seconds_per_step)
    wait_job(client, job_id, {"running"})
    return job_id


async def select(pilot, job_id: str) -> None:
    """Wait until the table lists ``job_id``, then put the cursor on it."""
    await listed(pilot, job_id)
    table(pilot.app).select_job(job_id)


async def row_status(pilot, job_id: str, status: str, what: str = "") -> None:
    """Wait until the job's row shows ``status``."""
    await until(
        pilot, lambda: table(pilot.app).jobs[job_id]["status"] == status, what=what or status
    )


async def select_running(pilot, job_id: str) -> None:
    """Put the cursor on ``job_id`` once its row shows it running."""
    await select(pilot, job_id)
    await row_status(pilot, job_id, "running")


async def test_navigate_and_details(server, fttui_home):
    client = server.client()
    file_id = upload(client)
    ids = [
        create_sim_job(client, file_id=file_id, seconds_per_step=0.01, suffix=f"nav{i}")
        for i in range(3)
    ]
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, *ids)
        t = table(app)
        assert app.focused is t
        assert t.select_job(ids[2])  # the newest: row 0
        await pilot.pause()
        assert t.cursor_row == 0
        await pilot.press("j")
        assert t.selected_id == ids[1]
        await pilot.press("down")
        assert t.selected_id == ids[0]
        await pilot.press("k")
        assert t.selected_id == ids[1]
        # The details panel and the other panes follow the selected job (through messages
        # the key's handler posts: wait for them, not for the key).
        await until(
            pilot,
            lambda: ids[1] in str(app.query_one("#job-details").render()),
            what="details of the selected job",
        )
        await until(pilot, lambda: app.query_one("#metrics").job.job_id == ids[1], what="metrics")
        await until(
            pilot, lambda: app.query_one("#playground").job.job_id == ids[1], what="playground"
        )
        await pilot.press("g")
        assert t.cursor_row == 0
        await pilot.press("G")
        assert t.cursor_row == t.row_count - 1


async def test_cursor_stays_on_its_job_when_new_jobs_arrive(server, fttui_home):
    client = server.client()
    file_id = upload(client)
    first = create_sim_job(client, file_id=file_id, seconds_per_step=0.01)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, first)
        t = table(app)
        t.select_job(first)
        await pilot.pause()
        row_before = t.cursor_row
        newer = [create_sim_job(client, file_id=file_id, seconds_per_step=0.01) for _ in range(2)]
        await listed(pilot, *newer)
        assert t.selected_id == first
        assert t.cursor_row == row_before + 2  # two newer rows above it


async def test_filter_and_escape(server, fttui_home):
    client = server.client()
    file_id = upload(client)
    special = create_sim_job(client, file_id=file_id, seconds_per_step=0.01, suffix="zebra")
    other = create_sim_job(client, file_id=file_id, seconds_per_step=0.01, model="babbage-002")
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, special, other)
        t = table(app)
        total = t.row_count
        await pilot.press("slash")
        box = app.query_one("#jobs-filter")
        assert box.display and app.focused is box
        await pilot.press(*"babbage")

        def shown_ids() -> list[str]:
            return [r.key.value for r in t.ordered_rows]

        # The filter is debounced: on a loaded machine a prefix ("b", "ba"…) may be applied
        # first, so wait for the whole word to take effect rather than for any change.
        await until(pilot, lambda: special not in shown_ids(), what="filtered to babbage")
        assert other in shown_ids()
        assert t.row_count < total
        await pilot.press("escape")
        assert t.row_count == total
        assert not box.display
        assert app.focused is t
        # enter keeps the filter and goes back to the table; esc there clears it
        await pilot.press("slash", *other[-6:], "enter")
        await until(pilot, lambda: t.row_count == 1, what="one match")
        assert app.focused is t and t.selected_id == other
        await pilot.press("escape")
        assert t.row_count == total


async def test_cancel_keep_leaves_the_job_running(server, fttui_home):
    client = server.client()
    job_id = running_job(client)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await select_running(pilot, job_id)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        text = str(app.screen.query_one("#confirm-message").render())
        assert job_id in text
        await until(
            pilot,
            lambda: app.focused is not None and app.focused.id == "keep",
            what="focus on Keep",
        )  # the safe choice has focus
        await pilot.press("enter")  # enter on Keep
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("x")
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("x", "escape")
        assert not isinstance(app.screen, ConfirmScreen)
        await app.workers.wait_for_complete()
    assert client.fine_tuning.jobs.retrieve(job_id).status == "running"
    client.fine_tuning.jobs.cancel(job_id)


async def test_cancel_y_cancels(server, fttui_home):
    client = server.client()
    job_id = running_job(client)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, job_id)
        await pilot.pause()
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await row_status(pilot, job_id, "cancelled", "cancelled row")
    assert client.fine_tuning.jobs.retrieve(job_id).status == "cancelled"


async def test_a_poll_read_before_the_cancel_never_shows_the_job_running_again(server, fttui_home):
    """A detail or list poll already under way when `y` confirmed the cancel answered with
    the job still running: the row flashed "running" again after "cancelled" (for a second,
    until the next poll), as if the cancel had not worked."""
    from fttui.tui.panes.jobs import JobsLoaded, JobsPane

    client = server.client()
    job_id = running_job(client)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await select_running(pilot, job_id)
        before = dict(table(app).jobs[job_id])  # as a poll reading now would see it
        read_at = time.monotonic()
        await pilot.press("x", "y")
        await row_status(pilot, job_id, "cancelled", "cancelled row")
        pane = app.query_one(JobsPane)
        for full in (False, True):  # the late answers: a detail poll's, then the list's
            pane.post_message(JobsLoaded([before], full=full, read_at=read_at))
            await pilot.pause()
            assert table(app).jobs[job_id]["status"] == "cancelled"


async def test_pause_and_resume(server, fttui_home):
    client = server.client()
    job_id = running_job(client, seconds_per_step=0.3)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await select_running(pilot, job_id)
        await pilot.press("p")
        await row_status(pilot, job_id, "paused")
        assert client.fine_tuning.jobs.retrieve(job_id).status == "paused"
        await pilot.press("p")
        # the final state, not "any change" (a "resuming"/"queued" step may come first)
        await row_status(pilot, job_id, "running", "resumed")
    client.fine_tuning.jobs.cancel(job_id)


async def test_events_follow_pause_and_resume(server, fttui_home):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.15)
    app = make_app(server)
    async with app.run_test(size=(120, 30)) as pilot:
        await select(pilot, job_id)
        log = app.query_one(EventLog)
        # Enough events to scroll.
        await until(pilot, lambda: log.max_scroll_y > 3, timeout=30, what="a scrollable log")
        assert log.following
        await pilot.press("enter")  # focus the log (the table's RowSelected does it)
        await until(pilot, lambda: app.focused is log, what="the log focused")
        await pilot.press("pageup")
        assert not log.following
        await pilot.wait_for_animation()  # the page scroll may glide: read where it ends
        y = log.scroll_y
        await until(pilot, lambda: log.pending > 0, timeout=20, what="new events while paused")
        assert log.scroll_y == y  # the view stayed where the user put it
        # the hint follows the log's StateChanged message, a moment after the count
        hint = app.query_one("#event-hint")
        await until(pilot, lambda: "new event" in str(hint.render()), what="the hint's count")
        assert log.scroll_y == y
        await pilot.press("G")
        assert log.following and log.pending == 0
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y, what="at the end")
        await pilot.press("s")  # toggles (works from anywhere in the pane)
        assert not log.following
        await pilot.press("s")
        assert log.following
        await pilot.press("home")
        assert not log.following
        await pilot.press("end")
        assert log.following
    client.fine_tuning.jobs.cancel(job_id)


async def test_job_selected_from_the_cache_gets_its_events_once_connected(server, fttui_home):
    from fttui.tui.backend import job_row

    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.05)
    cached = job_row(client.fine_tuning.jobs.retrieve(job_id))
    cached["created_at"] = 4_000_000_000  # on top of the cached list
    write_job_cache([cached], base_url=server.base_url, api_key=server.api_key)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        # no key pressed: the cursor sits on the cached row from the first frame
        log = app.query_one(EventLog)
        await until(pilot, lambda: log.total > 0, timeout=20, what="events of the cached pick")
        assert table(app).selected_id == job_id


async def test_copy_id(server, fttui_home):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, job_id)
        await pilot.press("c")
        assert app.clipboard == job_id


async def test_create_opens_the_create_screen_and_selects_the_new_job(server, fttui_home):
    from fttui.tui.screens.create_job import CreateJobScreen

    client = server.client()
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready, what="connected")
        await pilot.press("n")
        assert isinstance(app.screen, CreateJobScreen)
        job_id = create_sim_job(client, seconds_per_step=0.01)
        app.screen.dismiss(job_id)
        await until(pilot, lambda: table(app).selected_id == job_id, what="new job selected")


async def test_read_only_refuses_cancel_and_create(server, fttui_home):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.5)
    app = make_app(server, read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await listed(pilot, job_id)
        assert "READ-ONLY" in screen_text(app)  # the status bar says so
        table(app).select_job(job_id)
        await pilot.press("x")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is app.screen_stack[0]
        messages = [n.message for n in app._notifications]
        assert any("read-only" in m for m in messages)
    client.fine_tuning.jobs.cancel(job_id)


async def test_the_last_list_is_cached_and_shown_at_once(server, fttui_home):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        await app.workers.wait_for_complete()
    # Offline start: the cached list, before (without) any request.
    app = make_app(server, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        assert "cached" in str(app.query_one("#status-refresh").render())


async def test_cached_rows_show_before_the_server_answers(fttui_home):
    jobs = sample_jobs(5)
    write_job_cache(jobs, base_url="http://127.0.0.1:9/v1")
    app = FtApp(base_url="http://127.0.0.1:9/v1", api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, *(j["id"] for j in jobs))
        assert table(app).row_count == 5


async def test_every_column_fits_at_120_columns(fttui_home):
    """Real-length ids and fine-tuned names: no horizontal scrollbar, and each name keeps
    what tells it apart (suffix and id); a wider terminal shows the names whole."""
    jobs = sample_jobs(9)
    for i, job in enumerate(jobs):
        job["id"] = f"ftjob-WX1CUiZbK44MYFUttKf1BfZ{i}"  # 30 characters, like OpenAI's
        if job["fine_tuned_model"]:
            job["fine_tuned_model"] = f"ft:{job['model']}:acme-research:support-bot-v{i}:CwjSn1f{i}"
    base_url = "http://127.0.0.1:9/v1"
    write_job_cache(jobs, base_url=base_url)
    app = FtApp(base_url=base_url, api_key="sk-test-key", live=False)
    named = [j for j in jobs if j["fine_tuned_model"]]
    async with app.run_test(size=SIZE) as pilot:
        t = table(app)
        await listed(pilot, *(j["id"] for j in jobs))
        await until(
            pilot,
            lambda: t.virtual_size.width <= t.scrollable_content_region.width,
            what="the columns fit",
        )
        assert not t.show_horizontal_scrollbar
        text = screen_text(app)
        for job in named:
            i = jobs.index(job)
            assert f"v{i}:CwjSn1f{i}" in text
            assert job["fine_tuned_model"] not in text  # shortened: it does not fit whole
        assert all(j["id"] in text for j in jobs)  # ids are never cut
        await pilot.resize_terminal(190, 40)
        await until(
            pilot,
            lambda: all(j["fine_tuned_model"] in screen_text(app) for j in named),
            what="whole names at 190 columns",
        )
        assert t.virtual_size.width <= t.scrollable_content_region.width


def test_short_model_name_and_times():
    from fttui.tui.widgets.job_table import elide_middle, format_when, short_model_name

    name = "ft:gpt-4o-mini-2024-07-18:acme:support-bot:CwjSn1ft"
    base = "gpt-4o-mini-2024-07-18"
    assert short_model_name(name, base, 60) == name
    assert short_model_name(name, base, 30) == "ft:…:acme:support-bot:CwjSn1ft"
    assert short_model_name(name, base, 25) == "ft:…:support-bot:CwjSn1ft"
    assert short_model_name(name, "babbage-002", 25) == "ft:…:support-bot:CwjSn1ft"
    assert short_model_name(name, base, 16) == "ft:supp…CwjSn1ft"
    assert elide_middle("abcdefghij", 4) == "a…ij" and elide_middle("abc", 4) == "abc"
    now = 1_763_700_000.0
    assert len(format_when(now - 3600, now=now)) == 12 and ":" in format_when(now - 3600, now=now)
    old = format_when(now - 400 * 86400, now=now)
    assert len(old) == 12 and old.endswith(time.strftime("%Y", time.localtime(now - 400 * 86400)))
    assert format_when(None) == "—"


async def test_details_list_the_checkpoints(server, fttui_home):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01, suffix="ckpt")
    job = wait_job(client, job_id, {"succeeded"}, timeout=60)
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job_id).data
    assert checkpoints
    newest = max(checkpoints, key=lambda cp: cp.step_number)
    expected = [newest.fine_tuned_model_checkpoint]  # the panel lists the last five
    app = make_app(server)
    async with app.run_test(size=(160, 40)) as pilot:
        await select(pilot, job_id)
        details = app.query_one("#job-details")
        await until(
            pilot,
            lambda: all(c in str(details.render()) for c in expected),
            what="the checkpoints in the details",
        )
        text = str(details.render())
        assert "Checkpoints" in text and f"step {newest.step_number}" in text
        assert job.fine_tuned_model in text


async def test_polling_waits_while_a_dialog_is_open(server, fttui_home):
    client = server.client()
    job_id = running_job(client)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, job_id)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        newer = create_sim_job(client, seconds_per_step=0.01)
        # Only time can show that nothing happened: five poll periods (0.3 s each here).
        start = time.monotonic()
        await until(pilot, lambda: time.monotonic() - start > 1.5, what="five poll periods")
        assert newer not in table(app).jobs  # the list under the dialog did not change
        await pilot.press("n")  # keep: the dialog closes, polling goes on
        await listed(pilot, newer)
    client.fine_tuning.jobs.cancel(job_id)


async def test_detail_and_action_results_do_not_postpone_the_list_poll(server, fttui_home):
    """The selected job's poll (every 1 s) and job actions post one-row ``JobsLoaded``s;
    each used to re-arm the list poll (every 2 s) from scratch, so with a running job
    selected the list timer was pushed back forever and the list never refreshed."""
    from fttui.tui.panes.jobs import JobsLoaded, JobsPane

    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(JobsPane)
        await until(
            pilot,
            lambda: pane._live_loaded and pane._list_timer is not None,
            what="the list poll armed",
        )
        timer = pane._list_timer
        row = {**sample_jobs(1)[0], "status": "succeeded"}
        for _ in range(3):  # in the racy order: one-row answers while the list timer waits
            pane.on_jobs_loaded(JobsLoaded([row], full=False))
        assert pane._list_timer is timer  # still the one armed by the list poll
        assert row["id"] in table(app).jobs  # the row itself was applied


async def test_away_and_back_before_a_poll_shows_the_whole_event_log(server, fttui_home):
    """j then k within the 0.15 s debounce: the log is cleared for each selection, but the
    event follower (never moved off the job) went on from where it was, so the job came
    back with an empty log (a finished job never got its events again)."""
    from fttui.tui.panes.jobs import JobsPane

    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01)
    other = create_sim_job(client, seconds_per_step=0.01)
    wait_job(client, job_id, {"succeeded"}, timeout=60)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id, other)
        pane = app.query_one(JobsPane)
        log = app.query_one(EventLog)
        table(app).select_job(job_id)
        await until(
            pilot,
            lambda: pane._selected == job_id and log.total > 0,
            timeout=20,
            what="the job's events",
        )
        total = log.total
        stale = pane._log
        pane._on_selection(other)  # the racy order: away and back before any detail poll
        pane._on_selection(job_id)
        assert log.total == 0  # cleared for the new selection
        # A poll begun before the move ends now and asks for its 15 s idle re-arm: it must
        # not replace the new selection's short timer (CI once waited 15 s on an empty log).
        pane._arm_detail(job_id, 15.0, stale)
        await until(pilot, lambda: log.total >= total, timeout=10, what="the events again")


async def test_events_polled_before_a_failed_call_are_still_shown(server, fttui_home):
    """The selected job's poll reads new events, then the checkpoints: when that second
    call failed (or the worker was superseded in between), the events already read were
    dropped, and the follower, past them, never returned them: a gap in the log."""
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01)
    wait_job(client, job_id, {"succeeded"}, timeout=60)
    app = make_app(server)
    real = app.backend.checkpoints
    calls: list[str] = []

    def flaky_checkpoints(job: str):
        calls.append(job)
        if len(calls) == 1:
            raise ConnectionError("the network dropped (injected)")
        return real(job)

    app.backend.checkpoints = flaky_checkpoints
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        log = app.query_one(EventLog)
        table(app).select_job(job_id)
        await until(pilot, lambda: calls, timeout=20, what="the first detail poll")
        await until(pilot, lambda: log.total > 0, timeout=10, what="the events read before it")


async def test_a_quick_refresh_never_cancels_the_whole_list(server, fttui_home):
    """Creating, pausing or cancelling a job asks for a quick (first page) refresh. Being
    exclusive, it cancelled a whole-list fetch under way (the one at start-up, or `r`'s),
    and the whole list then waited for the 150th poll: jobs past the first page stayed
    stale, deleted ones stayed listed. A quick refresh now fetches the whole list instead."""
    from fttui.tui.panes.jobs import JobsPane

    app = make_app(server)
    calls: list[str] = []
    real = app.backend.list_jobs

    def counted(**kwargs):
        calls.append("first page" if "limit" in kwargs else "whole list")
        return real(**kwargs)

    app.backend.list_jobs = counted
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(JobsPane)
        await until(pilot, lambda: pane._live_loaded, what="the first list")
        await until(
            pilot,
            lambda: all(w.is_finished for w in app.workers if w.group == "jobs-list"),
            what="it settled",
        )
        calls.clear()
        pane._fetch_jobs(full=True)  # `r`
        pane.refresh_now(full=False)  # a job created before the whole list came back
        await until(
            pilot,
            lambda: calls and all(w.is_finished for w in app.workers if w.group == "jobs-list"),
            what="the fetches",
        )
        assert calls[-1] == "whole list"


async def test_details_of_a_job_that_finished_while_away_list_its_last_checkpoints(
    server, fttui_home
):
    """Selected while training, the pane left while it finishes, then back: the details
    list the checkpoints the server has now (they said "none yet", or the pruned early
    ones, for a succeeded job that has three)."""
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.05, suffix="away")  # 100 steps
    app = make_app(server)
    async with app.run_test(size=(160, 40)) as pilot:
        await select_running(pilot, job_id)
        jobs = app.query_one("#jobs")
        await until(pilot, lambda: job_id in jobs.checkpoints, what="a first checkpoint list")
        await pilot.press("3")
        wait_job(client, job_id, {"succeeded"}, timeout=60)
        cps = client.fine_tuning.jobs.checkpoints.list(job_id).data
        assert len(cps) == 3
        await pilot.press("2")
        details = app.query_one("#job-details")
        await until(
            pilot,
            lambda: all(cp.fine_tuned_model_checkpoint in str(details.render()) for cp in cps),
            timeout=15,
            what="the job's three checkpoints in the details",
        )
        assert "none yet" not in str(details.render())


MARKUP = "[bold]x[/] :fire:"  # markup and an emoji code, to be shown as typed


async def test_a_superhero_suffix_and_markup_in_an_error_are_shown_as_typed(server, fttui_home):
    """A suffix "superhero" made the table show ft:…:fttui🦸… (its cells were parsed for
    markup and emoji codes); an error or event with "[bold]x[/]" lost its brackets."""
    client = server.client()
    file_id = upload(client)
    hero = create_sim_job(client, file_id=file_id, seconds_per_step=0.01, suffix="superhero")
    failed = client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18",
        training_file=file_id,
        metadata={
            "sim_seconds_per_step": "0.01",
            "sim_fail_at_step": "2",
            "sim_fail_reason": MARKUP,
        },
    ).id
    ft = wait_job(client, hero, {"succeeded"}, timeout=60).fine_tuned_model
    wait_job(client, failed, {"failed"}, timeout=60)
    assert ":superhero:" in ft
    app = make_app(server)
    async with app.run_test(size=(160, 40)) as pilot:
        await select(pilot, hero)
        text = await shows(pilot, ft)  # 160 columns: the whole name
        assert "🦸" not in text
        await select(pilot, failed)
        # in the details' Error and in the event log
        await until(pilot, lambda: screen_text(app).count(MARKUP) >= 2, what="both")
        assert "🔥" not in screen_text(app)


async def test_names_from_the_provider_are_plain_text_in_every_pane(fttui_home):
    """Whatever a provider calls its models shows as it is: the table, the details, the
    Playground's targets and answer titles, the status bar."""
    from fttui.tui.panes.playground import AnswerView, PlaygroundPane

    jobs = sample_jobs(3)
    jobs[1].update(
        model=MARKUP, fine_tuned_model="ft:davinci-002:fttui:superhero:abc", status="succeeded"
    )
    write_job_cache(jobs, base_url="http://127.0.0.1:9/v1")
    app = FtApp(base_url="http://127.0.0.1:9/v1", api_key="sk-test-key", live=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await select(pilot, jobs[1]["id"])
        text = await shows(pilot, MARKUP, "ft:davinci-002:fttui:superhero:abc")
        assert "🦸" not in text and "🔥" not in text
        await pilot.press("4")
        pane = app.query_one(PlaygroundPane)
        await until(
            pilot,
            lambda: pane.target_model == jobs[1]["fine_tuned_model"],
            what="the playground on the job",
        )
        assert str(app.query_one("#answer-a", AnswerView).border_title) == (
            "ft:davinci-002:fttui:superhero:abc"
        )
        await pilot.press("ctrl+b")
        text = await shows(pilot, f"base · {MARKUP}", "fine-tuned · ft:davinci-002:fttui:superhero")
        assert "🦸" not in text and "🔥" not in text


async def test_small_things_wording_footer_palette_copy_model_and_the_playground_hint(fttui_home):
    """ "has already succeeded" (not "is already"); one Follow key in the footer; Keys
    once in the palette; C copies the fine-tuned model name; the Playground's blank entry
    says "select a job" only when none is selected."""
    from textual.widgets import Select

    jobs = sample_jobs(3)  # index 1: succeeded, with a fine-tuned model
    done = jobs[1]
    write_job_cache(jobs, base_url="http://127.0.0.1:9/v1")
    app = FtApp(base_url="http://127.0.0.1:9/v1", api_key="sk-test-key", live=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.panes_ready, what="every pane mounted")
        pg = app.query_one("#pg-target", Select)
        assert "select a job" in str(pg.prompt)
        await select(pilot, done["id"])
        await pilot.press("x")
        said = [n.message for n in app._notifications]
        assert f"{done['id']} has already succeeded" in said, said
        await pilot.press("C")
        assert app.clipboard == done["fine_tuned_model"]
        app.query_one(EventLog).focus()
        await pilot.pause()
        footer = await shows(pilot, "s Follow")
        assert footer.splitlines()[-1].count("Follow") == 1, footer.splitlines()[-1]
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles.count("Keys") == 1, titles
        await pilot.press("4")
        await until(pilot, lambda: "select a job" not in str(pg.prompt), what="the hint")
        assert done["id"] in str(pg.prompt)


async def test_a_training_job_shows_its_step_beside_its_status(server, fttui_home):
    client = server.client()
    job_id = running_job(client, seconds_per_step=0.2)  # 100 steps
    other = running_job(client, seconds_per_step=0.2)
    app = make_app(server)
    async with app.run_test(size=(160, 40)) as pilot:
        await select(pilot, job_id)
        t = table(app)

        def step_shown(jid: str) -> bool:
            import re

            cell = t.get_cell(jid, "status")
            # the step, its share and (while the provider estimates one) the time left
            return bool(re.fullmatch(r"running \d+/100 \d+%( ETA \d+[smh]\S*)?", cell.plain))

        # the selected job's from its events, the other's from the list poll
        await until(
            pilot,
            lambda: step_shown(job_id) and step_shown(other),
            timeout=20,
            what="running N/100 on both rows",
        )
    client.fine_tuning.jobs.cancel(job_id)
    client.fine_tuning.jobs.cancel(other)
