"""The seeds' worked example through the app alone, against a live ``fttui serve --executor
sim`` (issue 15): open superhero.csv in the Data pane, prepare it (P), open the prepared
file (o), create a job on it in the New-job form (n, ctrl+s) and let the sim train it; the
Playground then has its fine-tuned model chosen, the separator " ->" and the stop " END"
filled in without typing, and an answer to a prompt ends at the stop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Input

from fttui.tui.app import FtApp
from fttui.tui.panes.data import DataPane
from fttui.tui.panes.playground import AnswerView, PlaygroundPane
from fttui.tui.screens.create_job import CreateJobScreen
from fttui.tui.screens.prepare_result import PrepareResultScreen
from fttui.tui.widgets.job_table import JobTable
from support.tui import FIXTURES, shows, until, wait_job

SIZE = (120, 40)
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


async def test_the_superhero_example_through_the_app_fills_in_the_stop_END_in_the_playground(
    server, fttui_home: Path, tmp_path: Path
) -> None:
    src = tmp_path / "superhero.csv"
    shutil.copy(FIXTURES / "superhero.csv", src)  # prepare writes beside it
    client = server.client()
    app = FtApp(base_url=server.base_url, api_key=server.api_key, data_file=str(src))
    async with app.run_test(size=SIZE) as pilot:
        data = app.query_one(DataPane)
        await until(pilot, lambda: data.report is not None, what="the CSV linted")

        # P: prepare; the result screen names the separator and the stop it appended
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, PrepareResultScreen), what="prepared")
        result = app.screen.result
        assert (result.separator, result.stop) == (" ->", " END")
        await shows(pilot, "prompt separator  ' ->'", "stop sequence     ' END'")
        prepared = Path(result.outputs[0])
        await pilot.press("o")  # open the prepared file in the Data pane
        await until(
            pilot,
            lambda: data.path == str(prepared) and data.report is not None,
            what="the prepared file linted",
        )

        # n: the New-job form on the prepared file; nothing typed in it
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CreateJobScreen), what="the form")
        form = app.screen
        assert isinstance(form, CreateJobScreen)
        await until(pilot, lambda: bool(form.query("#create-training")), what="its fields")
        assert form.query_one("#create-training", Input).value == str(prepared)
        # prompt/completion data: the form takes a completions model by itself
        model = form.query_one("#create-model", Input)
        await until(pilot, lambda: model.value == "davinci-002", what="a completions model")
        await until(pilot, lambda: "create-training" in form._reports, what="the form's lint")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not form.is_attached, timeout=60, what="the job created")

        # the new job is listed and selected in the Jobs pane; the sim trains it
        table = app.query_one(JobTable)
        await until(pilot, lambda: app.current_pane == "jobs", what="the Jobs pane")
        await until(pilot, lambda: table.selected_id is not None, what="the new job selected")
        job_id = table.selected_id
        assert job_id is not None
        job = wait_job(client, job_id, {"succeeded"}, timeout=90)
        assert job.model == "davinci-002" and job.training_file.startswith("file-")
        assert job.fine_tuned_model and client.fine_tuning.jobs.checkpoints.list(job_id).data
        await until(
            pilot, lambda: table.jobs[job_id]["status"] == "succeeded", what="listed succeeded"
        )

        # 4: the Playground, the final model (not a checkpoint) chosen, the markers filled in
        await pilot.press("4")
        pane = app.query_one(PlaygroundPane)
        await until(
            pilot, lambda: pane.target_model == job.fine_tuned_model, what="the model chosen"
        )
        stop = app.query_one("#pg-stop", Input)
        sep = app.query_one("#pg-separator", Input)
        await until(pilot, lambda: stop.value == " END", what="the stop filled in")
        assert sep.value == " ->"
        assert "ckpt" not in (pane.target_model or "")
        await shows(pilot, "from the job's metadata")

        # a prompt as typed, without the separator: sent ending with it, the answer stops
        # at " END" (which it does not show)
        app.query_one("#pg-max-tokens", Input).value = "200"
        pane.send("Superhero: Volt\nPowers: electricity, lightning speed")
        view = app.query_one("#answer-a", AnswerView)
        await until(pilot, lambda: not pane._streaming, timeout=60, what="the answer")
        assert view.prompt.endswith(" ->")
        # the sim answers with the closest training completion: Volt's, cut at the stop
        assert "Volt channels lightning" in view.text, view.text
        assert view.text.rstrip().endswith("makes the news.") and "END" not in view.text

        # without the stop the same answer runs on into " END": the filled-in stop cut it
        stop.value = ""
        pane.send("Superhero: Volt\nPowers: electricity, lightning speed")
        await until(pilot, lambda: not pane._streaming, timeout=60, what="the second answer")
        assert view.text.rstrip().endswith("makes the news. END"), view.text
