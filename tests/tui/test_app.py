"""The app shell: panes, help, palette, keymap, read-only, the outage banner (a faulty and
a stopped server), the local server when no key is set, the CLI entry, and SVG snapshots
of each pane in a fixed state."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from fttui.tui.app import FtApp
from fttui.tui.screens.confirm import ConfirmScreen
from fttui.tui.screens.help import HelpScreen
from fttui.tui.widgets.job_table import JobTable
from fttui.tui.widgets.key_footer import KeyFooter
from fttui.tui.widgets.status_bar import Banner
from support.tui import (
    create_sim_job,
    sample_jobs,
    sample_series,
    screen_text,
    until,
    write_job_cache,
)

SIZE = (120, 40)
OFFLINE = "http://127.0.0.1:9/v1"  # nothing listens there; live=False never calls it


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def cached_app(fttui_home, utc):
    """An offline app showing a fixed cached job list (deterministic frames)."""
    write_job_cache(sample_jobs(12), base_url=OFFLINE)
    return FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)


async def loaded(pilot) -> None:
    await until(pilot, lambda: pilot.app.query_one(JobTable).row_count == 12, what="cached rows")


# -- shell ------------------------------------------------------------------------------
async def test_panes_switch_with_1_to_5(cached_app):
    app = cached_app
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.current_pane == "jobs"
        for key, pane in (("1", "data"), ("3", "metrics"), ("4", "playground"), ("5", "evals")):
            if app.focused is not None and app.focused.id == "pg-prompt":
                await pilot.press("escape")
            await pilot.press(key)
            assert app.current_pane == pane
            assert app.query_one("#pane-tabs").active == f"tab-{pane}"
            assert app.query_one(f"#{pane}").display
        await pilot.press("escape", "2")
        assert app.current_pane == "jobs"
        assert app.focused is app.query_one(JobTable)


async def test_help_lists_the_keys_that_work_here(cached_app):
    app = cached_app
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {r.binding_id for r in app.screen.rows}
        assert {"jobs.cancel", "jobs.filter", "app.refresh", "app.quit"} <= ids
        assert "metrics.export" not in ids  # not a key that works on the jobs pane
        await pilot.press(*"cancel")
        table = app.screen.query_one("#help-table")
        matching = [
            r
            for r in app.screen.rows
            if "cancel" in f"{r.keys} {r.description} {r.where} {r.binding_id}".lower()
        ]
        assert 1 <= len(matching) < len(app.screen.rows)
        # the search is applied from Input.Changed (a message): wait for the whole word
        await until(pilot, lambda: table.row_count == len(matching), what="rows matching cancel")
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("3", "question_mark")
        ids = {r.binding_id for r in app.screen.rows}
        assert "metrics.export" in ids and "jobs.cancel" not in ids


async def test_command_palette(cached_app):
    from textual.command import CommandList, CommandPalette

    app = cached_app
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Go to Metrics")
        # hits are gathered asynchronously: wait until the command is the highlighted one
        # (enter on an earlier, partial list would run another command or nothing)
        found = app.screen.query_one(CommandList)

        def highlighted() -> str:
            index = found.highlighted
            return "" if index is None else str(found.get_option_at_index(index).prompt)

        await until(pilot, lambda: "Go to Metrics" in highlighted(), what="the command found")
        await pilot.press("enter")
        await until(pilot, lambda: app.current_pane == "metrics", what="palette command")


async def test_keymap_from_config_remaps_bindings(fttui_home, utc):
    from fttui import paths

    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text(
        '[keymap]\n"jobs.cancel" = "X"\n"app.pane.metrics" = "f3"\n"no.such.binding" = "z"\n'
    )
    write_job_cache(sample_jobs(12), base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        # the keymap is applied after the first frame and checked once every pane is
        # mounted: the cached rows may come before either (a race when asserted at once)
        await until(pilot, lambda: app.panes_ready and app.keymap_problems, what="keymap checked")
        assert app.keymap_problems == ["no.such.binding"]
        app.query_one(JobTable).select_job("ftjob-00007demo")  # running
        await pilot.press("x")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("X")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "f3")
        assert app.current_pane == "metrics"


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_q_and_ctrl_q_quit(fttui_home, utc, key):
    write_job_cache(sample_jobs(12), base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        if key == "ctrl+q":  # works from inside a text box too (q types there)
            await pilot.press("slash")
            await until(pilot, lambda: app.focused is app.query_one("#jobs-filter"), what="filter")
        await pilot.press(key)
        await until(pilot, lambda: app._exit, what="the app exiting")
    assert app.return_code in (None, 0)


@pytest.mark.parametrize("pane", ["playground", "evals"])
async def test_closing_while_a_pane_is_still_being_mounted_is_no_error(fttui_home, pane):
    """The panes off screen are mounted after the first frame. An app closed in the middle
    of one (q at once, a short test ending) pruned its Select's children before the
    Select's own Mount ran, and the app ended in a NoMatches traceback (CI, stop 20)."""
    import asyncio

    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False, initial_pane="data")
    async with app.run_test(size=SIZE):
        # one event-loop turn at a time: exit the moment the pane is in the switcher,
        # before its children have run their Mount handlers
        while not app.has_pane(pane):
            await asyncio.sleep(0)
        assert not app.panes_ready
    assert app.return_code in (None, 0)


def test_every_binding_has_an_id_and_a_description():
    from fttui.tui.keymap import binding_ids
    from fttui.tui.panes.jobs import JobsPane
    from fttui.tui.panes.metrics import MetricsPane
    from fttui.tui.panes.playground import PlaygroundPane, PromptInput
    from fttui.tui.widgets.event_log import EventLog

    classes = [
        FtApp,
        JobsPane,
        MetricsPane,
        PlaygroundPane,
        PromptInput,
        EventLog,
        JobTable,
        ConfirmScreen,
        HelpScreen,
    ]
    for cls in classes:
        for binding in cls.__dict__.get("BINDINGS", []):
            assert binding.id, (cls, binding)
            assert binding.description or binding.system, (cls, binding)
    ids = binding_ids(classes)
    assert len(ids) == sum(len(c.__dict__.get("BINDINGS", [])) for c in classes)  # unique


# -- outage banner ----------------------------------------------------------------------
async def test_rate_limit_banner_counts_down(cached_app):
    from fttui.tui.messages import BackendOk, BackendProblem

    app = cached_app
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one(Banner)
        assert not banner.active and not banner.display
        app.post_message(BackendProblem("rate_limit", "rate limited (429): slow down", retry_in=30))
        await until(pilot, lambda: banner.active, what="banner")
        assert banner.display and banner.has_class("-warning")
        text = str(banner.render())
        assert "Rate limited" in text and "retrying in 30s" in text
        # any second counted down (a loaded CI box may skip one or two)
        counted = [f"retrying in {s}s" for s in range(1, 30)]
        await until(
            pilot,
            lambda: any(c in str(banner.render()) for c in counted),
            timeout=20,
            what="countdown",
        )
        app.post_message(BackendOk("jobs"))
        await until(pilot, lambda: not banner.active, what="cleared")
        assert not banner.display


async def test_outage_banner_with_a_failing_provider(tmp_path, fttui_home):
    from support.live_server import make_server

    (tmp_path / "faulty").mkdir()
    server = make_server(tmp_path / "faulty", "--faults", "500=1.0")
    # Every API call fails, so wait on GET /health (never faulted) instead of /models.
    server.wait_ready = lambda timeout: wait_health(server, timeout)
    server.start()
    try:
        app = FtApp(base_url=server.base_url, api_key=server.api_key)
        async with app.run_test(size=SIZE) as pilot:
            banner = app.query_one(Banner)
            await until(pilot, lambda: banner.active, timeout=20, what="banner")
            text = str(banner.render())
            assert "Provider error" in text and "500" in text
            assert "retrying in" in text
            # the screen does not freeze: keys still work at once
            await pilot.press("3")
            assert app.current_pane == "metrics"
    finally:
        server.stop()


def wait_health(server, timeout: float) -> None:
    import urllib.request

    root = server.base_url.removesuffix("/v1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{root}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"no /health in {timeout}s:\n{server.log()}")


async def test_banner_when_the_server_stops_and_recovery(tmp_path, fttui_home, monkeypatch):
    import fttui.tui.panes.jobs as jobs
    from support.live_server import make_server

    monkeypatch.setattr(jobs, "LIST_IDLE", 0.5)
    monkeypatch.setattr(jobs, "LIST_ACTIVE", 0.5)
    (tmp_path / "stopping").mkdir()
    server = make_server(tmp_path / "stopping").start()
    try:
        job_id = create_sim_job(server.client(), seconds_per_step=0.01)
        app = FtApp(base_url=server.base_url, api_key=server.api_key)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: job_id in app.query_one(JobTable).jobs, what="listed")
            banner = app.query_one(Banner)
            server.stop()
            await until(pilot, lambda: banner.active, timeout=20, what="banner")
            assert "unreachable" in str(banner.render()).lower()
            assert app.query_one(JobTable).row_count >= 1  # the last list stays
            server.start()
            await pilot.press("r")  # retry now
            await until(pilot, lambda: not banner.active, timeout=30, what="recovered")
    finally:
        server.stop()


async def test_no_key_no_profile_starts_the_local_server(fttui_home, monkeypatch):
    from fttui import paths
    from fttui.api.local_server import stop_local_server

    monkeypatch.setenv("FTTUI_LOCAL_EXECUTOR", "sim")
    app = FtApp()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.ready, timeout=60, what="local server")
            detail = str(app.query_one("#status-detail").render())
            assert "local server" in detail and "sim" in detail
            assert app.backend.provider.kind == "local"
            assert app.backend.provider.base_url.startswith("http://127.0.0.1:")
    finally:
        stop_local_server(paths.data_dir())


async def test_the_local_server_the_app_started_is_started_again_after_serve_stop(
    fttui_home, monkeypatch
):
    """`fttui serve --stop` under a running app: it retried the dead port for ever and
    still said "local server · sim". It starts the server again and says so."""
    import fttui.tui.panes.jobs as jobs
    from fttui import paths
    from fttui.api.local_server import stop_local_server

    monkeypatch.setenv("FTTUI_LOCAL_EXECUTOR", "sim")
    monkeypatch.setattr(jobs, "LIST_IDLE", 0.5)
    monkeypatch.setattr(jobs, "LIST_ACTIVE", 0.5)
    app = FtApp()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.ready, timeout=60, what="local server")
            first = app.backend.provider.base_url
            assert stop_local_server(paths.data_dir())
            await until(pilot, lambda: not app.ready, timeout=20, what="the outage seen")
            await until(pilot, lambda: app.ready, timeout=60, what="the server started again")
            detail = str(app.query_one("#status-detail").render())
            assert "local server" in detail and "sim" in detail
            assert app.backend.provider.base_url.startswith("http://127.0.0.1:")
            said = [n.message for n in app._notifications]
            assert any("starting it again" in m for m in said), said
            assert any("Started the local server again" in m for m in said), said
            # and it answers: the job list is fetched from the new server
            app.query_one(JobTable).jobs.clear()
            client = app.backend.client()
            job_id = create_sim_job(client, seconds_per_step=0.01)
            await until(
                pilot,
                lambda: job_id in app.query_one(JobTable).jobs,
                timeout=20,
                what="a job on the new server listed",
            )
            assert first  # (the new server may or may not reuse the port)
    finally:
        stop_local_server(paths.data_dir())


# -- CLI entry --------------------------------------------------------------------------
def test_cli_data_needs_an_existing_file(fttui_home, tmp_path):
    from fttui.cli import main

    assert main(["data", str(tmp_path / "missing.jsonl")]) == 2


def test_bare_fttui_without_a_terminal_says_so(fttui_home):
    proc = subprocess.run(
        [sys.executable, "-m", "fttui"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "terminal" in proc.stderr and "Traceback" not in proc.stderr


def test_bare_fttui_opens_the_app_without_loading_a_subcommand(fttui_home):
    """The app's global options parse without the nine subcommands (their modules and
    parsers slowed the first frame); anything else still gets the full parser."""
    from fttui.cli import COMMAND_MODULES

    script = (
        "import sys\n"
        "from fttui.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(code, ' '.join(m for m in sys.modules if m.startswith('fttui.cli.')))\n"
    )

    def run(*argv: str) -> tuple[int, set[str], str]:
        proc = subprocess.run(
            [sys.executable, "-c", script, *argv],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        if proc.returncode:  # a usage error exits from argparse, before the print
            return proc.returncode, set(), proc.stderr
        code, *modules = proc.stdout.split()
        return int(code), {m.removeprefix("fttui.cli.") for m in modules}, proc.stderr

    # as far as opening the app (no terminal here), with no subcommand module but `data`
    code, modules, err = run("--read-only", "--profile", "jobs", "--base-url=http://127.0.0.1:9/v1")
    assert code == 2 and "the app needs a terminal" in err, err
    assert modules & set(COMMAND_MODULES) == {"data"} and "apicommon" not in modules
    # an abbreviation, a missing value, an unknown option: the full parser, as before
    code, modules, err = run("--prof", "jobs")
    assert code == 2 and "the app needs a terminal" in err and "lint" in modules, err
    code, _modules, err = run("--profile")
    assert code == 2 and "argument --profile: expected one argument (see fttui --help)" in err
    code, _modules, err = run("--bogus")
    assert code == 2 and "unrecognized arguments: --bogus" in err


# -- snapshots (fixed state: cached jobs, fixed series; TZ=UTC) -------------------------
# Frames change between Textual releases: the SVGs were taken with this exact version.
SNAPSHOT_TEXTUAL = "8.2.8"
snapshot = pytest.mark.skipif(
    __import__("textual").__version__ != SNAPSHOT_TEXTUAL,
    reason=f"snapshots were taken with Textual {SNAPSHOT_TEXTUAL}",
)


@snapshot
def test_snapshot_jobs_pane(snap_compare, cached_app):
    async def run_before(pilot):
        await loaded(pilot)
        await pilot.press("j", "j")

    assert snap_compare(cached_app, terminal_size=SIZE, run_before=run_before)


@snapshot
def test_snapshot_cancel_dialog(snap_compare, cached_app):
    async def run_before(pilot):
        await loaded(pilot)
        pilot.app.query_one(JobTable).select_job("ftjob-00007demo")
        await pilot.press("x")

    assert snap_compare(cached_app, terminal_size=SIZE, run_before=run_before)


@snapshot
def test_snapshot_metrics_pane(snap_compare, cached_app):
    async def run_before(pilot):
        await loaded(pilot)
        pilot.app.query_one(JobTable).select_job("ftjob-00008demo")
        await pilot.press("3")
        pilot.app.query_one("#metrics").show_series(
            sample_series(30), total_steps=30, status="succeeded"
        )

    assert snap_compare(cached_app, terminal_size=SIZE, run_before=run_before)


@snapshot
def test_snapshot_playground_pane(snap_compare, cached_app):
    async def run_before(pilot):
        from fttui.tui.panes.playground import AnswerView

        await loaded(pilot)
        pilot.app.query_one(JobTable).select_job("ftjob-00008demo")
        await pilot.press("4")
        pilot.app.query_one("#pg-stop").value = " END"
        view = pilot.app.query_one("#answer-a", AnswerView)
        view.start("Who are you?")
        view.finish(
            "[simulated] I am a fine-tuned model.",
            "ft:babbage-002:fttui:demo-8:sim0008 · finish: stop · 4 → 9 tokens · 0.1s",
        )
        await pilot.press("escape")

    assert snap_compare(cached_app, terminal_size=SIZE, run_before=run_before)


@snapshot
def test_snapshot_help(snap_compare, cached_app):
    async def run_before(pilot):
        await loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(cached_app, terminal_size=SIZE, run_before=run_before)


async def test_alt_digits_switch_panes_from_any_input(cached_app):
    """With the Playground's prompt (or any box) focused, 1–4 are typed into it: alt+1–4
    switch panes from there (before, only esc then a digit did)."""
    from fttui.tui.panes.playground import PromptInput

    app = cached_app
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("4")
        await until(pilot, lambda: app.focused is app.query_one(PromptInput), what="prompt")
        await pilot.press("2")  # typed, as a prompt may start with a number
        assert app.current_pane == "playground" and app.query_one(PromptInput).value == "2"
        await pilot.press("alt+3")
        assert app.current_pane == "metrics"
        await pilot.press("alt+4")
        assert app.current_pane == "playground"
        app.query_one("#pg-max-tokens").focus()
        await pilot.press("5", "alt+2")
        assert app.query_one("#pg-max-tokens").value == "5"
        assert app.current_pane == "jobs"
        await pilot.press("slash")  # the filter box
        assert app.focused is app.query_one("#jobs-filter")
        await pilot.press("1", "alt+1")
        assert app.current_pane == "data"


async def test_a_pane_switch_draws_the_panes_keys_in_the_same_frame_as_the_pane(cached_app):
    """Issue 15: the stock footer rebuilt ~20 key widgets a frame after each pane switch
    (10-20 ms of CPU; the keys of the pane came ~50 ms after the pane). The footer is one
    widget drawing one line: the frame that first shows the pane shows its keys, in the
    order the stock footer lists them (the command palette's last, on the right)."""
    from textual.widgets import ContentSwitcher

    app = cached_app
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        footer = app.query_one(KeyFooter)
        switcher = app.query_one(ContentSwitcher)
        await until(pilot, footer.shows_current_keys, what="the keys")
        frames: list[tuple[list[str], bool]] = []
        screen = app.screen
        original = screen._compositor_refresh

        def drawn() -> None:
            original()
            laid_out = [p.id for p in switcher.children if p in screen._compositor]
            # the pane laid out, and the focus moved into it (a moment after the switch)
            moved = len(laid_out) == 1 and switcher.get_child_by_id(laid_out[0]).has_focus_within
            frames.append((laid_out if moved else [], footer.shows_current_keys()))

        screen._compositor_refresh = drawn
        seen = set()
        for pane in ("1", "3", "5", "2", "4"):
            frames.clear()
            await pilot.press(pane)
            target = app.current_pane
            await until(pilot, lambda t=target: any(f[0] == [t] for f in frames), what=pane)
            first = next(f for f in frames if f[0] == [target])
            assert first[1], f"pane {pane}: its first frame showed another pane's keys"
            line = screen_text(app).splitlines()[-1]
            planned = footer._plan()[1]
            assert [k.description for k in footer.keys] == [k.description for k in planned]
            assert footer.keys[-1].action == "command_palette"
            assert line.rstrip().endswith("▏^p palette"), line
            positions = [line.index(f"{k.key_display} {k.description}") for k in footer.keys]
            assert positions == sorted(positions), line
            seen.add(tuple(k.description for k in footer.keys))
        assert len(seen) >= 3  # the panes' keys differ


async def test_a_footer_key_lights_under_the_mouse_shows_its_tooltip_and_runs_on_click(
    cached_app,
):
    """The one-line footer keeps what the stock footer's key widgets did: the key under
    the mouse is lit and its tooltip shown, a click runs the key."""
    app = cached_app
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        footer = app.query_one(KeyFooter)
        await until(pilot, footer.shows_current_keys, what="the keys")
        before = footer.render_line(0)  # nothing lit
        palette = next(s for s in footer._spans if s[2].action == "command_palette")
        await pilot.hover(KeyFooter, offset=(palette[0] + 1, 0))
        await until(pilot, lambda: footer._hover is not None, what="the palette key lit")
        assert footer._hover.action == "command_palette"
        assert footer.tooltip and footer.tooltip == palette[2].tooltip
        start, _end, _spec = next(s for s in footer._spans if s[2].description == "Help")
        await pilot.hover(KeyFooter, offset=(start + 1, 0))
        await until(
            pilot,
            lambda: footer._hover is not None and footer._hover.description == "Help",
            what="the help key lit",
        )
        lit = footer.render_line(0)
        cells = [(seg.text, seg.style.bgcolor) for seg in lit if seg.text.strip()]
        plain = [(seg.text, seg.style.bgcolor) for seg in before if seg.text.strip()]
        assert cells != plain  # the lit key has another background
        await pilot.click(KeyFooter, offset=(start + 1, 0))
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
