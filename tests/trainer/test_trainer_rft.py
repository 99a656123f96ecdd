"""Reinforcement fine-tuning with GRPO on the tiny model through `fttui serve --executor
torch` and the openai SDK: the job's grader scores sampled answers and the reward rises."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import openai
import pytest
from tiny import write_jsonl

TARGET = "red green blue yellow"
#: a continuous reward (how close the answer is to the colours), so every group has a signal
GRADER = {
    "type": "text_similarity",
    "name": "colours",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "evaluation_metric": "fuzzy_match",
}
QUESTIONS = ["Name a colour.", "Pick one.", "Which?", "Say something.", "Tell me a colour.",
             "Any colour?", "Favourite?", "What colour is the sky?"]  # fmt: skip


def rft_file(path: Path, n: int = 10) -> Path:
    return write_jsonl(
        path,
        [
            {
                "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
                "reference_answer": TARGET,
            }
            for i in range(n)
        ],
    )


def wait(client: Any, job_id: str, until: tuple[str, ...], timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout  # a hang guard only
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in until or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def create(client: Any, path: Path, **hp: Any) -> Any:
    with path.open("rb") as fh:
        file_id = client.files.create(file=fh, purpose="fine-tune").id
    return client.fine_tuning.jobs.create(
        model="tiny",
        training_file=file_id,
        seed=0,
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": GRADER, "hyperparameters": hp},
        },
        metadata={
            "torch_rft_max_new_tokens": "8",
            "torch_lora": "false",
            "torch_learning_rate": "3e-3",
        },
    )


def test_grpo_raises_the_mean_reward_of_the_tiny_model(torch_server, tmp_path) -> None:
    client = torch_server.client(timeout=120)
    job = create(client, rft_file(tmp_path / "rft.jsonl"), n_epochs=5, batch_size=2)
    job = wait(client, job.id, ("succeeded", "failed", "cancelled"))
    assert job.status == "succeeded", (job.error, torch_server.log()[-3000:])
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=500))
    metrics = [e.data for e in reversed(events) if e.type == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 26))
    rewards = [m["train_reward_mean"] for m in metrics]
    first, last = statistics.fmean(rewards[:6]), statistics.fmean(rewards[-6:])
    assert last > first + 0.1, rewards
    assert "train_loss" not in metrics[0]
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [25, 20, 15]
    # the fine-tuned model answers closer to the colours than the base model does
    from fttui.evals import run

    def score(model: str) -> float:
        answers = [
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": q}], temperature=0, max_tokens=8
            )
            .choices[0]
            .message.content
            for q in QUESTIONS
        ]
        return statistics.fmean(
            run(GRADER, {"reference_answer": TARGET}, a or "").reward for a in answers
        )

    assert score(job.fine_tuned_model) > score("tiny") + 0.1


def test_a_python_grader_is_refused_at_create_by_the_local_trainer(torch_server, tmp_path) -> None:
    client = torch_server.client()
    with rft_file(tmp_path / "rft.jsonl").open("rb") as fh:
        file_id = client.files.create(file=fh, purpose="fine-tune").id
    grader = {
        "type": "python",
        "name": "code",
        "source": "def grade(sample, item):\n    return 1.0\n",
    }
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(
            model="tiny",
            training_file=file_id,
            method={"type": "reinforcement", "reinforcement": {"grader": grader}},
        )
    assert err.value.body["code"] == "unsupported_grader"
    assert "python grader" in err.value.body["message"]
