"""The create form knows what the Data pane knows, never sends a half-typed model, and a
refused create puts the cursor on the field in error without uploading the file again (and
backing out deletes that upload) — against a live ``fttui serve --executor sim``, checked
through the openai SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fttui.tui.app import FtApp
from fttui.tui.screens.create_job import CreateJobScreen
from fttui.tui.screens.lint_options import LintOptionsScreen
from support.tui import FIXTURES, screen_text, shows, until

SIZE = (120, 40)


@pytest.fixture
def completions_file(tmp_path: Path) -> Path:
    """Legacy prompt/completion data, ready for davinci-002 (separator and stop applied)."""
    path = tmp_path / "capitals.jsonl"
    rows = [
        {"prompt": f"Capital of country {i} ->", "completion": f" City {i} END"} for i in range(12)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_app(server, **kwargs) -> FtApp:
    return FtApp(base_url=server.base_url, api_key=server.api_key, live=False, **kwargs)


async def open_form(app, pilot, training: Path, results: list) -> CreateJobScreen:
    screen = CreateJobScreen(training_file=str(training))
    app.push_screen(screen, results.append)
    await until(pilot, lambda: screen.is_current and bool(screen.query("#create-training")))
    await until(
        pilot,
        lambda: screen.query_one("#create-model").suggester is not None,
        what="the provider's models listed",
    )
    await until(pilot, lambda: "examples (" in screen_text(app), what="the training file linted")
    return screen


def model_field(screen: CreateJobScreen):
    return screen.query_one("#create-model")


def file_ids(client) -> set[str]:
    """The uploaded training files (jobs that finish meanwhile add their result files)."""
    return {f.id for f in client.files.list(purpose="fine-tune")}


async def test_the_form_starts_from_the_model_m_chose_in_the_data_pane(
    shared_sim_server, fttui_home: Path, completions_file: Path
) -> None:
    app = make_app(shared_sim_server, data_file=str(completions_file), initial_pane="data")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one("#data")
        await until(pilot, lambda: pane.report is not None)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, LintOptionsScreen))
        app.screen.query_one("#lint-model").value = "babbage-002"
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: pane.report is not None and pane.report.estimate["model"] == "babbage-002",
        )
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CreateJobScreen))
        screen = app.screen
        assert model_field(screen).value == "babbage-002"
        await until(pilot, lambda: "examples (" in screen_text(app), what="linted")
        assert "model_format_mismatch" not in screen_text(app)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, CreateJobScreen), what="created")
    job = shared_sim_server.client().fine_tuning.jobs.list(limit=1).data[0]
    assert job.model == "babbage-002"


async def test_prompt_completion_data_gets_a_completions_model_not_a_chat_model(
    shared_sim_server, fttui_home: Path, completions_file: Path
) -> None:
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, completions_file, results)
        await until(pilot, lambda: model_field(screen).value == "davinci-002", what="davinci")
        await shows(pilot, "prompt/completion data")
        # linted again for the model it now names: no format mismatch is left to refuse it
        await until(
            pilot,
            lambda: screen._reports.get("create-training", ("", "", None))[1] == "davinci-002",
            what="the lint for davinci-002",
        )
        assert "model_format_mismatch" not in screen_text(app)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), what="the job created")
    assert shared_sim_server.client().fine_tuning.jobs.retrieve(results[0]).model == "davinci-002"


async def test_ctrl_s_sends_the_completion_the_model_field_shows(
    shared_sim_server, fttui_home: Path, completions_file: Path
) -> None:
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, completions_file, results)
        field = model_field(screen)
        field.focus()
        field.value = ""
        await pilot.press("d", "a", "v")
        await shows(pilot, "davinci-002")  # "dav" typed, "inci-002" greyed after it
        assert field.value == "dav"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results) or "✗" in screen_text(app), what="an answer")
        assert results, screen_text(app)
    assert shared_sim_server.client().fine_tuning.jobs.retrieve(results[0]).model == "davinci-002"


async def test_a_half_typed_model_is_refused_here_and_nothing_is_sent(
    shared_sim_server, fttui_home: Path, completions_file: Path
) -> None:
    client = shared_sim_server.client()
    before = file_ids(client)
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, completions_file, results)
        field = model_field(screen)
        field.focus()
        field.value = ""
        await pilot.press("d", "a", "v", "tab")  # the completion is not shown any more
        await pilot.press("ctrl+s")
        text = await shows(pilot, "dav is not one of the provider's models", "davinci-002")
        assert "400" not in text
        await until(pilot, lambda: app.focused is field, what="the cursor on the model")
        assert field.has_class("-invalid") and not screen.running
        assert not results
    assert file_ids(client) == before  # nothing uploaded, no request made


async def test_a_refused_create_puts_the_cursor_on_the_field_and_a_retry_reuses_the_upload(
    shared_sim_server, fttui_home: Path
) -> None:
    client = shared_sim_server.client()
    before = file_ids(client)
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, FIXTURES / "chat_valid.jsonl", results)
        field = model_field(screen)
        field.value = "qwerty-model-zz"  # close to no listed model: the provider refuses it
        screen.query_one("#create-epochs").focus()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "✗" in screen_text(app), what="the refusal", timeout=60)
        assert "qwerty-model-zz" in screen_text(app) and not screen.running
        await until(pilot, lambda: app.focused is field, what="the cursor on the model")
        assert field.has_class("-invalid")
        uploaded = file_ids(client) - before
        assert len(uploaded) == 1  # the training file went up once

        field.value = "gpt-4o-mini-2024-07-18"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), what="the job created", timeout=60)
    job = client.fine_tuning.jobs.retrieve(results[0])
    assert {job.training_file} == uploaded  # the retry reused it
    assert file_ids(client) - before == uploaded  # no orphan upload


async def test_backing_out_after_a_refused_create_deletes_the_upload_no_job_uses(
    shared_sim_server, fttui_home: Path
) -> None:
    client = shared_sim_server.client()
    before = file_ids(client)
    app = make_app(shared_sim_server)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, FIXTURES / "chat_valid.jsonl", results)
        model_field(screen).value = "qwerty-model-zz"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "✗" in screen_text(app), what="the refusal", timeout=60)
        assert len(file_ids(client) - before) == 1
        await pilot.press("escape")
        await until(pilot, lambda: results == [None], what="backed out")
        await until(pilot, lambda: file_ids(client) == before, what="the orphan deleted")
