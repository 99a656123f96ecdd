"""The create form's iterate flows (issue 15) against a live ``fttui serve --executor sim``,
checked through the openai SDK: ``e`` clones a job (files by id, nothing uploaded again),
the model field offers checkpoints to continue from, a hyperparameter list is a sweep whose
count and cost show before its jobs are created, and the metadata field reaches the job."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import OptionList

from fttui.api.jobs import job_summary
from fttui.tui.app import FtApp
from fttui.tui.panes.jobs import JobsPane
from fttui.tui.screens.confirm import ConfirmScreen
from fttui.tui.screens.create_iterate import ContinueFromScreen
from fttui.tui.screens.create_job import CreateJobScreen
from fttui.tui.screens.help import HelpScreen
from fttui.tui.widgets.event_log import EventLog
from fttui.tui.widgets.job_table import JobTable
from support.tui import (
    FIXTURES,
    create_sim_job,
    listed,
    screen_text,
    shows,
    until,
    upload,
    wait_job,
)

SIZE = (120, 40)
CHAT = FIXTURES / "chat_valid.jsonl"
MODEL = "gpt-4o-mini-2024-07-18"
FAST = "sim_seconds_per_step=0.005"
DONE = {"succeeded", "failed", "cancelled"}
pytestmark = pytest.mark.usefixtures("fast_polls")


def file_ids(client) -> set[str]:
    return {f.id for f in client.files.list(purpose="fine-tune")}


def job_ids(client) -> set[str]:
    return {j.id for j in client.fine_tuning.jobs.list(limit=100)}


def field(screen, name: str):
    return screen.query_one(f"#create-{name}")


async def open_form(app, pilot, results: list, **kwargs) -> CreateJobScreen:
    screen = CreateJobScreen(**kwargs)
    app.push_screen(screen, results.append)
    await until(pilot, lambda: screen.is_current and bool(screen.query("#create-training")))
    return screen


def set_prices(home: Path) -> None:
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "config.toml").write_text('[prices]\n"gpt-4o-mini" = 3.0\n')


async def test_e_clones_a_job_and_one_change_makes_a_job_with_the_same_files_and_no_upload(
    server, fttui_home
):
    client = server.client()
    fid = upload(client)
    src_id = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=fid,
        validation_file=fid,
        suffix="orig",
        seed=11,
        hyperparameters={"n_epochs": 1, "learning_rate_multiplier": 0.5},
        metadata={"sim_seconds_per_step": "0.005", "team": "nlp"},
    ).id
    src = wait_job(client, src_id, DONE)
    files, jobs = file_ids(client), job_ids(client)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, src.id)
        pane = app.query_one(JobsPane)
        app.query_one(JobTable).select_job(src.id)
        app.query_one(JobTable).focus()
        await pilot.press("v")  # the event log moved from e to v
        await until(pilot, lambda: isinstance(app.focused, EventLog), what="the event log")
        app.query_one(JobTable).focus()
        await pilot.press("question_mark")  # the help screen says which key does which
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        keys = {r.binding_id: r.keys for r in app.screen.rows}
        assert (keys["jobs.clone"], keys["jobs.events"]) == ("e", "v")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, CreateJobScreen), what="the form")
        screen = app.screen
        await shows(pilot, f"Clone of {src.id}", "file, by id: not uploaded again")
        assert field(screen, "training").value == fid
        assert field(screen, "validation").value == fid
        assert field(screen, "model").value == MODEL
        assert field(screen, "epochs").value == "1" and field(screen, "lr").value == "0.5"
        assert field(screen, "suffix").value == "orig" and field(screen, "seed").value == "11"
        assert field(screen, "metadata").value == "sim_seconds_per_step=0.005, team=nlp"
        # a list here would be a sweep, costed from the job's own trained_tokens (1 epoch)
        field(screen, "epochs").value = "1,2"
        await shows(pilot, f"Sweep (Epochs 1,2): 2 jobs · {src.trained_tokens * 3:,} billed tokens")
        field(screen, "epochs").value = "2"
        await until(pilot, lambda: not screen.plan_text, what="one job again: no plan line")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, CreateJobScreen), what="created")
        assert len(screen.created) == 1
        await until(pilot, lambda: screen.created[0] in app.query_one(JobTable).jobs)
        assert pane is app.query_one(JobsPane)
    new = client.fine_tuning.jobs.retrieve(screen.created[0])
    assert job_ids(client) - jobs == {new.id}
    assert (new.training_file, new.validation_file) == (fid, fid)
    assert file_ids(client) == files  # nothing uploaded again
    assert new.hyperparameters.n_epochs == 2
    assert new.hyperparameters.learning_rate_multiplier == 0.5
    assert (new.model, job_summary(new)["suffix"], new.seed) == (MODEL, "orig", 11)
    assert new.metadata == {"sim_seconds_per_step": "0.005", "team": "nlp"}


async def test_the_model_field_offers_a_checkpoint_and_the_job_continues_from_it(
    server, fttui_home
):
    client = server.client()
    fid = upload(client)
    first = wait_job(client, create_sim_job(client, file_id=fid, seconds_per_step=0.005), DONE)
    ckpts = [
        c.fine_tuned_model_checkpoint for c in client.fine_tuning.jobs.checkpoints.list(first.id)
    ]
    assert ckpts and all(":ckpt-step-" in c for c in ckpts)
    app = FtApp(base_url=server.base_url, api_key=server.api_key, live=False)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, results, training_file=fid)
        await until(pilot, lambda: set(ckpts) <= set(screen._models), what="checkpoints offered")
        assert first.fine_tuned_model in screen._models
        text = await shows(pilot, "ctrl+l: continue from one of")
        offered_ckpts = int(re.search(r"and (\d+) checkpoints", text).group(1))
        assert offered_ckpts == sum(":ckpt-step-" in m for m in screen._continue) >= len(ckpts)
        model = field(screen, "model")
        model.focus()
        await pilot.press("ctrl+l")  # the list to pick from
        await until(pilot, lambda: isinstance(app.screen, ContinueFromScreen), what="the list")
        options = app.screen.query_one(OptionList)
        offered = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert offered[0] == first.fine_tuned_model and set(ckpts) <= set(offered)
        options.highlighted = offered.index(ckpts[-1])
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen, what="picked")
        assert model.value == ckpts[-1] and app.focused is model
        model.focus()
        model.value = ""
        want = sorted(ckpts)[0]
        typed = want[: want.index(":ckpt-step-") + len(":ckpt")]
        await pilot.press(*typed)
        await shows(pilot, want)  # the rest of the checkpoint greyed after what was typed
        field(screen, "metadata").value = FAST
        model.focus()
        await pilot.press("ctrl+s")  # takes the completion shown
        await until(pilot, lambda: bool(results), what="created", timeout=60)
    job = client.fine_tuning.jobs.retrieve(results[0])
    assert job.model == want
    done = wait_job(client, job.id, DONE)
    assert done.status == "succeeded" and done.fine_tuned_model != first.fine_tuned_model


async def test_a_2x2_sweep_shows_its_count_and_cost_then_creates_4_jobs_sharing_a_sweep_id(
    server, fttui_home
):
    from fttui.api.compare import epoch_tokens

    set_prices(fttui_home)
    client = server.client()
    files, jobs = file_ids(client), job_ids(client)
    per, _ = epoch_tokens(client, MODEL, str(CHAT))
    tokens = per * (2 + 3) * 2
    app = FtApp(base_url=server.base_url, api_key=server.api_key, live=False)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, results, training_file=str(CHAT))
        field(screen, "epochs").value = "2,3"
        await shows(pilot, "Sweep (Epochs 2,3)", "2 jobs")
        field(screen, "lr").value = "0.5, 1"
        field(screen, "metadata").value = f"{FAST}, team=nlp"
        plan = f"Sweep (Epochs 2,3 × LR mult. 0.5,1): 4 jobs · {tokens:,} billed tokens · $"
        await shows(pilot, plan)
        assert f"${tokens / 1e6 * 3.0:,.2f}" in screen.plan_text
        assert (file_ids(client), job_ids(client)) == (files, jobs)  # nothing sent yet

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await shows(pilot, "Create 4 jobs?", f"4 jobs · {tokens:,} billed tokens")
        await pilot.press("n")  # kept: nothing created
        await until(pilot, lambda: app.screen is screen)
        assert job_ids(client) == jobs
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="asked again")
        await pilot.press("y")
        await until(pilot, lambda: bool(results), what="4 jobs created", timeout=90)
        await until(pilot, lambda: "created 4 jobs" in "".join(
            str(n.message) for n in app._notifications), what="the ids reported")  # fmt: skip
    assert len(screen.created) == 4 and results == [screen.created[0]]
    made = [client.fine_tuning.jobs.retrieve(j) for j in screen.created]
    assert job_ids(client) - jobs == set(screen.created)
    sweeps = {j.metadata["sweep"] for j in made}
    assert len(sweeps) == 1 and sweeps.pop().startswith("sweep-")
    assert all(j.metadata["team"] == "nlp" for j in made)
    grid = {(j.hyperparameters.n_epochs, j.hyperparameters.learning_rate_multiplier) for j in made}
    assert grid == {(2, 0.5), (2, 1.0), (3, 0.5), (3, 1.0)}
    assert len(file_ids(client) - files) == 1  # the file went up once, for all four
    assert {j.training_file for j in made} == file_ids(client) - files


async def test_the_metadata_field_is_checked_as_typed_and_reaches_the_job(server, fttui_home):
    client = server.client()
    fid = upload(client)
    jobs = job_ids(client)
    app = FtApp(base_url=server.base_url, api_key=server.api_key, live=False)
    results: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot, results, training_file=fid)
        meta = field(screen, "metadata")
        meta.value = "team=nlp, oops"
        await shows(pilot, "✗ 'oops' is not key=value")
        meta.value = ", ".join(f"k{i}=v" for i in range(17))
        await shows(pilot, "✗ at most 16 key=value pairs (17 given)")
        meta.value = f"{'k' * 65}=v"
        await shows(pilot, "characters (at most 64)")
        field(screen, "epochs").focus()
        await pilot.press("ctrl+s")  # refused here, the cursor in the field to fix
        await until(pilot, lambda: app.focused is meta, what="the cursor on the metadata")
        assert meta.has_class("-invalid") and not results and job_ids(client) == jobs
        meta.value = f"{FAST}, note=a\\, b, run=3"
        note = screen.query_one("#metadata-note")
        await until(pilot, lambda: not note.display, what="the note gone once it is right")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), what="created", timeout=60)
    job = client.fine_tuning.jobs.retrieve(results[0])
    assert job.metadata == {"sim_seconds_per_step": "0.005", "note": "a, b", "run": "3"}


# -- snapshot (offline, a fixed file and prices: a deterministic frame) ---------------------
SNAPSHOT_TEXTUAL = "8.2.8"  # as tests/tui/test_app.py: frames change between releases
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    __import__("textual").__version__ != SNAPSHOT_TEXTUAL,
    reason=f"snapshots were taken with Textual {SNAPSHOT_TEXTUAL}",
)
def test_snapshot_the_sweep_form_shows_the_grids_cost(snap_compare, fttui_home, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.chdir(ROOT)  # the path as typed shows in the field: the same on every machine
    set_prices(fttui_home)
    app = FtApp(base_url="http://127.0.0.1:9/v1", api_key="sk-test-key", live=False)

    async def run_before(pilot):
        screen = CreateJobScreen(training_file="tests/fixtures/chat_valid.jsonl")
        app.push_screen(screen)
        await until(pilot, lambda: "examples (" in screen_text(app), what="linted")
        field(screen, "epochs").value = "2,3"
        field(screen, "lr").value = "0.5,1"
        field(screen, "metadata").value = "team=nlp, run=7"
        await until(pilot, lambda: "billed tokens · $" in screen.plan_text, what="the cost")
        screen.query_one("#create-ok").focus()  # not an Input: no blinking cursor in the frame
        # the status bar behind says "connecting…" from its first 5 s tick on: wait for it
        refresh = app.query_one("#status-refresh")
        await until(pilot, lambda: "connecting" in str(refresh.render()), what="settled")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
