"""The seeds' worked example in the Playground: prepare superhero.csv, train on a live sim
server, choose the model → the separator and stop the data uses are filled in (from the
job's metadata when fttui created the job, else from its training file's head), and the
final model, not a checkpoint, is chosen."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from fttui.api.jobs import SEPARATOR_KEY, STOP_KEY, create_job
from fttui.datasets.prepare import prepare_file
from fttui.tui.app import FtApp
from fttui.tui.panes.playground import AnswerView, PlaygroundPane, parse_separator, parse_stop
from fttui.tui.widgets.job_table import JobTable
from support.live_server import FIXTURES
from support.tui import listed, shows, until, wait_job

SIZE = (120, 40)
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("superhero") / "superhero.jsonl"
    result = prepare_file(FIXTURES / "superhero.csv", out)
    assert (result.separator, result.stop) == (" ->", " END")
    return out


async def choose_job(pilot, job) -> PlaygroundPane:
    await listed(pilot, job.id)
    pilot.app.query_one(JobTable).select_job(job.id)
    await pilot.press("4")
    pane = pilot.app.query_one(PlaygroundPane)
    await until(pilot, lambda: pane.target_model == job.fine_tuned_model, what="the model")
    return pane


async def test_choosing_a_model_fttui_trained_fills_in_its_separator_and_stop(
    server, prepared, fttui_home
):
    client = server.client()
    # the code path of both the New-job form and `fttui jobs create`
    created = create_job(
        client,
        model="davinci-002",
        training_file=str(prepared),
        suffix="superhero",
        metadata={"sim_seconds_per_step": "0.005"},
    )
    assert created.metadata[STOP_KEY] == " END"
    assert created.metadata[SEPARATOR_KEY] == " ->"
    job = wait_job(client, created.id, {"succeeded"}, timeout=60)
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data  # checkpoints to choose from

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await choose_job(pilot, job)
        stop = app.query_one("#pg-stop", Input)
        sep = app.query_one("#pg-separator", Input)
        await until(pilot, lambda: stop.value == " END", what="the stop filled in")
        assert sep.value == " ->"
        assert parse_stop(stop.value) == [" END"]
        assert parse_separator(sep.value) == " ->"
        # the final model is chosen, not one of its checkpoints
        assert pane.target_model == job.fine_tuned_model
        assert "ckpt" not in (pane.target_model or "")
        await shows(pilot, "from the job's metadata")

        # the prompt is sent ending with the separator; the answer ends at the stop
        app.query_one("#pg-max-tokens", Input).value = "200"
        pane.send("Superhero: Volt\nPowers: electricity, lightning speed")
        view = app.query_one("#answer-a", AnswerView)
        await until(pilot, lambda: not pane._streaming, timeout=60, what="the answer")
        assert view.prompt.endswith(" ->")
        assert view.text and "END" not in view.text, view.text

        # the base model: the boxes filled in for the fine-tuned model empty again
        base = next(v for label, v in pane.targets() if label.startswith("base"))
        pane.query_one("#pg-target").value = base
        await until(pilot, lambda: stop.value == "" and sep.value == "", what="boxes emptied")


async def test_a_job_created_elsewhere_gets_them_from_its_training_file(
    server, prepared, fttui_home
):
    client = server.client()
    file_id = client.files.create(file=prepared.open("rb"), purpose="fine-tune").id
    created = client.fine_tuning.jobs.create(
        model="davinci-002",
        training_file=file_id,
        metadata={"sim_seconds_per_step": "0.005"},
    )
    assert STOP_KEY not in (created.metadata or {})
    job = wait_job(client, created.id, {"succeeded"}, timeout=60)

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await choose_job(pilot, job)
        stop = app.query_one("#pg-stop", Input)
        await until(pilot, lambda: stop.value == " END", what="the stop from the file")
        assert app.query_one("#pg-separator", Input).value == " ->"
        await shows(pilot, f"from its training file {file_id}")
        # the user's own stop is kept when the job is chosen again
        stop.value = " ###"
        app.query_one("#pg-target").value = job.fine_tuned_model
        await pilot.pause()
        assert stop.value == " ###"
