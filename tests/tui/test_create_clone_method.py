"""``e`` on a DPO or a reinforcement job (issues 13 and 15 together): the clone form's method
section shows the job's method with its beta, or its grader and RFT hyperparameters, and
creating after one change sends the same method — against a live ``fttui serve --executor
sim``, checked through the openai SDK."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Select

from fttui.tui.app import FtApp
from fttui.tui.screens.create_job import CreateJobScreen
from fttui.tui.widgets.grader_editor import TrainingMethodSection
from fttui.tui.widgets.job_table import JobTable
from support.datasets import preference, write_jsonl
from support.tui import listed, shows, until, upload, wait_job

SIZE = (120, 40)
MODEL = "gpt-4o-mini-2024-07-18"
DONE = {"succeeded", "failed", "cancelled"}
META = {"sim_seconds_per_step": "0.005"}
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.capital}}",
    "operation": "ilike",
}
pytestmark = pytest.mark.usefixtures("fast_polls")


def file_ids(client) -> set[str]:
    return {f.id for f in client.files.list(purpose="fine-tune")}


def value(screen: CreateJobScreen, field: str) -> str:
    return str(screen.query_one(f"#{field}", Input).value)


async def clone_with_e(app, pilot, job_id: str) -> CreateJobScreen:
    """Select ``job_id`` in the Jobs pane and press ``e``: the form, filled from it."""
    await listed(pilot, job_id)
    table = app.query_one(JobTable)
    table.select_job(job_id)
    table.focus()
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, CreateJobScreen), what="the clone form")
    screen = app.screen
    assert isinstance(screen, CreateJobScreen)
    await shows(pilot, f"Clone of {job_id}")
    return screen


async def create(app, pilot, screen: CreateJobScreen) -> str:
    await pilot.press("ctrl+s")
    await until(pilot, lambda: bool(screen.created), what="the job created", timeout=60)
    await until(pilot, lambda: app.screen is not screen, what="the form closed")
    return screen.created[0]


async def test_e_on_a_dpo_job_shows_dpo_and_its_beta_and_the_clone_sends_dpo(
    server, fttui_home, tmp_path: Path
) -> None:
    client = server.client()
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [preference(i) for i in range(12)])
    fid = upload(client, pairs)
    src = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=fid,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3, "n_epochs": 1}}},
        metadata=META,
    )
    wait_job(client, src.id, DONE)
    files = file_ids(client)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        screen = await clone_with_e(app, pilot, src.id)
        section = screen.query_one(TrainingMethodSection)
        await until(pilot, lambda: section.method == "dpo", what="the method dpo")
        assert screen.query_one("#create-method", Select).value == "dpo"
        assert section.has_class("-dpo") and screen.query_one("#create-dpo").display
        assert value(screen, "create-beta") == "0.3"
        assert value(screen, "create-training") == fid and value(screen, "create-epochs") == "1"
        await shows(pilot, "DPO beta", "file, by id: not uploaded again")
        screen.query_one("#create-epochs", Input).value = "2"  # the one change
        new_id = await create(app, pilot, screen)
    new = client.fine_tuning.jobs.retrieve(new_id)
    assert new.method.type == "dpo"
    assert new.method.dpo.hyperparameters.beta == 0.3
    assert new.method.dpo.hyperparameters.n_epochs == 2
    assert new.training_file == fid and file_ids(client) == files  # nothing uploaded again


async def test_e_on_an_rft_job_shows_its_grader_and_hyperparameters_and_the_clone_sends_them(
    server, fttui_home, tmp_path: Path
) -> None:
    client = server.client()
    rows = [
        {"messages": [{"role": "user", "content": f"Capital of country {i}?"}], "capital": f"C{i}"}
        for i in range(12)
    ]
    fid = upload(client, write_jsonl(tmp_path / "rft.jsonl", rows))
    hp = {
        "reasoning_effort": "high",
        "compute_multiplier": 1.5,
        "eval_interval": 2,
        "eval_samples": 3,
        "n_epochs": 1,
    }
    src = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=fid,
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": GRADER, "hyperparameters": hp},
        },
        metadata=META,
    )
    wait_job(client, src.id, DONE)
    files = file_ids(client)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        screen = await clone_with_e(app, pilot, src.id)
        section = screen.query_one(TrainingMethodSection)
        await until(pilot, lambda: section.method == "reinforcement", what="the method RFT")
        assert section.has_class("-reinforcement")
        assert section.editor.grader() == GRADER  # the job's grader, not the example one
        assert screen.query_one("#create-effort", Select).value == "high"
        assert value(screen, "create-compute") == "1.5"
        assert value(screen, "create-eval-interval") == "2"
        assert value(screen, "create-eval-samples") == "3"
        assert value(screen, "create-epochs") == "1"
        screen.query_one("#create-eval-samples", Input).value = "4"  # the one change
        new_id = await create(app, pilot, screen)
    new = client.fine_tuning.jobs.retrieve(new_id)
    assert new.method.type == "reinforcement"
    rft = new.method.reinforcement
    assert rft.grader.model_dump(mode="json", exclude_none=True) == GRADER
    got = rft.hyperparameters
    assert (got.reasoning_effort, got.compute_multiplier) == ("high", 1.5)
    assert (got.eval_interval, got.eval_samples, got.n_epochs) == (2, 4, 1)
    assert new.training_file == fid and file_ids(client) == files  # nothing uploaded again
