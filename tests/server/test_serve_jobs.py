"""Fine-tuning jobs on `fttui serve --executor sim`, through the real openai SDK."""

from __future__ import annotations

import csv
import io
import json
import re

import openai
import pytest

FAST = {"sim_seconds_per_step": "0.002"}
SLOW = {"sim_seconds_per_step": "0.05"}
MODEL = "gpt-4o-mini-2024-07-18"


def test_job_runs_to_success(shared_client, finished_job, train_file, openapi):
    job = finished_job
    openapi.check(job, "FineTuningJob")
    assert job.training_file == train_file.id and job.user_provided_suffix == "shared"
    assert re.fullmatch(rf"ft:{MODEL}:fttui:shared:\w{{8}}", job.fine_tuned_model)
    # "auto" resolved by OpenAI's rules for 20 examples
    assert (
        job.hyperparameters.n_epochs,
        job.hyperparameters.batch_size,
        job.hyperparameters.learning_rate_multiplier,
    ) == (5, 1, 0.05)
    assert job.method.type == "supervised"
    assert job.method.supervised.hyperparameters.n_epochs == 5
    assert job.trained_tokens > 0 and job.finished_at >= job.created_at
    assert job.error is None and job.estimated_finish is None
    assert isinstance(job.seed, int)

    events = list(shared_client.fine_tuning.jobs.list_events(job.id, limit=7))
    for event in events[:3]:
        openapi.check(event, "FineTuningJobEvent")
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))
    messages = [e.message for e in reversed(events)]  # oldest first
    assert messages[0] == f"Created fine-tuning job: {job.id}"
    assert messages[1].startswith("Validating training file")
    assert messages.index("Files validated, moving job to queued state") < messages.index(
        "Fine-tuning job started"
    )
    assert messages[-1] == "The job has successfully completed"
    assert messages[-2].startswith("New fine-tuned model created: ")
    metrics = [e.data for e in reversed(events) if e.type == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 101))
    assert {"step", "total_steps", "train_loss", "train_mean_token_accuracy"} <= set(metrics[0])
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    assert all(isinstance(e.data, dict) for e in events)
    assert next(e for e in events if e.message.startswith("Created")).data == {}

    page = shared_client.fine_tuning.jobs.checkpoints.list(job.id)
    openapi.check(page, "ListFineTuningJobCheckpointsResponse")
    assert [c.step_number for c in page.data] == [100, 80, 60]  # last 3 epochs, newest first
    for ckpt in page.data:
        assert (
            ckpt.fine_tuned_model_checkpoint
            == f"{job.fine_tuned_model}:ckpt-step-{ckpt.step_number}"
        )
        assert ckpt.metrics.train_loss is not None and ckpt.fine_tuning_job_id == job.id

    (result_id,) = job.result_files
    result = shared_client.files.retrieve(result_id)
    assert result.purpose == "fine-tune-results"
    rows = list(csv.DictReader(io.StringIO(shared_client.files.content(result_id).text)))
    assert list(rows[0]) == [
        "step",
        "train_loss",
        "train_accuracy",
        "valid_loss",
        "valid_mean_token_accuracy",
    ]
    assert len(rows) == 100


def test_validation_file_metrics(shared_client, train_file, wait_job):
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train_file.id,
        validation_file=train_file.id,
        hyperparameters={"n_epochs": 2, "batch_size": 4},
        metadata=FAST,
    )
    job = wait_job(shared_client, job.id)
    assert job.status == "succeeded" and job.hyperparameters.n_epochs == 2
    assert job.hyperparameters.learning_rate_multiplier == 0.1  # auto, for batch size 4
    data = [
        e.data
        for e in shared_client.fine_tuning.jobs.list_events(job.id, limit=100).data
        if e.type == "metrics"
    ]
    assert len(data) == 10 and all("valid_loss" in d for d in data)
    epoch_ends = [d["step"] for d in data if "full_valid_loss" in d]
    assert sorted(epoch_ends) == [5, 10]


def test_events_paginate_without_gaps(shared_client, finished_job):
    seen, after = [], None
    while True:
        page = shared_client.fine_tuning.jobs.list_events(
            finished_job.id, limit=13, **({"after": after} if after else {})
        )
        seen += page.data
        if not page.has_more:
            break
        after = page.data[-1].id
    assert len(seen) == len({e.id for e in seen}) > 100
    created = [e.created_at for e in seen]
    assert created == sorted(created, reverse=True)


def test_list_jobs_pages_and_metadata_filter(shared_client, train_file, openapi):
    tag = {"suite": "list-test", **FAST}
    made = [
        shared_client.fine_tuning.jobs.create(
            model=MODEL, training_file=train_file.id, metadata={**tag, "n": str(i)}
        )
        for i in range(3)
    ]
    page = shared_client.fine_tuning.jobs.list(limit=2)
    openapi.check(page, "ListPaginatedFineTuningJobsResponse")
    assert [j.id for j in page.data] == [made[2].id, made[1].id]
    assert page.has_more
    tagged = [
        j.id for j in shared_client.fine_tuning.jobs.list(limit=1, metadata={"suite": "list-test"})
    ]
    assert tagged == [m.id for m in reversed(made)]
    only = shared_client.fine_tuning.jobs.list(metadata={"suite": "list-test", "n": "1"})
    assert [j.id for j in only.data] == [made[1].id]
    everything = [j.id for j in shared_client.fine_tuning.jobs.list(limit=5)]
    assert len(everything) == len(set(everything)) and set(tagged) <= set(everything)


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"hyperparameters": {"n_epochs": 0}}, "n_epochs"),
        ({"hyperparameters": {"batch_size": 257}}, "batch_size"),
        (
            {
                "method": {
                    "type": "supervised",
                    "supervised": {"hyperparameters": {"learning_rate_multiplier": -1}},
                }
            },
            "learning_rate_multiplier",
        ),
        ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}}}, "beta"),
        ({"method": {"type": "ppo"}}, "method.type"),
        ({"method": {"type": "reinforcement"}}, "method.reinforcement.grader"),
        ({"method": {"type": "supervised", "supervised": 5}}, "method.supervised"),
        ({"training_file": "file-doesnotexist"}, "training_file"),
        ({"validation_file": "file-doesnotexist"}, "validation_file"),
        ({"model": "no-such-model"}, "model"),
        ({"suffix": "has:colon"}, "suffix"),
        ({"suffix": "x" * 65}, "suffix"),
        ({"seed": -1}, "seed"),
        ({"metadata": {str(i): "v" for i in range(17)}}, "metadata"),
    ],
)
def test_create_refusals(shared_client, train_file, change, param):
    body = {"model": MODEL, "training_file": train_file.id, **change}
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.fine_tuning.jobs.create(**body)
    error = err.value.body
    assert error["param"] == param and error["message"]
    assert err.value.response.json()["error"]["type"] == "invalid_request_error"


def test_wrong_purpose_and_unknown_job(shared_client, openapi):
    other = shared_client.files.create(file=("x.jsonl", b"{}\n"), purpose="batch")
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.fine_tuning.jobs.create(model=MODEL, training_file=other.id)
    assert err.value.body["code"] == "invalid_file_purpose"
    for call in (
        shared_client.fine_tuning.jobs.retrieve,
        shared_client.fine_tuning.jobs.cancel,
        shared_client.fine_tuning.jobs.list_events,
        shared_client.fine_tuning.jobs.checkpoints.list,
    ):
        with pytest.raises(openai.NotFoundError) as err:
            call("ftjob-nope")
        openapi.check(err.value.response.json(), "ErrorResponse")


def test_invalid_training_file_fails_validation(shared_client, wait_job, openapi):
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    lines = [json.dumps(good)] * 12
    lines[2] = "{not json"
    lines[6] = json.dumps([1, 2])
    bad = shared_client.files.create(
        file=("bad.jsonl", "\n".join(lines).encode()), purpose="fine-tune"
    )
    job = shared_client.fine_tuning.jobs.create(model=MODEL, training_file=bad.id)
    job = wait_job(shared_client, job.id)
    assert job.status == "failed"
    openapi.check(job, "FineTuningJob")
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert "line 3" in job.error.message and "line 7" in job.error.message
    assert job.fine_tuned_model is None
    first = shared_client.fine_tuning.jobs.list_events(job.id, limit=1).data[0]
    assert first.level == "error" and "line 3" in first.message


def test_dpo_needs_preference_data(shared_client, train_file, wait_job):
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train_file.id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
    )
    assert job.method.dpo.hyperparameters.beta == 0.2
    job = wait_job(shared_client, job.id)
    assert job.status == "failed" and "preference" in job.error.message


def test_injected_failure(shared_client, train_file, wait_job):
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train_file.id,
        metadata={**FAST, "sim_fail_at_step": "3", "sim_fail_reason": "GPU on fire"},
    )
    job = wait_job(shared_client, job.id)
    assert job.status == "failed"
    assert (job.error.code, job.error.message) == ("sim_injected_failure", "GPU on fire")
    events = shared_client.fine_tuning.jobs.list_events(job.id, limit=50).data
    assert [e.data["step"] for e in events if e.type == "metrics"] == [2, 1]
    assert any(e.level == "error" and "GPU on fire" in e.message for e in events)


def test_cancel(shared_client, train_file, wait_job, openapi):
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL, training_file=train_file.id, metadata=SLOW
    )
    wait_job(shared_client, job.id, {"running"})
    cancelled = shared_client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at
    openapi.check(cancelled, "FineTuningJob")
    assert shared_client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.fine_tuning.jobs.cancel(job.id)
    assert err.value.body["code"] == "job_not_cancellable"
    with pytest.raises(openai.BadRequestError):
        shared_client.fine_tuning.jobs.pause(job.id)
    # a job cancelled while validating never starts
    early = shared_client.fine_tuning.jobs.create(model=MODEL, training_file=train_file.id)
    shared_client.fine_tuning.jobs.cancel(early.id)
    assert wait_job(shared_client, early.id).status == "cancelled"


def test_pause_and_resume(shared_client, train_file, wait_job):
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train_file.id,
        hyperparameters={"n_epochs": 2},
        metadata={"sim_seconds_per_step": "0.05"},
    )  # 2 s in all: time to pause it
    wait_job(shared_client, job.id, {"running"})
    with pytest.raises(openai.BadRequestError):
        shared_client.fine_tuning.jobs.resume(job.id)
    paused = shared_client.fine_tuning.jobs.pause(job.id)
    assert paused.status == "paused"

    def last_step():
        data = [
            e.data
            for e in shared_client.fine_tuning.jobs.list_events(job.id, limit=30).data
            if e.type == "metrics"
        ]
        return data[0]["step"] if data else 0

    import time

    time.sleep(0.4)
    step = last_step()
    time.sleep(0.4)
    assert last_step() == step < 40  # nothing moves while paused
    assert shared_client.fine_tuning.jobs.retrieve(job.id).status == "paused"
    resumed = shared_client.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "running"
    done = wait_job(shared_client, job.id)
    assert done.status == "succeeded"
    steps = [
        e.data["step"]
        for e in shared_client.fine_tuning.jobs.list_events(job.id, limit=200).data
        if e.type == "metrics"
    ]
    assert sorted(set(steps)) == list(range(1, 41))


def test_dpo_job_on_preference_data(shared_client, wait_job):
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": f"Greet person {i}"}]},
            "preferred_output": [{"role": "assistant", "content": f"Hello, person {i}!"}],
            "non_preferred_output": [{"role": "assistant", "content": "Go away."}],
        }
        for i in range(12)
    ]
    prefs = shared_client.files.create(
        file=("prefs.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode()),
        purpose="fine-tune",
    )
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=prefs.id,
        metadata=FAST,
        method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1}}},
    )
    job = wait_job(shared_client, job.id)
    assert job.status == "succeeded", job.error
    assert job.method.dpo.hyperparameters.beta == 0.1  # auto
    reply = shared_client.chat.completions.create(
        model=job.fine_tuned_model, messages=[{"role": "user", "content": "Greet person 7"}]
    )
    assert reply.choices[0].message.content == "[simulated] Hello, person 7!"
