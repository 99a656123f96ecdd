"""The Jobs pane for comparing and iterating (issue 15): sort by any column (a key and a
header click), the Sweep column and filter, space marks jobs, and a watched job's end told
by a toast, the bell and a desktop notification (OSC 9 / OSC 777) written to the terminal."""

from __future__ import annotations

import json

import pytest

from fttui.tui.app import FtApp
from fttui.tui.panes.jobs import JobsPane
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
OFFLINE = "http://127.0.0.1:9/v1"
pytestmark = pytest.mark.usefixtures("fast_polls")


def table(app) -> JobTable:
    return app.query_one(JobTable)


def order(app) -> list[str]:
    return [row.key.value for row in table(app).ordered_rows]


def toasts(app) -> str:
    """The text of every notification the app has shown (a toast wraps on screen)."""
    return "\n".join(f"{n.title or ''}: {n.message}" for n in app._notifications)


async def click_header(pilot, column: str) -> None:
    """A real mouse click on the column's header cell."""
    t = table(pilot.app)
    x = 0
    for col in t.ordered_columns:
        if col.key.value == column:
            break
        x += col.get_render_width(t)
    await pilot.click(JobTable, offset=(1 + x + 2, 1))  # inside the border, on the label


# ----------------------------------------------------------------------------- sort


async def test_sort_by_any_column_with_a_key_and_a_header_click(fttui_home):
    jobs = sample_jobs(12)
    write_job_cache(jobs, base_url=OFFLINE)
    by_id = {j["id"]: j for j in jobs}
    newest = [j["id"] for j in sorted(jobs, key=lambda j: j["created_at"], reverse=True)]
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, *by_id)
        await until(pilot, lambda: order(app) == newest, what="newest first")

        await click_header(pilot, "model")
        await until(pilot, lambda: table(app).sort_column == "model", what="sorted by model")
        models = [by_id[j]["model"] for j in order(app)]
        assert models == sorted(models) and len(set(models)) == 3
        # equal models keep the newest first
        for model in set(models):
            same = [j for j in order(app) if by_id[j]["model"] == model]
            assert same == [j for j in newest if by_id[j]["model"] == model]
        assert "Model ▲" in screen_text(app)

        await click_header(pilot, "model")  # the same header again: the other way round
        await until(pilot, lambda: table(app).sort_reverse, what="descending")
        models = [by_id[j]["model"] for j in order(app)]
        assert models == sorted(models, reverse=True) and "Model ▼" in screen_text(app)

        await pilot.press("o")  # the next column: Status, A to Z
        statuses = [by_id[j]["status"] for j in order(app)]
        assert table(app).sort_column == "status" and statuses == sorted(statuses)
        await pilot.press("O")
        statuses = [by_id[j]["status"] for j in order(app)]
        assert statuses == sorted(statuses, reverse=True) and "Status ▼" in screen_text(app)

        table(app).sort_by("tokens")  # numbers, the biggest first; no count (—) last
        await pilot.pause()
        tokens = [by_id[j]["trained_tokens"] or -1 for j in order(app)]
        assert tokens == sorted(tokens, reverse=True) and tokens[-1] == -1

        # the cursor stays on its job through a re-sort
        table(app).select_job(newest[5])
        await pilot.press("o")
        assert table(app).selected_id == newest[5]


async def test_a_sort_arrow_wider_than_its_column_widens_it_and_the_names_fit_the_rest(
    fttui_home,
):
    # "Tokens ▼" is two cells wider than "12,000": the Tokens column widens, the fine-tuned
    # model column gives the cells up, and its names are shortened again to the new width
    # (each cell shortens itself when drawn: no row is built again for it)
    from fttui.tui.widgets.job_table import short_model_name

    jobs = sample_jobs(12)
    for i, job in enumerate(jobs):
        if job["fine_tuned_model"]:
            suffix = f"support-bot-for-the-whole-research-team-v{i}"  # cut in its middle
            job["fine_tuned_model"] = f"ft:{job['model']}:acme-research:{suffix}:CwjSn1f{i}"
    write_job_cache(jobs, base_url=OFFLINE)
    named = [j for j in jobs if j["fine_tuned_model"]]
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        t = table(app)
        await until(pilot, lambda: t.row_count == 12, what="rows")

        def width(key: str) -> int:
            return next(c.width for c in t.ordered_columns if c.key.value == key)

        def names_fit(ft_width: int) -> bool:
            text = screen_text(app)
            return all(
                short_model_name(j["fine_tuned_model"], j["model"], ft_width) in text for j in named
            )

        tokens, ft = width("tokens"), width("fine_tuned_model")
        assert tokens == len("Tokens") and names_fit(ft)
        assert not any(j["fine_tuned_model"] in screen_text(app) for j in named)  # cut
        t.sort_by("tokens")
        await shows(pilot, "Tokens ▼")
        assert width("tokens") == len("Tokens ▼") and width("fine_tuned_model") == ft - 2
        await until(pilot, lambda: names_fit(ft - 2), what="the names at the new width")
        assert short_model_name(named[0]["fine_tuned_model"], named[0]["model"], ft) not in (
            screen_text(app)
        )
        assert t.virtual_size.width <= t.scrollable_content_region.width  # no h-scrollbar
        t.sort_by("created", reverse=True)  # newest first: no arrow, the widths as before
        await until(pilot, lambda: width("tokens") == tokens, what="the Tokens column back")
        await until(pilot, lambda: names_fit(ft), what="the names at the first width")


# ----------------------------------------------------------------------------- sweeps, marks


async def test_a_sweep_column_the_jobs_of_a_sweep_and_space_marks_jobs(server, fttui_home, capsys):
    from fttui.cli import main

    client = server.client()
    alone = create_sim_job(client, seconds_per_step=0.005)
    code = main(["--base-url", server.base_url, "--api-key", server.api_key, "jobs", "create",
                 "--model", "gpt-4o-mini-2024-07-18", "--training-file", upload(client),
                 "--epochs", "1,2", "--metadata", "sim_seconds_per_step=0.005", "--yes",
                 "--json"])  # fmt: skip
    assert code == 0
    sweep = json.loads(capsys.readouterr().out)
    swept = [j["id"] for j in sweep["jobs"]]
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, alone, *swept)
        t = table(app)
        await until(pilot, lambda: "sweep" in t.shown, what="the Sweep column")
        text = await shows(pilot, "Sweep", sweep["sweep"])
        assert sum(ln.count(sweep["sweep"]) for ln in text.splitlines()) == 2
        alone_line = next(ln for ln in text.splitlines() if alone in ln)
        assert "sweep-" not in alone_line

        t.select_job(swept[0])
        await pilot.press("w")  # only this job's sweep
        await until(pilot, lambda: set(order(app)) == set(swept), what="the sweep's jobs")
        assert t.filter_text == sweep["sweep"]
        assert "2 of 3 match" in str(t.border_subtitle)
        await pilot.press("escape")
        await until(pilot, lambda: len(order(app)) == 3, what="every job again")
        t.select_job(alone)
        await pilot.press("w")
        await until(pilot, lambda: "is not part of a sweep" in toasts(app), what="warning")

        for job_id in (swept[1], alone):
            t.select_job(job_id)
            await pilot.press("space")
        assert list(t.marked) == [swept[1], alone]  # in marking order
        text = await shows(pilot, f"● {swept[1]}", f"● {alone}", "2 marked")
        assert f"● {swept[0]}" not in text
        await pilot.press("space")  # again: unmarked
        assert list(t.marked) == [swept[1]]
        await shows(pilot, "1 marked")


async def test_a_mark_drawn_in_place_shows_and_goes_on_screen_and_survives_a_sort(fttui_home):
    # The first mark widens the ID column (every row again); the next ones change one
    # cell in place and repaint only its row: the screen itself must show each change.
    jobs = sample_jobs(12)
    write_job_cache(jobs, base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        t = table(app)
        await until(pilot, lambda: t.row_count == 12, what="rows")
        first, second = order(app)[2], order(app)[5]
        t.select_job(first)
        await pilot.press("space")
        await shows(pilot, f"● {first}", "1 marked")
        t.select_job(second)
        await pilot.press("space")
        await shows(pilot, f"● {first}", f"● {second}", "2 marked")
        await pilot.press("j")  # off the row: drawn without the cursor, still marked
        await shows(pilot, f"● {second}")
        t.select_job(second)
        await pilot.press("space")  # unmarked in place
        await until(pilot, lambda: f"● {second}" not in screen_text(app), what="the mark gone")
        assert second in screen_text(app) and list(t.marked) == [first]
        await pilot.press("space")  # and marked again
        await shows(pilot, f"● {second}", "2 marked")
        await pilot.press("o")  # another order: the marks go with their rows
        await until(pilot, lambda: t.sort_column != "created", what="sorted")
        await shows(pilot, f"● {first}", f"● {second}")
        assert list(t.marked) == [first, second]


async def test_no_sweep_column_while_no_job_is_part_of_one(fttui_home):
    write_job_cache(sample_jobs(5), base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table(app).row_count == 5, what="rows")
        assert "sweep" not in table(app).shown and "Sweep" not in screen_text(app)


# ----------------------------------------------------------------------------- notifications


def record_writes(app) -> list[str]:
    """What the app writes to its terminal from now on (the driver still writes it)."""
    written: list[str] = []
    driver = app._driver
    write = driver.write

    def recording(data: str) -> None:
        written.append(data)
        write(data)

    driver.write = recording
    return written


@pytest.fixture
def plain_terminal(monkeypatch):
    for var in ("TMUX", "VTE_VERSION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


async def test_a_watched_job_ending_raises_a_toast_the_bell_and_writes_osc_9(
    server, fttui_home, plain_terminal
):
    client = server.client()
    file_id = upload(client)
    done = create_sim_job(client, file_id=file_id, seconds_per_step=0.005)
    wait_job(client, done, {"succeeded"})
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, done)
        written = record_writes(app)
        t = table(app)
        t.select_job(done)  # ended before it was watched: nothing to tell
        # created once the app is up (a loaded box starts it slowly): 100 steps (auto
        # epochs on 20 examples), seconds of training to be watched in
        selected = create_sim_job(client, file_id=file_id, seconds_per_step=0.05)
        marked = create_sim_job(client, file_id=file_id, seconds_per_step=0.1, fail_at_step=50)
        await listed(pilot, selected, marked)
        t.select_job(marked)
        await pilot.press("space")
        assert t.jobs[marked]["status"] not in ("succeeded", "failed", "cancelled")
        t.select_job(selected)
        await until(pilot, lambda: app.query_one(JobsPane)._selected == selected, what="sel")

        final = wait_job(client, selected, {"succeeded"})
        await until(pilot, lambda: f"\x1b]9;fttui: {selected} succeeded" in "".join(written),
                    what="OSC 9 of the selected job")  # fmt: skip
        out = "".join(written)
        assert f"\a\x1b]9;fttui: {selected} succeeded: {final.fine_tuned_model}\x07" in out
        await until(pilot, lambda: f"\x1b]9;fttui: {marked} failed: " in "".join(written),
                    what="OSC 9 of the marked job")  # fmt: skip
        await until(pilot, lambda: f"Job ended: {selected} succeeded" in toasts(app), what="toast")
        out = "".join(written)
        assert done not in out
        assert out.count(f"\x1b]9;fttui: {selected} ") == 1  # told once, polls go on
        await pilot.pause(1.0)
        assert "".join(written).count(f"\x1b]9;fttui: {selected} ") == 1


async def test_a_job_created_in_the_app_is_told_even_if_it_ended_before_a_poll(
    server, fttui_home, plain_terminal
):
    from fttui.tui.screens.create_job import CreateJobScreen

    client = server.client()
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready, what="connected")
        written = record_writes(app)
        await pilot.press("n")
        assert isinstance(app.screen, CreateJobScreen)
        job_id = create_sim_job(client, seconds_per_step=0.005)
        wait_job(client, job_id, {"succeeded"})
        app.screen.dismiss(job_id)
        await until(pilot, lambda: f"\x1b]9;fttui: {job_id} succeeded" in "".join(written),
                    what="OSC 9 of the created job")  # fmt: skip


async def _one_job_ending(server, client, file_id: str) -> tuple[str, str, str]:
    """(job id, what the app wrote to the terminal, the screen) once a selected job ended."""
    job_id = create_sim_job(client, file_id=file_id, seconds_per_step=0.1)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        written = record_writes(app)
        pane = app.query_one(JobsPane)
        table(app).select_job(job_id)
        await until(pilot, lambda: pane._selected == job_id, what="selected")
        wait_job(client, job_id, {"succeeded"})
        await until(pilot, lambda: job_id in pane._told, what="the end seen")
        await pilot.pause(0.2)
        return job_id, "".join(written), toasts(app)


async def test_notifications_follow_the_config_osc_777_or_off(server, fttui_home, plain_terminal):
    config = fttui_home / "config" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    client = server.client()
    file_id = upload(client)

    config.write_text('[notifications]\nbell = false\ndesktop = "osc777"\n')
    job_id, out, screen = await _one_job_ending(server, client, file_id)
    # no bell: the only BEL is the one that ends the sequence
    assert out.startswith(f"\x1b]777;notify;fttui;{job_id} succeeded: ft:")
    assert out.count("\a") == 1 and out.endswith("\a")
    assert "\x1b]9;" not in out and "Job ended" in screen

    config.write_text("[notifications]\ntoast = false\nbell = false\ndesktop = false\n")
    job_id, out, screen = await _one_job_ending(server, client, file_id)
    assert "\x1b]" not in out and "\a" not in out and "Job ended" not in screen


def test_the_desktop_sequence_is_clean_and_passes_through_tmux():
    from fttui.tui.notify import desktop_kind, desktop_sequence

    plain = {"TERM": "xterm-256color"}
    assert desktop_kind("auto", plain) == "osc9"
    assert desktop_kind("auto", {"TERM": "foot"}) == "osc777"
    assert desktop_kind("auto", {"TERM": "xterm-256color", "VTE_VERSION": "7600"}) == "osc777"
    assert desktop_kind("off", plain) is None
    # a control character in a name cannot end the sequence early
    seq = desktop_sequence("fttui", "job \x1b]0;owned\x07 done", kind="osc9", env=plain)
    assert seq == "\x1b]9;fttui: job ]0;owned done\x07"
    seq = desktop_sequence("a;b", "x", kind="osc777", env=plain)
    assert seq == "\x1b]777;notify;a,b;x\x07"
    tmux = desktop_sequence("fttui", "x", kind="osc9", env={**plain, "TMUX": "/tmp/t,1,0"})
    assert tmux == "\x1bPtmux;\x1b\x1b]9;fttui: x\x07\x1b\\"


def test_a_bad_notifications_table_is_one_clear_config_error(tmp_path):
    from fttui.config import ConfigError, load_config, load_notifications

    path = tmp_path / "config.toml"
    path.write_text('[notifications]\ndesktop = "loud"\n')
    with pytest.raises(ConfigError, match=r"\[notifications\] desktop must be one of auto"):
        load_config(path)
    assert load_notifications(path).desktop == "auto"  # the app goes on with the defaults
    path.write_text("[notifications]\nbel = false\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path)
