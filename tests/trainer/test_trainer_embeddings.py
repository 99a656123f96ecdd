"""`POST /v1/embeddings` on `fttui serve --executor torch`: the model's last hidden state,
mean-pooled and L2-normalised, through the same loaded-model pool as chat; a fine-tuned
model embeds through its own adapter."""

from __future__ import annotations

import math

import openai
import pytest
from test_trainer_rft import rft_file
from test_trainer_server import create_job, upload, wait
from tiny import color_examples, write_jsonl

TEXTS = ["What colour is the sky?", "red green blue"]


def vectors(client, model: str, texts: list[str]) -> list[list[float]]:
    out = client.embeddings.create(model=model, input=texts, encoding_format="float")
    assert out.model == model and [d.index for d in out.data] == list(range(len(texts)))
    assert out.usage.prompt_tokens > 0
    return [d.embedding for d in out.data]


def test_the_torch_executor_embeds_by_mean_pooling_its_last_hidden_state(torch_server) -> None:
    client = torch_server.client(timeout=120)
    sky, colours = vectors(client, "tiny", TEXTS)
    assert len(sky) == len(colours) == 32  # the tiny model's hidden size
    for v in (sky, colours):
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5)
    assert sky != colours
    # one text at a time or in a batch, the same vector (no padding leaks in)
    (alone,) = vectors(client, "tiny", [TEXTS[1]])
    assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(alone, colours, strict=True))
    short = client.embeddings.create(
        model="tiny", input=TEXTS[0], encoding_format="float", dimensions=8
    )
    assert len(short.data[0].embedding) == 8


def test_a_fine_tuned_model_embeds_through_its_adapter(torch_server, tmp_path) -> None:
    client = torch_server.client(timeout=120)
    train = write_jsonl(tmp_path / "train.jsonl", color_examples(10))
    job = create_job(client, upload(client, train), n_epochs=1, suffix="embed")
    job = wait(client, job.id, {"succeeded", "failed", "cancelled"}, torch_server)
    assert job.status == "succeeded", job.error
    (base,) = vectors(client, "tiny", [TEXTS[0]])
    (tuned,) = vectors(client, job.fine_tuned_model, [TEXTS[0]])
    assert max(abs(a - b) for a, b in zip(base, tuned, strict=True)) > 1e-4
    (again,) = vectors(client, "tiny", [TEXTS[0]])  # the adapter is off again for the base
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(base, again, strict=True))


def test_a_cosine_grader_is_refused_at_create_by_the_local_rft_trainer(torch_server, tmp_path):
    client = torch_server.client()
    with rft_file(tmp_path / "rft.jsonl").open("rb") as fh:
        file_id = client.files.create(file=fh, purpose="fine-tune").id
    grader = {
        "type": "text_similarity",
        "name": "meaning",
        "evaluation_metric": "cosine",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
    }
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(
            model="tiny",
            training_file=file_id,
            method={"type": "reinforcement", "reinforcement": {"grader": grader}},
        )
    assert err.value.body["code"] == "unsupported_grader"
    assert "cosine text_similarity needs an embedding model" in err.value.body["message"]
