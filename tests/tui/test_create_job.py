"""The create-job screen against a live ``fttui serve --executor sim``: lint first, refuse
on errors unless forced, upload with progress, create through the API layer, dismiss with
the job id — checked through the openai SDK."""

from __future__ import annotations

from pathlib import Path

from fttui.tui.app import FtApp
from fttui.tui.screens.create_job import CreateJobScreen
from support.live_server import make_server
from support.tui import FIXTURES, screen_text, shows, until

SIZE = (120, 40)


def make_app(server, **kwargs) -> FtApp:
    # live=False: no polling beside the test; the screen's worker still talks to the
    # server through app.backend.client(), as in the real app
    return FtApp(base_url=server.base_url, api_key=server.api_key, live=False, **kwargs)


async def open_screen(app, pilot, screen: CreateJobScreen, callback=None) -> None:
    app.push_screen(screen, callback)
    await until(pilot, lambda: screen.is_current and bool(screen.query("#create-training")))


async def open_on_lint_errors(app, pilot, results: list[str | None]) -> CreateJobScreen:
    """The form on a training file with errors, once its lint says so."""
    screen = CreateJobScreen(training_file=str(FIXTURES / "chat_errors.jsonl"))
    await open_screen(app, pilot, screen, results.append)
    await until(pilot, lambda: "errors" in screen_text(app) and "✗" in screen_text(app))
    return screen


async def backs_out(pilot, results: list[str | None]) -> None:
    """esc leaves the form, and it answers None: no job was created."""
    await pilot.press("escape")
    await until(pilot, lambda: bool(results))
    assert results == [None]


def set_fields(screen: CreateJobScreen, **values: str) -> None:
    for field, value in values.items():
        screen.query_one(f"#create-{field}").value = value


async def test_create_job_from_a_file(shared_sim_server, fttui_home: Path) -> None:
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = CreateJobScreen(training_file=str(FIXTURES / "chat_valid.jsonl"))
        await open_screen(app, pilot, screen, results.append)
        # linted as soon as it was chosen
        await until(
            pilot,
            lambda: (
                "no errors" in str(screen.query_one("#lint-training").render()).lower()
                or "✓" in screen_text(app)
            ),
        )
        await shows(pilot, "20 examples")
        set_fields(
            screen,
            validation=str(FIXTURES / "chat_valid.jsonl"),
            epochs="2",
            batch="4",
            lr="0.5",
            suffix="tui-test",
            seed="1234",
        )
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results))
        progress = screen.progress_log
    job_id = results[0]
    assert job_id and job_id.startswith("ftjob-")

    phases = [p for p, _, _ in progress]
    for phase in ("lint", "upload", "processing", "create"):
        assert phase in phases
    uploads = [(d, t) for p, d, t in progress if p == "upload"]
    assert uploads[-1][0] == uploads[-1][1] == (FIXTURES / "chat_valid.jsonl").stat().st_size

    client = shared_sim_server.client()
    job = client.fine_tuning.jobs.retrieve(job_id)
    assert job.model == "gpt-4o-mini-2024-07-18"
    assert job.seed == 1234
    assert job.user_provided_suffix == "tui-test"
    assert job.validation_file
    hp = job.hyperparameters
    assert (hp.n_epochs, hp.batch_size, float(hp.learning_rate_multiplier)) == (2, 4, 0.5)
    uploaded = client.files.retrieve(job.training_file)
    assert uploaded.filename == "chat_valid.jsonl"


async def test_lint_errors_refuse_unless_forced(shared_sim_server, fttui_home: Path) -> None:
    client = shared_sim_server.client()
    before = {j.id for j in client.fine_tuning.jobs.list(limit=100)}
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_on_lint_errors(app, pilot, results)
        await pilot.press("ctrl+s")
        await shows(pilot, "lint error", "force")
        await until(
            pilot, lambda: app.focused is screen.query_one("#create-force"), what="focus on force"
        )
        assert not results and app.screen is screen
        # nothing was uploaded or created
        assert {j.id for j in client.fine_tuning.jobs.list(limit=100)} == before

        await pilot.press("space")  # tick force
        assert screen.query_one("#create-force").value
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results))
    assert results[0] and results[0] not in before
    assert client.fine_tuning.jobs.retrieve(results[0]).id == results[0]


async def test_bad_fields_are_named_and_nothing_is_sent(
    shared_sim_server, fttui_home: Path
) -> None:
    app = make_app(shared_sim_server)
    async with app.run_test(size=SIZE) as pilot:
        screen = CreateJobScreen(training_file=str(FIXTURES / "chat_valid.jsonl"))
        await open_screen(app, pilot, screen)
        for field, value, message in (
            ("epochs", "many", "Epochs must be a whole number"),
            ("epochs", "99", "Epochs must be between 1 and 50"),
            ("batch", "0", "Batch size must be between"),
            ("lr", "-1", "greater than 0"),
            ("seed", "x", "Seed must be a whole number"),
            ("suffix", "s" * 65, "at most 64"),
            ("training", "", "Choose a training file"),
        ):
            set_fields(
                screen,
                epochs="auto",
                batch="auto",
                lr="auto",
                seed="",
                suffix="",
                training=str(FIXTURES / "chat_valid.jsonl"),
            )
            set_fields(screen, **{field: value})
            await pilot.press("ctrl+s")
            await shows(pilot, message)
            await until(
                pilot,
                lambda f=field: app.focused is screen.query_one(f"#create-{f}"),
                what=f"focus on {field}",
            )
            assert not screen.running
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not screen)


async def test_provider_down_is_one_clear_line(tmp_path: Path, fttui_home: Path) -> None:
    server = make_server(tmp_path / "down")  # never started: nothing listens
    app = make_app(server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = CreateJobScreen(training_file=str(FIXTURES / "chat_valid.jsonl"))
        await open_screen(app, pilot, screen, results.append)
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: not screen.running and "✗" in str(screen.query_one("#create-status").render()),
            timeout=60,
        )
        assert app.screen is screen and not results
        assert not screen.query_one("#create-ok").disabled  # usable again
        assert "cannot reach" in screen_text(app)
        await backs_out(pilot, results)


async def test_data_pane_n_creates_a_job_from_the_open_file(
    shared_sim_server, fttui_home: Path
) -> None:
    app = make_app(shared_sim_server, data_file=str(FIXTURES / "chat_valid.jsonl"))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one("#data")
        await until(pilot, lambda: pane.report is not None)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CreateJobScreen))
        screen = app.screen
        assert screen.query_one("#create-training").value == str(FIXTURES / "chat_valid.jsonl")
        set_fields(screen, epochs="1")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, CreateJobScreen))


async def test_read_only_refuses(shared_sim_server, fttui_home: Path) -> None:
    app = make_app(shared_sim_server, read_only=True, data_file=str(FIXTURES / "chat_valid.jsonl"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        pane = app.query_one("#data")
        await until(pilot, lambda: pane.report is not None)
        await pilot.press("n")
        await shows(pilot, "Read-only")
        assert not isinstance(app.screen, CreateJobScreen)


async def test_stop_before_the_worker_starts_frees_the_form(
    tmp_path: Path, fttui_home: Path
) -> None:
    """ctrl+s then esc in the same tick: the worker is cancelled before its thread runs, so
    it posts nothing; the form must not stay disabled on "Stopping…" (esc then backs out)."""
    server = make_server(tmp_path / "down")  # never started: nothing would answer anyway
    app = make_app(server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = CreateJobScreen(training_file=str(FIXTURES / "chat_valid.jsonl"))
        await open_screen(app, pilot, screen, results.append)
        screen.action_create()
        assert screen.running
        screen.action_cancel()  # no await in between: the worker's task has not started
        await until(pilot, lambda: not screen.running, timeout=10, what="the form usable again")
        assert "Stopped" in str(screen.query_one("#create-status").render())
        assert not screen.query_one("#create-ok").disabled
        await backs_out(pilot, results)


async def test_a_new_file_is_never_refused_for_the_last_files_errors(
    shared_sim_server, fttui_home: Path
) -> None:
    """Pick a file with errors, then a clean one (or an uploaded file id): Create must not
    say "lint errors" from the first file's report (it did, while the new lint ran, and
    forever for a file id, which is not linted here)."""
    client = shared_sim_server.client()
    uploaded = client.files.create(
        file=(FIXTURES / "chat_valid.jsonl").open("rb"), purpose="fine-tune"
    ).id
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_on_lint_errors(app, pilot, results)
        set_fields(screen, training=uploaded)
        screen._prelint("create-training", uploaded)  # as leaving the field does
        await shows(pilot, "an uploaded file id: not linted here")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), what="the job created from the file id")
        assert "lint error" not in screen_text(app)
    assert results[0] and client.fine_tuning.jobs.retrieve(results[0]).training_file == uploaded
