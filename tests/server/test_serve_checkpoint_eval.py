"""A job's `eval_grader` metadata: each checkpoint scored on the validation file, reported
as a metrics event; a bad grader is refused when the job is created."""

from __future__ import annotations

import json

import openai
import pytest

from fttui.api.metrics import series_from_events
from support.live_server import checkpoint_scores

MODEL = "gpt-4o-mini-2024-07-18"
GRADER = {
    "type": "string_check",
    "name": "has answer",
    "operation": "like",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference}}",
}


def test_each_checkpoint_is_scored_with_the_jobs_eval_grader(shared_client, train_file, wait_job):
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train_file.id,
        validation_file=train_file.id,
        hyperparameters={"n_epochs": 2},
        metadata={"sim_seconds_per_step": "0.002", "eval_grader": json.dumps(GRADER)},
    )
    job = wait_job(shared_client, job.id)
    assert job.status == "succeeded", job
    events = checkpoint_scores(shared_client, job)
    # The sim fine-tune answers its training answers, and validation is the training file.
    assert all(e.data["eval_grader"] > 0.9 for e in events)
    assert "eval_grader 'has answer' scored" in events[0].message
    series = series_from_events(events)
    steps = sorted(c.step_number for c in shared_client.fine_tuning.jobs.checkpoints.list(job.id))
    assert [s for s, _ in series.series["eval_grader"]] == steps


def test_a_bad_eval_grader_is_a_400_naming_the_field(shared_client, train_file):
    bad = {**GRADER, "operation": "contains"}
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=train_file.id,
            validation_file=train_file.id,
            metadata={"eval_grader": json.dumps(bad)},
        )
    assert info.value.body["param"] == "metadata.eval_grader"
    assert "grader.operation: 'contains' is not one of" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.fine_tuning.jobs.create(
            model=MODEL, training_file=train_file.id, metadata={"eval_grader": json.dumps(GRADER)}
        )
    assert info.value.body["param"] == "validation_file"
