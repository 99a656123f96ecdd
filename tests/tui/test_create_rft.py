"""Reinforcement fine-tuning from the create form: the method choice, the grader editor and
its Validate (the provider's ``/fine_tuning/alpha/graders/validate``), the RFT
hyperparameters, and a grader the data cannot satisfy refused before anything is uploaded —
against a live ``fttui serve --executor sim``, checked through the openai SDK."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fttui.tui.app import FtApp
from fttui.tui.screens.create_job import CreateJobScreen
from fttui.tui.widgets.grader_editor import GraderEditor, TrainingMethodSection
from fttui.tui.widgets.job_table import JobTable
from support.datasets import preference, write_jsonl
from support.tui import sample_jobs, screen_text, shows, until, write_job_cache

SIZE = (120, 40)
OFFLINE = "http://127.0.0.1:9/v1"  # nothing listens there
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.capital}}",
    "operation": "ilike",
}


@pytest.fixture
def rft_file(tmp_path: Path) -> Path:
    """RFT data: a user prompt and the reference field ``capital`` a grader compares with."""
    rows = [
        {"messages": [{"role": "user", "content": f"Capital of country {i}?"}], "capital": f"C{i}"}
        for i in range(12)
    ]
    return write_jsonl(tmp_path / "rft.jsonl", rows)


def make_app(server) -> FtApp:
    return FtApp(base_url=server.base_url, api_key=server.api_key, live=False)


def file_ids(client) -> set[str]:
    """The uploaded training files (jobs that finish meanwhile add their result files)."""
    return {f.id for f in client.files.list(purpose="fine-tune")}


def section(screen: CreateJobScreen) -> TrainingMethodSection:
    return screen.query_one(TrainingMethodSection)


def editor(screen: CreateJobScreen) -> GraderEditor:
    return screen.query_one(GraderEditor)


async def open_rft_form(app, pilot, training: Path, results: list) -> CreateJobScreen:
    """The form on ``training``, switched to reinforcement and linted for it."""
    screen = CreateJobScreen(training_file=str(training))
    app.push_screen(screen, results.append)
    await until(pilot, lambda: screen.is_current and bool(screen.query("#create-method")))
    await until(pilot, lambda: "examples (" in screen_text(app), what="the first lint")
    section(screen).set_method("reinforcement")
    await until(pilot, lambda: editor(screen).text.strip() != "", what="the example grader")
    await until(
        pilot,
        lambda: "reinforcement" in screen._reports.get("create-training", ("", "", None))[1],
        what="the lint for reinforcement fine-tuning",
    )
    return screen


def set_grader(screen: CreateJobScreen, grader: dict | str) -> None:
    text = grader if isinstance(grader, str) else json.dumps(grader, indent=2)
    screen.query_one("#create-grader").load_text(text)


async def test_the_example_grader_names_the_reference_field_of_the_training_file(
    server, fttui_home, rft_file
) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rft_form(app, pilot, rft_file, [])
        grader = editor(screen).grader()
        assert grader["type"] == "string_check"
        assert grader["reference"] == "{{item.capital}}"  # the data's field, not a placeholder
        # RFT data linted for RFT: no "missing assistant message" errors refuse it
        assert "✓ no errors" in str(screen.query_one("#lint-training").render())


async def test_validate_shows_ok_for_a_good_grader_and_the_bad_fields_path_for_a_bad_one(
    server, fttui_home, rft_file
) -> None:
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rft_form(app, pilot, rft_file, [])
        result = screen.query_one("#grader-result")
        set_grader(screen, GRADER)
        screen.query_one("#create-grader").focus()
        await pilot.press("ctrl+g")
        await until(pilot, lambda: "✓ valid" in str(result.render()), what="the grader valid")
        assert "checked by the provider" in str(result.render())
        assert "item.capital" in str(result.render())

        set_grader(screen, {**GRADER, "operation": "contains"})
        screen.query_one("#grader-validate").press()  # the button, as a click would
        await until(pilot, lambda: "✗" in str(result.render()), what="the grader refused")
        text = str(result.render())
        assert "grader.operation" in text and "'contains' is not one of" in text
        assert screen.query_one("#create-grader").has_class("-invalid")

        set_grader(screen, '{"type": "string_check",')  # half-written: where it stops
        screen.query_one("#create-grader").focus()
        await pilot.press("ctrl+g")
        await until(pilot, lambda: "not JSON" in str(result.render()), what="not JSON")
        assert "line 1" in str(result.render())


async def test_creating_an_rft_job_sends_method_reinforcement_with_the_grader(
    server, fttui_home, rft_file
) -> None:
    app = make_app(server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rft_form(app, pilot, rft_file, results)
        set_grader(screen, GRADER)
        screen.query_one("#create-effort").value = "low"
        for field, value in (
            ("create-compute", "2"),
            ("create-eval-interval", "3"),
            ("create-eval-samples", "2"),
            ("create-epochs", "2"),
            ("create-batch", "4"),
        ):
            screen.query_one(f"#{field}").value = value
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), what="the job created")
    job = server.client().fine_tuning.jobs.retrieve(results[0])
    assert job.method.type == "reinforcement"
    rft = job.method.reinforcement
    assert rft.grader.type == "string_check"
    assert (rft.grader.reference, rft.grader.operation) == ("{{item.capital}}", "ilike")
    hp = rft.hyperparameters
    assert (hp.reasoning_effort, hp.compute_multiplier) == ("low", 2)
    assert (hp.eval_interval, hp.eval_samples, hp.n_epochs, hp.batch_size) == (3, 2, 2, 4)


async def test_a_grader_naming_a_field_the_data_lacks_is_refused_and_nothing_is_uploaded(
    server, fttui_home, rft_file
) -> None:
    client = server.client()
    before = file_ids(client)
    app = make_app(server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rft_form(app, pilot, rft_file, results)
        # typed, never validated nor left: the create itself must find the missing field
        set_grader(screen, {**GRADER, "reference": "{{item.answer}}"})
        screen.query_one("#create-grader").focus()
        await pilot.press("ctrl+s")
        await shows(pilot, "The grader reads {{item.answer}}, which 12 examples lack")
        assert screen.is_current and not results
        assert screen.focused is screen.query_one("#create-grader")
        assert "not in the data: {{item.answer}}" in str(
            screen.query_one("#grader-result").render()
        )
        assert file_ids(client) == before  # refused before the upload
        # leaving the editor lints the data for this grader: the line says which examples
        await pilot.press("tab")
        lint_line = screen.query_one("#lint-training")
        await until(
            pilot,
            lambda: "rft_grader_field_missing ×12" in str(lint_line.render()),
            what="the data linted for the grader's fields",
        )
        await pilot.press("ctrl+s")  # refused at once, from that lint
        await shows(pilot, "The grader reads {{item.answer}}, which 12 examples lack")
        assert screen.focused is screen.query_one("#create-grader")
        assert file_ids(client) == before
        # fixed: the same form creates the job
        set_grader(screen, GRADER)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), what="the job created")
    assert client.fine_tuning.jobs.retrieve(results[0]).method.type == "reinforcement"
    assert len(file_ids(client) - before) == 1  # the one upload, for the job that was made


async def test_an_invalid_grader_is_refused_with_the_cursor_on_it_before_any_upload(
    server, fttui_home, rft_file
) -> None:
    client = server.client()
    before = file_ids(client)
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rft_form(app, pilot, rft_file, [])
        set_grader(screen, {**GRADER, "operation": "contains"})
        screen.query_one("#create-epochs").focus()
        await pilot.press("ctrl+s")
        await shows(pilot, "The grader is invalid: grader.operation")
        assert screen.focused is screen.query_one("#create-grader")
        assert not screen.running
        screen.query_one("#create-compute").value = "11"
        set_grader(screen, GRADER)
        await pilot.press("ctrl+s")
        await shows(pilot, "The compute multiplier must be at most 10")
        assert screen.focused is screen.query_one("#create-compute")
    assert file_ids(client) == before


async def test_a_prefill_sets_the_method_its_grader_and_its_hyperparameters(
    server, fttui_home, rft_file
) -> None:
    """What a "clone from job" gives the section: the form then sends the same method."""
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        screen = CreateJobScreen(training_file=str(rft_file))
        app.push_screen(screen)
        await until(pilot, lambda: screen.is_current and bool(screen.query("#create-method")))
        hp = {"reasoning_effort": "high", "compute_multiplier": 1.5, "eval_interval": 2}
        section(screen).set_method("reinforcement", grader=GRADER, hyperparameters=hp)
        await until(pilot, lambda: section(screen).method == "reinforcement", what="the method")
        assert section(screen).form_args() == {
            "method": "reinforcement",
            "grader": GRADER,  # kept as given: not replaced by the example grader
            "rft_hyperparameters": hp,
        }


async def test_a_dpo_job_from_the_form_sends_method_dpo_with_its_beta(
    server, fttui_home, tmp_path
) -> None:
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [preference(i) for i in range(12)])
    app = make_app(server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = CreateJobScreen(training_file=str(pairs))
        app.push_screen(screen, results.append)
        await until(pilot, lambda: screen.is_current and bool(screen.query("#create-method")))
        section(screen).set_method("dpo")
        # linted as preference data for DPO: no error refuses it
        await until(
            pilot,
            lambda: "dpo" in screen._reports.get("create-training", ("", "", None))[1],
            what="the lint for DPO",
        )
        assert "✓ no errors" in str(screen.query_one("#lint-training").render())
        screen.query_one("#create-beta").value = "0.2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), what="the job created")
    job = server.client().fine_tuning.jobs.retrieve(results[0])
    assert job.method.type == "dpo"
    assert job.method.dpo.hyperparameters.beta == 0.2


SNAPSHOT_TEXTUAL = "8.2.8"


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.skipif(
    __import__("textual").__version__ != SNAPSHOT_TEXTUAL,
    reason=f"snapshots were taken with Textual {SNAPSHOT_TEXTUAL}",
)
def test_snapshot_create_form_with_the_rft_section(snap_compare, fttui_home, utc):
    # behind the form: the fixed cached job list of the app's snapshots (a status bar that
    # says "cached list", not one that is still connecting in one frame and not the next)
    write_job_cache(sample_jobs(12), base_url=OFFLINE)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)

    async def run_before(pilot):
        await until(pilot, lambda: app.query_one(JobTable).row_count == 12, what="cached rows")
        screen = CreateJobScreen()
        app.push_screen(screen)
        await until(pilot, lambda: screen.is_current and bool(screen.query("#create-method")))
        section(screen).set_method("reinforcement")
        await until(pilot, lambda: editor(screen).text.strip() != "", what="the example grader")
        grader = screen.query_one("#create-grader")
        grader.cursor_blink = False  # a blinking cursor would be on in one frame, off in the next
        grader.focus()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_a_model_that_takes_no_rft_is_refused_with_the_cursor_on_it_before_any_upload(
    server, fttui_home, rft_file
) -> None:
    """The provider lists what each model takes (`fine_tuning_methods`): the form's create
    reads it before it uploads anything, and names the models that can."""
    client = server.client()
    before = file_ids(client)
    app = make_app(server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rft_form(app, pilot, rft_file, results)
        set_grader(screen, GRADER)
        screen.query_one("#create-model").value = "babbage-002"
        screen.query_one("#create-epochs").focus()
        await pilot.press("ctrl+s")
        await shows(pilot, "babbage-002 cannot be fine-tuned with reinforcement")
        assert "gpt-4o-mini-2024-07-18" in screen_text(app)
        assert screen.is_current and not results and not screen.running
        assert screen.focused is screen.query_one("#create-model")
        assert screen.query_one("#create-model").has_class("-invalid")
    assert file_ids(client) == before
