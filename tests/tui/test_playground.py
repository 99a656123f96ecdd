"""The Playground against a live sim server: a streamed answer that honours a stop
sequence, history with up/down, the base model side by side."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox

from fttui.tui.app import FtApp
from fttui.tui.panes.playground import AnswerView, PlaygroundPane, PromptInput, parse_stop
from fttui.tui.widgets.job_table import JobTable
from support.tui import create_sim_job, listed, screen_text, until, wait_job

SIZE = (120, 40)
BASE = "gpt-4o-mini-2024-07-18"
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


@pytest.fixture(scope="module")
def finished_job(server):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01, model=BASE)
    return wait_job(client, job_id, {"succeeded"}, timeout=60)


async def open_playground(pilot, job) -> PlaygroundPane:
    app = pilot.app
    await listed(pilot, job.id)
    app.query_one(JobTable).select_job(job.id)
    await pilot.press("4")
    pane = app.query_one(PlaygroundPane)
    await until(pilot, lambda: pane.target_model == job.fine_tuned_model, what="fine-tuned target")
    return pane


KEY_NAMES = {
    " ": "space",
    ",": "comma",
    "?": "question_mark",
    ":": "colon",
    "-": "minus",
    ">": "greater_than_sign",
    "\\": "backslash",
}


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press(KEY_NAMES.get(ch, ch))


async def test_prompt_with_a_stop_sequence(server, finished_job, fttui_home):
    client = server.client()
    prompt = "What is the capital of France?"
    full = (
        client.chat.completions.create(
            model=finished_job.fine_tuned_model, messages=[{"role": "user", "content": prompt}]
        )
        .choices[0]
        .message.content
    )
    words = full.split(" ")
    assert len(words) >= 2, full
    stop = " " + words[-1]  # exact, with its leading space
    expected = (
        client.chat.completions.create(
            model=finished_job.fine_tuned_model,
            messages=[{"role": "user", "content": prompt}],
            stop=[stop],
        )
        .choices[0]
        .message.content
    )
    assert expected != full and stop not in expected

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_playground(pilot, finished_job)
        app.query_one("#pg-stop").value = stop
        app.query_one("#pg-max-tokens").value = "200"
        box = app.query_one(PromptInput)
        box.focus()
        await type_text(pilot, prompt)
        await pilot.press("enter")
        view = app.query_one("#answer-a", AnswerView)
        await until(
            pilot,
            lambda: view.prompt == prompt and not pane._streaming and view.text,
            what="the whole answer",
        )
        assert view.text == expected
        meta = str(view.query_one(".answer-meta").render())
        assert "finish: stop" in meta
        assert finished_job.fine_tuned_model in meta


async def test_history_and_side_by_side(server, finished_job, fttui_home):
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_playground(pilot, finished_job)
        await pilot.press("ctrl+b")  # the base model beside it
        assert pane.compare
        box = app.query_one(PromptInput)
        box.focus()
        a = app.query_one("#answer-a", AnswerView)
        b = app.query_one("#answer-b", AnswerView)
        for prompt in ("q1", "q2"):
            await type_text(pilot, prompt)
            await pilot.press("enter")
            # the submit is a message: wait for this prompt's answers to be done, not for
            # "not streaming" (true before the first one starts as well)
            await until(
                pilot,
                lambda p=prompt: a.prompt == b.prompt == p and not pane._streaming,
                what=f"both answers to {prompt}",
            )
        assert b.display and b.text and a.text
        assert b.model == BASE and a.model == finished_job.fine_tuned_model
        await pilot.press("up")
        assert box.value == "q2"
        await pilot.press("up")
        assert box.value == "q1"
        await pilot.press("down")
        assert box.value == "q2"
        await pilot.press("down")
        assert box.value == ""
        # esc leaves the input so the pane keys work again
        await pilot.press("escape", "2")
        assert app.current_pane == "jobs"


async def test_checkpoint_and_base_targets(server, finished_job, fttui_home):
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_playground(pilot, finished_job)
        await until(
            pilot,
            lambda: any(label.startswith("step ") for label, _ in pane.targets()),
            what="checkpoints offered",
        )
        labels = [label for label, _ in pane.targets()]
        assert labels[0].startswith("fine-tuned")
        assert labels[-1] == f"base · {BASE}"


async def test_no_answer_stays_streaming_after_a_stop_or_a_narrower_prompt(
    server, finished_job, fttui_home
):
    """Two orders the workers cannot answer for themselves. (1) esc in the same tick as
    enter: the worker is cancelled before its thread runs and posts nothing. (2) a prompt
    to both models, then one to a single model: the other side's old answer is superseded
    (its ending is ignored as stale). Neither may leave a side "streaming" (esc would then
    stop nothing and never leave the input)."""
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_playground(pilot, finished_job)
        a = app.query_one("#answer-a", AnswerView)
        b = app.query_one("#answer-b", AnswerView)
        meta = lambda view: str(view.query_one(".answer-meta").render())  # noqa: E731
        pane.send("stopped at once")
        pane.action_stop()  # no await in between: the worker's task has not started
        await until(pilot, lambda: not pane._streaming, timeout=10, what="nothing streaming")
        assert "streaming" not in meta(a) and "stopped" in meta(a)

        compare = pane.query_one("#pg-compare", Checkbox)
        compare.value = True
        pane.send("to both")
        assert pane._streaming == {"a", "b"}
        compare.value = False  # side by side off again, in the same tick: the first
        pane.send("to one")  # answers cannot have ended yet
        await until(
            pilot,
            lambda: a.prompt == "to one" and "streaming" not in meta(a),
            what="the answer to one",
        )
        await until(pilot, lambda: not pane._streaming, timeout=10, what="nothing streaming")
        assert "streaming" not in meta(b)
        pane.query_one(PromptInput).focus()
        await pilot.press("escape", "2")  # esc leaves the input: the pane keys work
        assert app.current_pane == "jobs"


async def test_shown_before_the_backend_is_ready_offers_checkpoints_once_it_is(
    server, finished_job, fttui_home
):
    """A job picked and the pane shown before the provider is connected: the checkpoint
    targets could not be fetched then, and nothing fetched them once connected."""
    from fttui.tui.messages import BackendReady

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, finished_job.id)
        app.ready = False  # the racy order: as before BackendReady is handled
        app.query_one(JobTable).select_job(finished_job.id)
        await pilot.press("4")
        pane = app.query_one(PlaygroundPane)
        await until(
            pilot,
            lambda: pane.target_model == finished_job.fine_tuned_model,
            what="fine-tuned target",
        )
        # The Jobs pane hands over the checkpoints it fetched itself: wait for its detail
        # poll to settle (it stops while Jobs is off screen), then start from none.
        await until(
            pilot,
            lambda: all(w.is_finished for w in app.workers if w.group == "jobs-detail"),
            what="the Jobs pane's detail poll settled",
        )
        pane.checkpoints = []
        pane._refresh_targets()
        assert not any(label.startswith("step ") for label, _ in pane.targets())
        app.post_message(BackendReady("sim", server.base_url))
        await until(
            pilot,
            lambda: any(label.startswith("step ") for label, _ in pane.targets()),
            timeout=10,
            what="checkpoints offered once connected",
        )


def test_parse_stop():
    assert parse_stop("") is None
    assert parse_stop(" END") == [" END"]
    assert parse_stop("a,b") == ["a", "b"]
    assert parse_stop(r"x\,y,\n") == ["x,y", "\n"]
    assert parse_stop('["###", " END"]') == ["###", " END"]
    assert parse_stop("1,2,3,4,5") == ["1", "2", "3", "4"]


def server_targets(client, job_id: str) -> tuple[str, list[str]]:
    """The fine-tuned model of a finished job and the targets the Playground should offer:
    it, the checkpoints the server keeps now (newest first), the base model."""
    job = client.fine_tuning.jobs.retrieve(job_id)
    cps = sorted(
        client.fine_tuning.jobs.checkpoints.list(job_id).data,
        key=lambda cp: cp.step_number,
        reverse=True,
    )
    labels = [f"fine-tuned · {job.fine_tuned_model}"]
    labels += [
        f"step {cp.step_number} · {cp.fine_tuned_model_checkpoint}"
        for cp in cps
        if cp.fine_tuned_model_checkpoint != job.fine_tuned_model
    ]
    return job.fine_tuned_model, [*labels, f"base · {job.model}"]


async def test_a_job_that_finishes_while_shown_offers_its_model_and_current_checkpoints(
    server, fttui_home
):
    """Selected while it trains (an early checkpoint, later pruned by the server, is
    offered), then it succeeds with the Playground on screen: the fine-tuned model comes
    first and the pruned checkpoint goes (before, neither happened until a restart)."""
    client = server.client()
    # 100 steps, 12 s: the pane must see an early checkpoint before the server prunes it,
    # on a loaded box too (at 6 s it first saw the last three once: CI-like run, -n auto)
    job_id = create_sim_job(client, seconds_per_step=0.12, model=BASE)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, job_id)
        app.query_one(JobTable).select_job(job_id)
        await pilot.press("4")
        pane = app.query_one(PlaygroundPane)
        await until(
            pilot,
            lambda: any(label.startswith("step ") for label, _ in pane.targets()),
            what="a checkpoint of the running job",
        )
        early = [label for label, _ in pane.targets() if label.startswith("step ")]
        await until(
            pilot,
            lambda: client.fine_tuning.jobs.retrieve(job_id).status == "succeeded",
            timeout=60,
            what="the job to succeed",
        )
        ft, expected = server_targets(client, job_id)
        assert not set(early) <= set(expected)  # the server pruned what was offered first
        await until(
            pilot,
            lambda: [label for label, _ in pane.targets()] == expected,
            timeout=15,
            what=f"{expected} offered",
        )
        assert pane.target_model == ft
        assert app.query_one("#answer-a", AnswerView).model == ft


async def test_r_fetches_the_selected_job_again(server, finished_job, fttui_home):
    """The pane was told of the job before it finished (as a message from an old poll):
    r in the Playground asks the provider again and offers what it has now."""
    from fttui.tui.messages import JobSelected

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_playground(pilot, finished_job)
        pane.select_job(JobSelected("ftjob-other", BASE, None, "running"))
        pane.select_job(JobSelected(finished_job.id, BASE, None, "running"))
        pane.checkpoints = []
        pane._refresh_targets()
        await pilot.press("escape", "r")
        _ft, expected = server_targets(server.client(), finished_job.id)
        await until(
            pilot,
            lambda: [label for label, _ in pane.targets()] == expected,
            timeout=15,
            what=f"{expected} offered after r",
        )


async def test_a_two_line_prompt_is_typed_sent_and_answered_as_two_lines(
    server, finished_job, fttui_home
):
    """The tutorial's prompt: ctrl+j (or a backslash, then enter) breaks the line, enter
    sends, and the model gets the newline (the sim base model echoes it back)."""
    from textual.widgets import Select

    from fttui.tui.widgets.key_footer import KeyFooter

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_playground(pilot, finished_job)
        pane.query_one("#pg-target", Select).value = BASE  # it echoes what it was sent
        box = app.query_one(PromptInput)
        box.focus()
        await type_text(pilot, "Superhero: Volt")
        await pilot.press("ctrl+j")
        await type_text(pilot, "Powers: lightning ->")
        prompt = "Superhero: Volt\nPowers: lightning ->"
        assert box.value == prompt
        footer = screen_text(app).splitlines()[-1]
        assert "Send" in footer and "New line" in footer
        await pilot.press("enter")
        view = app.query_one("#answer-a", AnswerView)
        await until(
            pilot,
            lambda: view.prompt == prompt and not pane._streaming and view.text,
            what="the answer to the two-line prompt",
        )
        assert prompt in view.text
        assert box.value == ""
        await type_text(pilot, "one\\")
        await pilot.press("enter")  # a backslash at the end: a new line, not a send
        await type_text(pilot, "two")
        assert box.value == "one\ntwo" and view.prompt == prompt
        await pilot.press("up")  # on the second line: the cursor moves, no history yet
        assert box.value == "one\ntwo" and box.cursor_location[0] == 0
        await pilot.press("up")  # on the first line: the last prompt
        assert box.value == prompt
        assert app.query_one(KeyFooter)
