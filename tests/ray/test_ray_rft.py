"""Reinforcement fine-tuning on ``fttui serve --executor ray``: an RFT job is one Ray job
whose trainer runs GRPO on the tiny model, reports its rewards and ends succeeded — against
a real local Ray cluster, through the real ``openai`` SDK."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from test_ray_executor import events, metrics, upload, wait

from support.live_server import wait_for
from trainer.tiny import write_jsonl

GRADER = {
    "type": "text_similarity",
    "name": "colours",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "evaluation_metric": "fuzzy_match",
}


@pytest.fixture
def rft_file(tmp_path: Path) -> Path:
    rows = [
        {
            "messages": [{"role": "user", "content": q}],
            "reference_answer": "red green blue yellow",
        }
        for q in ("Name a colour.", "Pick one.", "Which?", "Any colour?", "Favourite?") * 2
    ]  # the 10 examples a fine-tuning file needs at least
    return write_jsonl(tmp_path / "rft.jsonl", rows)


def create_rft(client, training: str, metadata: dict[str, str] | None = None):
    return client.fine_tuning.jobs.create(
        model="tiny",
        training_file=training,
        validation_file=training,  # held-out prompts for the eval_interval rewards
        seed=0,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": GRADER,
                "hyperparameters": {"n_epochs": 1, "batch_size": 5, "eval_interval": 1},
            },
        },
        # few sampled tokens: the job is about the path through Ray, not what GRPO learns
        metadata={"ray_rft_max_new_tokens": "4", "ray_lora": "false", **(metadata or {})},
    )


def test_an_rft_job_runs_through_ray_to_succeeded_with_reward_metrics(
    ray_server, ray_cluster, rft_file
):
    client = ray_server.client()
    job = create_rft(client, upload(client, rft_file))
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, ray_server)
    assert done.status == "succeeded", (done.error, ray_server.log()[-3000:])
    assert done.method.type == "reinforcement"
    wait_for(lambda: str(ray_cluster.jobs(job.id)[0].status) != "RUNNING", 30, "the Ray job to end")
    ray_jobs = ray_cluster.jobs(job.id)
    assert [(j.submission_id, str(j.status)) for j in ray_jobs] == [(job.id, "SUCCEEDED")]
    steps = metrics(client, job.id)
    assert [m["step"] for m in steps] == [1, 2]  # 10 prompts / a batch of 5 × 1 epoch
    for m in steps:
        assert 0.0 <= m["train_reward_mean"] <= 1.0
        assert "train_loss" not in m  # an RFT job reports rewards, not a loss
    assert all(0.0 <= m["valid_reward_mean"] <= 1.0 for m in steps)  # eval_interval 1
    assert done.fine_tuned_model
    reply = client.chat.completions.create(
        model=done.fine_tuned_model,
        messages=[{"role": "user", "content": "Which?"}],
        max_completion_tokens=4,
    )
    assert reply.choices[0].message.content is not None
    assert not [e for e in events(client, job.id) if e.level == "error"]


def test_an_rft_job_on_several_ray_train_workers_is_a_400_before_anything_runs(
    ray_server, ray_cluster, rft_file
):
    client = ray_server.client()
    with pytest.raises(openai.BadRequestError) as err:
        create_rft(client, upload(client, rft_file), {"ray_num_workers": "2"})
    assert err.value.body["param"] == "metadata"
    assert "ray_num_workers" in err.value.body["message"]
    assert "one worker" in err.value.body["message"]
