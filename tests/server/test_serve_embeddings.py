"""`POST /v1/embeddings` on `fttui serve --executor sim`, through the official SDK: OpenAI's
shape, float and base64 encodings, `dimensions`, deterministic vectors whose cosine ranks
similar texts higher, and bad input answered as OpenAI's 400/404 errors."""

from __future__ import annotations

import json
import math

import openai
import pytest

from support.live_server import wait_for

MODEL = "gpt-4o-mini-2024-07-18"


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


def test_embeddings_answer_in_openais_shape_one_unit_vector_per_input(shared_client):
    raw = shared_client.embeddings.with_raw_response.create(
        model=MODEL, input=["Paris", "the capital of France"], encoding_format="float"
    )
    body = raw.http_response.json()
    assert body["object"] == "list" and body["model"] == MODEL
    assert [d["object"] for d in body["data"]] == ["embedding", "embedding"]
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["usage"]["prompt_tokens"] > 0
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"]
    for d in body["data"]:
        assert len(d["embedding"]) == 256
        assert math.isclose(math.sqrt(sum(v * v for v in d["embedding"])), 1.0, rel_tol=1e-9)
    parsed = raw.parse()
    assert parsed.data[1].embedding == body["data"][1]["embedding"]


def test_similar_texts_have_a_higher_cosine_and_the_vectors_are_deterministic(shared_client):
    def vec(text: str) -> list[float]:
        out = shared_client.embeddings.create(model=MODEL, input=text, encoding_format="float")
        return out.data[0].embedding

    paris = vec("The capital of France is Paris.")
    near = vec("the capital of france is paris")
    far = vec("Photosynthesis turns sunlight into sugar.")
    assert cos(paris, near) > 0.9
    assert cos(paris, far) < 0.5
    assert cos(paris, near) > cos(paris, far) + 0.4
    assert vec("The capital of France is Paris.") == paris


def test_the_sdks_default_base64_decodes_to_the_float_vectors(shared_client):
    floats = shared_client.embeddings.create(
        model=MODEL, input="hello there", encoding_format="float"
    )
    # the SDK asks for base64 when no encoding is given, and decodes it itself
    decoded = shared_client.embeddings.create(model=MODEL, input="hello there")
    raw = shared_client.embeddings.with_raw_response.create(
        model=MODEL, input="hello there", encoding_format="base64"
    )
    assert isinstance(raw.http_response.json()["data"][0]["embedding"], str)
    got, want = decoded.data[0].embedding, floats.data[0].embedding
    assert len(got) == len(want)
    assert all(math.isclose(g, w, abs_tol=1e-6) for g, w in zip(got, want, strict=True))


def test_dimensions_shortens_and_renormalises(shared_client):
    full = shared_client.embeddings.create(model=MODEL, input="abc def", encoding_format="float")
    short = shared_client.embeddings.create(
        model=MODEL, input="abc def", encoding_format="float", dimensions=64
    )
    v, head = short.data[0].embedding, full.data[0].embedding[:64]
    assert len(v) == 64
    assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-9)
    assert cos(v, head) == pytest.approx(1.0)


def test_a_fine_tuned_sim_model_embeds_too(shared_client, finished_job):
    model = finished_job.fine_tuned_model
    out = shared_client.embeddings.create(model=model, input="hi", encoding_format="float")
    assert out.model == model and len(out.data[0].embedding) == 256


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"input": ""}, "input", "invalid_value"),
        ({"input": ["ok", ""]}, "input[1]", "invalid_value"),
        ({"input": [[1, 2, 3]]}, "input[0]", "invalid_value"),
        ({"input": []}, "input", "invalid_value"),
        ({"input": "x", "dimensions": 5000}, "dimensions", "invalid_value"),
        ({"input": "x", "dimensions": 0}, "dimensions", "invalid_value"),
        ({"input": "x", "encoding_format": "hex"}, "encoding_format", "invalid_value"),
        ({"input": 3}, "input", "invalid_type"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(shared_client, body, param, code):
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.embeddings.create(model=MODEL, **body)
    err = info.value.body
    assert info.value.status_code == 400
    assert err["param"] == param and err["code"] == code, err
    assert err["message"]


def test_an_unknown_model_is_openais_model_not_found(shared_client):
    with pytest.raises(openai.NotFoundError) as info:
        shared_client.embeddings.create(model="text-embedding-nope", input="x")
    assert info.value.body["code"] == "model_not_found"
    assert "text-embedding-nope" in info.value.body["message"]


def test_a_missing_model_is_a_400(shared_client):
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.post("/embeddings", body={"input": "x"}, cast_to=object)
    assert info.value.body["param"] == "model"
    assert info.value.body["code"] == "missing_required_parameter"


def test_the_graders_endpoint_runs_a_cosine_grader_on_the_servers_embeddings(shared_client):
    grader = {
        "type": "text_similarity",
        "name": "meaning",
        "evaluation_metric": "cosine",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
    }
    sample, answer = "Paris, the capital.", "paris"
    out = shared_client.fine_tuning.alpha.graders.run(
        grader=grader, model_sample=sample, item={"answer": answer}
    )
    vectors = shared_client.embeddings.create(
        model=MODEL, input=[sample, answer], encoding_format="float"
    )
    want = cos(vectors.data[0].embedding, vectors.data[1].embedding)
    assert 0.2 < want < 0.95  # neither a match nor unrelated: the figure means something
    assert out.reward == pytest.approx(want, abs=1e-9)
    assert not out.metadata.errors.other_error


def test_the_openapi_document_describes_the_embeddings_route(shared_sim_server):
    root = shared_sim_server.base_url.removesuffix("/v1")
    with shared_sim_server.raw() as raw:
        doc = raw.get(f"{root}/openapi.json").json()
    op = doc["paths"]["/v1/embeddings"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/EmbeddingRequest")
    body = doc["components"]["schemas"]["EmbeddingRequest"]
    assert set(body["required"]) == {"input", "model"}
    assert "422" not in op["responses"]


def test_a_cosine_eval_grader_scores_each_checkpoint_through_the_base_models_embeddings(
    shared_client, train_file, wait_job
):
    grader = {
        "type": "text_similarity",
        "name": "meaning",
        "evaluation_metric": "cosine",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
    }
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train_file.id,
        validation_file=train_file.id,
        metadata={"sim_seconds_per_step": "0.002", "eval_grader": json.dumps(grader)},
    )
    job = wait_job(shared_client, job.id)
    assert job.status == "succeeded", job
    steps = sorted(c.step_number for c in shared_client.fine_tuning.jobs.checkpoints.list(job.id))

    def scored() -> list:
        events = list(shared_client.fine_tuning.jobs.list_events(job.id, limit=1000))
        return [e for e in events if e.type == "metrics" and "eval_grader" in (e.data or {})]

    wait_for(lambda: len(scored()) >= len(steps), 60, "a cosine score for every checkpoint")
    # "[simulated] <the training answer>" against that answer: close, not equal
    assert all(0.5 < e.data["eval_grader"] < 1.0 for e in scored())
    messages = [e.message for e in shared_client.fine_tuning.jobs.list_events(job.id, limit=1000)]
    assert not any("could not score" in m for m in messages)
