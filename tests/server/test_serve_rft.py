"""Reinforcement fine-tuning on `fttui serve --executor sim`, through the real openai SDK:
the grader is checked at create, the data as RFT data, and the job reports (simulated,
labelled) rewards as metrics."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import openai
import pytest

from support.live_server import checkpoint_scores

MODEL = "gpt-4o-mini-2024-07-18"
FAST = {"sim_seconds_per_step": "0.002"}
#: a single grader: the shape the official spec (and the SDK) types `grader` with
EXACT: dict[str, Any] = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "ilike",
}
#: a multi grader as OpenAI's graders guide writes it: `graders` maps the names that
#: `calculate_output` uses to graders (the spec types it as one grader; both are accepted)
GRADER: dict[str, Any] = {
    "type": "multi",
    "name": "capital",
    "graders": {
        "exact": {
            "type": "string_check",
            "name": "exact",
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference_answer}}",
            "operation": "ilike",
        },
        "close": {
            "type": "text_similarity",
            "name": "close",
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference_answer}}",
            "evaluation_metric": "fuzzy_match",
        },
    },
    "calculate_output": "0.7 * exact + 0.3 * close",
}


@pytest.fixture(scope="module")
def rft_client(tmp_path_factory: pytest.TempPathFactory):
    """A server of this module's own: a multi grader in the guide's form (named graders) is
    outside the spec subset's schema, and the shared server's jobs are all checked by it."""
    from support.live_server import make_server

    server = make_server(tmp_path_factory.mktemp("rft-server")).start()
    try:
        yield server.client()
    finally:
        server.stop()


def rft_rows(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "developer", "content": "Answer with the capital city only."},
                {"role": "user", "content": f"What is the capital of country number {i}?"},
            ],
            "reference_answer": f"City {i}",
            **extra,
        }
        for i in range(n)
    ]


def upload(client: Any, rows: list[dict[str, Any]], name: str = "rft.jsonl") -> Any:
    data = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    return client.files.create(file=(name, data), purpose="fine-tune")


def rft_method(grader: dict[str, Any] | None = None, **hp: Any) -> dict[str, Any]:
    return {
        "type": "reinforcement",
        "reinforcement": {"grader": grader or GRADER, "hyperparameters": hp},
    }


def test_an_rft_job_reports_rising_rewards(rft_client, wait_job, openapi):
    train, valid = upload(rft_client, rft_rows(20)), upload(rft_client, rft_rows(10))
    job = rft_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train.id,
        validation_file=valid.id,
        method=rft_method(EXACT, n_epochs=2, batch_size=2, reasoning_effort="low", eval_interval=5),
        metadata=FAST,
    )
    openapi.check(job, "FineTuningJob")
    assert job.method.type == "reinforcement"
    assert job.method.reinforcement.grader.type == "string_check"
    job = wait_job(rft_client, job.id)
    assert job.status == "succeeded", job.error
    openapi.check(job, "FineTuningJob")
    hp = job.method.reinforcement.hyperparameters
    assert (hp.n_epochs, hp.batch_size, hp.reasoning_effort, hp.eval_interval) == (2, 2, "low", 5)
    assert hp.compute_multiplier == 1.0 and hp.eval_samples == 1  # "auto" resolved
    events = list(rft_client.fine_tuning.jobs.list_events(job.id, limit=200))
    metrics = [e.data for e in reversed(events) if e.type == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 21))
    rewards = [m["train_reward_mean"] for m in metrics]
    assert all(0 <= r <= 1 for r in rewards)
    assert sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5 + 0.2  # the reward rises
    assert "train_loss" not in metrics[0]
    # validation rewards every eval_interval steps (and at the end)
    assert [m["step"] for m in metrics if "valid_reward_mean" in m] == [5, 10, 15, 20]
    simulated = [e for e in events if e.type == "metrics" and "(simulated)" in e.message]
    assert len(simulated) == 20  # labelled: nothing is really reinforced by the sim executor


@pytest.mark.parametrize(
    ("grader", "names"),
    [
        (GRADER, ["exact", "close"]),
        ({**GRADER, "graders": EXACT, "calculate_output": "exact"}, ["exact"]),
    ],
    ids=["named-graders", "one-grader"],
)
def test_a_multi_grader_reports_a_sub_reward_per_grader(rft_client, wait_job, grader, names):
    train = upload(rft_client, rft_rows(12))
    job = rft_client.fine_tuning.jobs.create(
        model=MODEL, training_file=train.id, method=rft_method(grader), metadata=FAST
    )
    job = wait_job(rft_client, job.id)
    assert job.status == "succeeded", job.error
    events = rft_client.fine_tuning.jobs.list_events(job.id, limit=100).data
    last = next(e.data for e in events if e.type == "metrics")
    assert sorted(k for k in last if k.startswith("train_reward/")) == sorted(
        f"train_reward/{n}" for n in names
    )


@pytest.mark.parametrize(
    ("change", "param"),
    [
        (lambda g: g.pop("graders"), "method.reinforcement.grader.graders"),
        (
            lambda g: g["graders"]["exact"].update(operation="startswith"),
            "method.reinforcement.grader.graders.exact.operation",
        ),
        (
            lambda g: g["graders"]["close"].update(evaluation_metric="levenshtein"),
            "method.reinforcement.grader.graders.close.evaluation_metric",
        ),
        (lambda g: g.update(type="lambda"), "method.reinforcement.grader.type"),
    ],
)
def test_a_bad_grader_is_a_400_naming_the_field(rft_client, change, param):
    train = upload(rft_client, rft_rows(12))
    grader = copy.deepcopy(GRADER)
    change(grader)
    with pytest.raises(openai.BadRequestError) as err:
        rft_client.fine_tuning.jobs.create(
            model=MODEL, training_file=train.id, method=rft_method(grader)
        )
    assert err.value.body["param"] == param, err.value.body
    assert err.value.body["code"] == "invalid_grader"
    assert param.removeprefix("method.reinforcement.") in err.value.body["message"]


@pytest.mark.parametrize(
    ("hp", "param"),
    [
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"compute_multiplier": 11}, "compute_multiplier"),
        ({"eval_interval": 0}, "eval_interval"),
        ({"eval_samples": "many"}, "eval_samples"),
    ],
)
def test_rft_hyperparameters_out_of_range_are_a_400(rft_client, hp, param):
    train = upload(rft_client, rft_rows(12))
    with pytest.raises(openai.BadRequestError) as err:
        rft_client.fine_tuning.jobs.create(
            model=MODEL, training_file=train.id, method=rft_method(**hp)
        )
    assert err.value.body["param"] == param


def test_rft_data_missing_a_grader_field_fails_validation_at_its_line(rft_client, wait_job):
    rows = rft_rows(12)
    del rows[4]["reference_answer"]
    job = rft_client.fine_tuning.jobs.create(
        model=MODEL, training_file=upload(rft_client, rows).id, method=rft_method()
    )
    job = wait_job(rft_client, job.id)
    assert job.status == "failed" and job.error.param == "training_file"
    assert "line 5" in job.error.message and "reference_answer" in job.error.message


def test_supervised_chat_data_is_not_rft_data(rft_client, chat_jsonl, wait_job):
    with chat_jsonl.open("rb") as fh:
        chat = rft_client.files.create(file=fh, purpose="fine-tune")
    job = rft_client.fine_tuning.jobs.create(
        model=MODEL, training_file=chat.id, method=rft_method()
    )
    job = wait_job(rft_client, job.id)
    assert job.status == "failed"
    assert "user's turn" in job.error.message


def test_an_rft_jobs_eval_grader_scores_each_checkpoint_on_its_rft_validation_file(
    rft_client, wait_job
):
    # RFT prompts end on the user's turn; the eval grader reads the answer from a field.
    # The sim model's reply quotes the question, which here spells the answer out.
    valid = [
        {
            "messages": [{"role": "user", "content": f"Say: City {i}"}],
            "reference_answer": f"City {i}",
        }
        for i in range(10)
    ]
    train, valid_file = upload(rft_client, rft_rows(10)), upload(rft_client, valid, "valid.jsonl")
    job = rft_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train.id,
        validation_file=valid_file.id,
        method=rft_method(EXACT, n_epochs=1, batch_size=2),
        metadata={**FAST, "eval_grader": json.dumps(EXACT)},
    )
    job = wait_job(rft_client, job.id)
    assert job.status == "succeeded", job.error
    events = checkpoint_scores(rft_client, job)
    assert all(e.data["eval_grader"] == 1.0 for e in events)
    assert "on 10 validation examples" in events[0].message


ALL_METHODS = ["supervised", "dpo", "reinforcement"]


def test_models_list_the_fine_tuning_methods_they_take(rft_client, wait_job, openapi):
    """Each model object says which methods a job on it may use (`fine_tuning_methods`,
    beyond OpenAI's Model): the legacy completion models take supervised only, as at
    OpenAI; a fine-tuned model and its checkpoints take what their base takes."""
    models = rft_client.models.list().data
    for model in models:
        openapi.check(model, "Model")  # an extra field: still OpenAI's Model
    methods = {m.id: m.fine_tuning_methods for m in models}
    assert methods["babbage-002"] == methods["davinci-002"] == ["supervised"]
    assert methods[MODEL] == methods["SmolLM2-135M-Instruct"] == ALL_METHODS
    job = rft_client.fine_tuning.jobs.create(
        model=MODEL, training_file=upload(rft_client, rft_rows(12)).id, method=rft_method(EXACT),
        metadata=FAST,
    )  # fmt: skip
    job = wait_job(rft_client, job.id)
    assert job.status == "succeeded", job.error
    listed = {m.id: m for m in rft_client.models.list().data}
    assert listed[job.fine_tuned_model].fine_tuning_methods == ALL_METHODS
    assert rft_client.models.retrieve(job.fine_tuned_model).fine_tuning_methods == ALL_METHODS
    checkpoint = rft_client.fine_tuning.jobs.checkpoints.list(job.id).data[0]
    got = rft_client.models.retrieve(checkpoint.fine_tuned_model_checkpoint)
    assert got.fine_tuning_methods == ALL_METHODS


@pytest.mark.parametrize("model", ["babbage-002", "davinci-002"])
def test_an_rft_job_on_a_model_without_rft_is_a_400_naming_the_models_that_take_it(
    rft_client, model
):
    train = upload(rft_client, rft_rows(12))
    jobs_before = [j.id for j in rft_client.fine_tuning.jobs.list(limit=100)]
    with pytest.raises(openai.BadRequestError) as err:
        rft_client.fine_tuning.jobs.create(
            model=model, training_file=train.id, method=rft_method(EXACT)
        )
    body = err.value.body
    assert (body["param"], body["code"]) == ("model", "unsupported_method"), body
    assert model in body["message"] and "it takes supervised" in body["message"]
    assert MODEL in body["message"] and "SmolLM2-135M-Instruct" in body["message"]
    assert [j.id for j in rft_client.fine_tuning.jobs.list(limit=100)] == jobs_before


def test_an_rft_job_cancelled_while_running_reports_no_metrics_after_the_cancel(
    rft_client, wait_job
):
    """create → follow the (simulated, labelled) rewards → cancel → cancelled, and no
    metrics after the cancel: not the step the trainer was in when it came either."""
    job = rft_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=upload(rft_client, rft_rows(40)).id,
        method=rft_method(EXACT, n_epochs=2, batch_size=1),
        metadata={"sim_seconds_per_step": "0.2"},
    )  # 80 steps, 16 s: time to see rewards and cancel on a loaded machine too

    def events() -> list[Any]:  # oldest first
        return list(reversed(rft_client.fine_tuning.jobs.list_events(job.id, limit=500).data))

    def wait_for(what: str, found: Any) -> list[Any]:
        deadline = time.monotonic() + 30
        while not found(got := events()):
            assert time.monotonic() < deadline, f"no {what} in {[e.message for e in got]}"
            time.sleep(0.02)
        return got

    seen = wait_for("reward", lambda evs: sum(e.type == "metrics" for e in evs) >= 3)
    rewards = [e for e in seen if e.type == "metrics"]
    assert all("(simulated)" in e.message and "train_reward_mean" in e.data for e in rewards)
    cancelled = rft_client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    # the executor has stopped (its last word is in): nothing more will come
    got = wait_for(
        "stop", lambda evs: any(e.message == "Simulated training cancelled" for e in evs)
    )
    messages = [e.message for e in got]
    at = messages.index("Fine-tuning job cancelled")
    assert [e.message for e in got[at:] if e.type == "metrics"] == []
    steps = [e.data["step"] for e in got if e.type == "metrics"]
    assert steps == list(range(1, len(steps) + 1)) and 3 <= len(steps) < 80
    job = wait_job(rft_client, job.id)
    assert job.status == "cancelled" and job.fine_tuned_model is None
    assert [e.id for e in events()] == [e.id for e in got]
