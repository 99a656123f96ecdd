"""End to end: ``fttui serve --executor torch`` trains a tiny model the test built, through
the real ``openai`` SDK — the job succeeds, loss falls, checkpoints answer, stop is honoured;
cancel, pause/resume and a trainer crash behave."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import openai
import pytest
from tiny import color_examples, write_jsonl

SYSTEM = {"role": "system", "content": "You answer with colours."}
QUESTION = [SYSTEM, {"role": "user", "content": "Which?"}]


def upload(client, path: Path) -> str:
    with path.open("rb") as fh:
        return client.files.create(file=fh, purpose="fine-tune").id


def create_job(
    client,
    training: str,
    *,
    validation: str | None = None,
    n_epochs: int = 4,
    batch_size: int = 2,
    suffix: str = "colours",
):
    return client.fine_tuning.jobs.create(
        model="tiny",
        training_file=training,
        validation_file=validation,
        seed=3,
        suffix=suffix,
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "n_epochs": n_epochs,
                    "batch_size": batch_size,
                    "learning_rate_multiplier": 10,
                }
            },
        },
    )


#: hang guards, not budgets: a loaded 2-core CI box can be many times slower than a laptop
JOB_TIMEOUT_S = 300
STOP_TIMEOUT_S = 90


def wait(
    client, job_id: str, statuses: set[str], server, timeout: float = JOB_TIMEOUT_S, until=None
):
    """The job once its status is in ``statuses`` (or ``until(job)`` holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses or (until is not None and until(job)):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} is {job.status} after {timeout}s\n{server.log()[-3000:]}")


def metrics(client, job_id: str) -> list[dict]:
    events = client.fine_tuning.jobs.list_events(job_id, limit=1000).data
    return sorted((e.data for e in events if e.type == "metrics"), key=lambda d: d["step"])


def chat(client, model: str, **kw):
    return client.chat.completions.create(
        model=model, messages=QUESTION, temperature=0, max_completion_tokens=10, **kw
    )


def test_a_job_trains_and_its_checkpoints_answer(torch_server, color_files) -> None:
    client = torch_server.client(timeout=120)
    assert any(m.id == "tiny" and m.owned_by == "fttui-local" for m in client.models.list())
    train, valid = color_files
    job = create_job(client, upload(client, train), validation=upload(client, valid))
    job = wait(client, job.id, {"succeeded", "failed", "cancelled"}, torch_server)
    assert job.status == "succeeded", job.error
    assert job.trained_tokens and job.fine_tuned_model.startswith("ft:tiny:")

    steps = metrics(client, job.id)
    assert [d["step"] for d in steps] == list(range(1, 25))
    first, last = steps[0]["train_loss"], steps[-1]["train_loss"]
    assert last < first / 10, (first, last)
    assert "full_valid_loss" in steps[-1]
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    assert any("This job will train" in m and "tokens/s" in m for m in messages)
    csv_text = client.files.content(job.result_files[0]).text
    assert csv_text.startswith(
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    )

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert sorted(c.step_number for c in checkpoints) == [12, 18, 24]
    for model in [job.fine_tuned_model, *(c.fine_tuned_model_checkpoint for c in checkpoints)]:
        reply = chat(client, model)
        assert reply.choices[0].message.content.startswith("red green blue"), model
        assert reply.usage.prompt_tokens > 0

    stopped = chat(client, job.fine_tuned_model, stop=[" blue"])
    assert stopped.choices[0].message.content == "red green"
    assert stopped.choices[0].finish_reason == "stop"
    streamed = chat(client, job.fine_tuned_model, stop=["green"], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "red "
    base = chat(client, "tiny")
    assert not base.choices[0].message.content.startswith("red green")

    again = client.fine_tuning.jobs.create(  # a fine-tuned model trains on from its adapter
        model=job.fine_tuned_model,
        training_file=job.training_file,
        seed=3,
        suffix="again",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1}}},
    )
    again = wait(client, again.id, {"succeeded", "failed", "cancelled"}, torch_server)
    assert again.status == "succeeded", again.error
    first_loss = metrics(client, again.id)[0]["train_loss"]
    assert first_loss < steps[0]["train_loss"] / 10  # it started from the trained adapter
    assert chat(client, again.fine_tuned_model).choices[0].message.content.startswith("red green")


@pytest.fixture
def long_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "long.jsonl", color_examples(60))


#: steps of a long job that must run to the end (60 examples × 6 epochs at batch size 1): a
#: tiny model trains ~80 steps/s here, so the test has seconds to stop it mid-way
LONG_EPOCHS, LONG_STEPS = 6, 360
#: epochs of a job that is stopped for good (cancel, crash): it can never finish first
ENDLESS_EPOCHS = 50


def test_pause_resume_and_cancel(torch_server, long_file) -> None:
    client = torch_server.client(timeout=120)
    training = upload(client, long_file)
    job = create_job(client, training, n_epochs=LONG_EPOCHS, batch_size=1, suffix="pause")
    wait(client, job.id, set(), torch_server, until=lambda j: len(metrics(client, j.id)) >= 2)
    running = wait(client, job.id, set(), torch_server, until=lambda j: j.estimated_finish)
    assert running.created_at <= running.estimated_finish <= time.time() + 3600
    client.fine_tuning.jobs.pause(job.id)
    paused = wait(client, job.id, {"paused", "failed"}, torch_server, timeout=STOP_TIMEOUT_S)
    assert paused.status == "paused", paused.error
    paused_at = len(metrics(client, job.id))
    client.fine_tuning.jobs.resume(job.id)
    done = wait(client, job.id, {"succeeded", "failed"}, torch_server)
    assert done.status == "succeeded", done.error
    assert [d["step"] for d in metrics(client, job.id)] == list(range(1, LONG_STEPS + 1))
    assert 2 <= paused_at < LONG_STEPS

    other = create_job(client, training, n_epochs=ENDLESS_EPOCHS, batch_size=1, suffix="cancel")
    wait(client, other.id, set(), torch_server, until=lambda j: len(metrics(client, j.id)) >= 1)
    client.fine_tuning.jobs.cancel(other.id)  # the job reads "cancelled" at once ...

    def trainer_stopped(j) -> bool:  # ... and the trainer says so when it has stopped
        events = client.fine_tuning.jobs.list_events(j.id, limit=1000).data
        return any(e.message.startswith("Training cancelled") for e in events)

    cancelled = wait(
        client, other.id, set(), torch_server, timeout=STOP_TIMEOUT_S, until=trainer_stopped
    )
    assert cancelled.status == "cancelled"


def test_a_trainer_crash_fails_the_job_and_the_server_stays_up(torch_server, long_file) -> None:
    client = torch_server.client(timeout=120)
    job = create_job(
        client, upload(client, long_file), n_epochs=ENDLESS_EPOCHS, batch_size=1, suffix="crash"
    )
    wait(client, job.id, set(), torch_server, until=lambda j: len(metrics(client, j.id)) >= 1)
    pid_file = next(torch_server.data_dir.rglob(f"*{job.id}*/trainer.pid"), None) or next(
        p for p in torch_server.data_dir.rglob("trainer.pid") if job.id in str(p)
    )
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    failed = wait(client, job.id, {"failed", "succeeded"}, torch_server, timeout=STOP_TIMEOUT_S)
    assert failed.status == "failed"
    assert "SIGKILL" in failed.error.message
    assert client.models.retrieve("tiny").id == "tiny"  # still serving


def test_a_server_restart_resumes_a_running_job_where_it_was(torch_server, long_file) -> None:
    client = torch_server.client(timeout=120)
    job = create_job(
        client, upload(client, long_file), n_epochs=LONG_EPOCHS, batch_size=1, suffix="restart"
    )
    wait(client, job.id, set(), torch_server, until=lambda j: len(metrics(client, j.id)) >= 2)
    torch_server.restart()  # a clean stop pauses the trainer at its current step
    client = torch_server.client(timeout=120)
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, torch_server)
    assert done.status == "succeeded", done.error
    assert [d["step"] for d in metrics(client, job.id)] == list(range(1, LONG_STEPS + 1))
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    assert any("paused and will resume on restart" in m for m in messages)


def test_a_killed_server_follows_the_trainer_that_outlived_it(torch_server, long_file) -> None:
    """kill -9 of the server (the OOM killer, a closed SSH session) leaves its trainer
    training, in its own session. The restarted server follows that trainer: it neither
    fails the job nor starts a second trainer beside it from a checkpoint."""
    client = torch_server.client(timeout=120)
    job = create_job(
        client, upload(client, long_file), n_epochs=LONG_EPOCHS, batch_size=1, suffix="killed"
    )
    wait(client, job.id, set(), torch_server, until=lambda j: len(metrics(client, j.id)) >= 2)
    pid_file = next(p for p in torch_server.data_dir.rglob("trainer.pid") if job.id in str(p))
    trainer_pid = int(pid_file.read_text())
    torch_server.proc.kill()  # SIGKILL: no shutdown, no pause
    torch_server.proc.wait()
    torch_server.proc = None
    torch_server.start()
    client = torch_server.client(timeout=120)
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, torch_server)
    assert done.status == "succeeded", done.error
    assert int(pid_file.read_text()) == trainer_pid  # the same trainer all along
    assert [d["step"] for d in metrics(client, job.id)] == list(range(1, LONG_STEPS + 1))
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    assert any("training went on meanwhile" in m for m in messages)


PAIRS = [
    {
        "input": {"messages": [SYSTEM, {"role": "user", "content": q}]},
        "preferred_output": [{"role": "assistant", "content": "red green"}],
        "non_preferred_output": [{"role": "assistant", "content": "blue yellow"}],
    }
    for q in ("Which?", "Pick one.", "Name a colour.", "Any colour?", "Favourite?")
] * 2


def test_preference_data_trains_with_dpo_and_is_refused_without(torch_server, tmp_path) -> None:
    import openai

    client = torch_server.client(timeout=120)
    training = upload(client, write_jsonl(tmp_path / "pairs.jsonl", PAIRS))
    with pytest.raises(openai.BadRequestError, match="dpo"):
        create_job(client, training, suffix="nodpo")
    job = client.fine_tuning.jobs.create(
        model="tiny",
        training_file=training,
        seed=3,
        method={
            "type": "dpo",
            "dpo": {
                "hyperparameters": {
                    "n_epochs": 3,
                    "batch_size": 2,
                    "learning_rate_multiplier": 10,
                    "beta": 0.5,
                }
            },
        },
    )
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, torch_server)
    assert done.status == "succeeded", done.error
    losses = [d["train_loss"] for d in metrics(client, job.id)]
    assert losses[0] == pytest.approx(0.6931, abs=0.01) and losses[-1] < losses[0]
    reply = chat(client, done.fine_tuned_model)
    assert reply.choices[0].message.content


def test_an_unknown_base_model_is_refused_with_how_to_add_one(torch_server, color_files) -> None:
    import openai

    client = torch_server.client(timeout=120)
    training = upload(client, color_files[0])
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.jobs.create(model="no-such-model", training_file=training)
    assert caught.value.code == "model_not_available"
    assert "--base-model NAME=PATH" in caught.value.message  # the executor's hint, not just a list


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_prompt_too_long_is_a_400_streamed_or_not(torch_server, stream: bool) -> None:
    """Generation starts before the response, so a streamed request that cannot run is the
    same 400 (``context_length_exceeded``) the SDK raises as BadRequestError, not an error
    frame inside a 200 stream (a bare APIError with the reason lost)."""
    client = torch_server.client(timeout=120)
    long = [{"role": "user", "content": "red green blue " * 400}]  # the tiny model reads 256
    with pytest.raises(openai.BadRequestError) as caught:
        answer = client.chat.completions.create(model="tiny", messages=long, stream=stream)
        if stream:
            list(answer)
    assert caught.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as caught:
        answer = client.completions.create(model="tiny", prompt="red " * 1000, stream=stream)
        if stream:
            list(answer)
    assert caught.value.code == "context_length_exceeded"
