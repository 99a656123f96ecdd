"""Typed request bodies, the per-request token cap and the served OpenAPI document of
`fttui serve` (issue 10): bad bodies the SDK would refuse to send are sent raw (httpx2) to
a real server process on loopback; every refusal is a 400 in OpenAI's shape naming the field."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_serve_http import error_of  # the error-shape assertion the HTTP tests share

MODEL = "gpt-4o-mini-2024-07-18"
LEGACY = "babbage-002"
USER = [{"role": "user", "content": "What is the capital of France?"}]


def raw_client(server):
    import httpx2

    return httpx2.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}, timeout=60
    )


@pytest.fixture(scope="module")
def raw(shared_sim_server):
    """A raw HTTP client with the key, on the shared server."""
    with raw_client(shared_sim_server) as client:
        yield client


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"presence_penalty": "x"}, "presence_penalty"),
        ({"frequency_penalty": 2.5}, "frequency_penalty"),
        ({"logit_bias": "x"}, "logit_bias"),
        ({"logit_bias": {"50256": 101}}, "logit_bias.50256"),
        ({"tools": "x"}, "tools"),
        (
            {"tools": [{"type": "function", "function": {"description": "no name"}}]},
            "tools[0].function.name",
        ),
        ({"response_format": "x"}, "response_format"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"n": "2"}, "n"),
        ({"temperature": "hot"}, "temperature"),
        ({"logprobs": 1}, "logprobs"),
        ({"stream": "yes"}, "stream"),
        ({"stop": [1]}, "stop"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": "hello"}, "messages"),
        ({"messages": ["hello"]}, "messages[0]"),
        ({"model": 5}, "model"),
    ],
)
def test_a_chat_body_field_of_the_wrong_type_or_range_is_a_400_naming_it(
    raw, openapi, change, param
):
    body = {"model": MODEL, "messages": USER, **change}
    error = error_of(raw.post("/chat/completions", json=body), 400, openapi)
    assert error["param"] == param and error["type"] == "invalid_request_error", error


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"best_of": 1000}, "best_of"),
        ({"best_of": 1, "n": 2}, "best_of"),
        ({"presence_penalty": "x"}, "presence_penalty"),
        ({"logit_bias": "x"}, "logit_bias"),
        ({"logprobs": 6}, "logprobs"),
        ({"echo": "yes"}, "echo"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"n": 200}, "n"),
    ],
)
def test_a_completion_body_field_of_the_wrong_type_or_range_is_a_400_naming_it(
    raw, openapi, change, param
):
    body = {"model": LEGACY, "prompt": "Hello ->", **change}
    error = error_of(raw.post("/completions", json=body), 400, openapi)
    assert error["param"] == param and error["type"] == "invalid_request_error", error


def test_a_missing_required_field_is_a_400_that_names_it(raw, openapi):
    error = error_of(raw.post("/chat/completions", json={"messages": USER}), 400, openapi)
    assert error["param"] == "model" and "required" in error["message"]


def test_a_huge_wrong_value_is_not_echoed_in_the_error(raw, openapi):
    response = raw.post(
        "/chat/completions",
        json={"model": MODEL, "messages": USER, "presence_penalty": "x" * 1_000_000},
    )
    error_of(response, 400, openapi)
    assert len(response.content) < 1000


def test_unknown_fields_are_accepted_as_openai_accepts_them(raw, openapi):
    body = {
        "model": MODEL,
        "messages": USER,
        "max_completion_tokens": 3,
        "not_a_field": [1],
        "prediction": {"type": "content", "content": "x"},
    }
    response = raw.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    openapi.check(response.json(), "CreateChatCompletionResponse")
    legacy = raw.post(
        "/completions",
        json={"model": LEGACY, "prompt": "a", "max_tokens": 2, "whatever": {"x": 1}, "best_of": 2},
    )
    assert legacy.status_code == 200, legacy.text


def test_typed_fields_of_the_right_type_are_accepted(raw, openapi):
    body = {
        "model": MODEL,
        "messages": USER,
        "max_completion_tokens": 3,
        "presence_penalty": 0.5,
        "frequency_penalty": -1,
        "logit_bias": {"50256": -100},
        "response_format": {"type": "text"},
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": "auto",
        "n": 2.0,  # a whole float is an integer, as in JSON Schema
        "temperature": 1,
        "stop": "zzz",
        "user": "me",
    }
    response = raw.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    openapi.check(response.json(), "CreateChatCompletionResponse")
    assert len(response.json()["choices"]) == 2


@pytest.mark.parametrize(
    ("integrations", "param"),
    [
        ([1], "integrations[0]"),
        ("wandb", "integrations"),
        ([{"type": "slack", "wandb": {"project": "p"}}], "integrations[0].type"),
        ([{"type": "wandb", "wandb": {}}], "integrations[0].wandb.project"),
        ([{"type": "wandb", "wandb": {"project": "p", "tags": "t"}}], "integrations[0].wandb.tags"),
        ([{"type": "wandb", "wandb": {"project": "p"}}] * 6, "integrations"),
    ],
)
def test_a_bad_integration_is_a_400_naming_it(raw, openapi, train_file, integrations, param):
    body = {"model": MODEL, "training_file": train_file.id, "integrations": integrations}
    error = error_of(raw.post("/fine_tuning/jobs", json=body), 400, openapi)
    assert error["param"] == param and error["type"] == "invalid_request_error", error


def test_a_wandb_integration_is_accepted_and_echoed_as_the_schema_has_it(
    raw, openapi, train_file, shared_client
):
    body = {
        "model": MODEL,
        "training_file": train_file.id,
        "metadata": {"sim_seconds_per_step": "0.002"},
        "integrations": [{"type": "wandb", "wandb": {"project": "p", "tags": ["a"], "extra": 1}}],
    }
    response = raw.post("/fine_tuning/jobs", json=body)
    assert response.status_code == 200, response.text
    expected = [
        {"type": "wandb", "wandb": {"project": "p", "name": None, "entity": None, "tags": ["a"]}}
    ]
    assert response.json()["integrations"] == expected
    openapi.check(response.json(), "FineTuningJob")
    again = raw.get(f"/fine_tuning/jobs/{response.json()['id']}").json()
    assert again["integrations"] == expected
    openapi.check(again, "FineTuningJob")
    for job in raw.get("/fine_tuning/jobs", params={"limit": 100}).json()["data"]:
        openapi.check(job, "FineTuningJob")  # every read of every job matches the schema


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {
                "bytes": "1",
                "filename": "a.jsonl",
                "mime_type": "text/jsonl",
                "purpose": "fine-tune",
            },
            "bytes",
        ),
        (
            {"bytes": 1, "filename": 5, "mime_type": "text/jsonl", "purpose": "fine-tune"},
            "filename",
        ),
        ({"bytes": 1, "filename": "a.jsonl", "purpose": "fine-tune"}, "mime_type"),
    ],
)
def test_an_upload_body_of_the_wrong_type_is_a_400_naming_the_field(raw, openapi, body, param):
    error = error_of(raw.post("/uploads", json=body), 400, openapi)
    assert error["param"] == param and error["type"] == "invalid_request_error", error


def test_completing_an_upload_with_part_ids_not_a_list_is_a_400(raw, openapi):
    upload = raw.post(
        "/uploads",
        json={"bytes": 0, "filename": "a.jsonl", "mime_type": "text/jsonl", "purpose": "fine-tune"},
    )
    assert upload.status_code == 200, upload.text
    upload_id = upload.json()["id"]
    error = error_of(
        raw.post(f"/uploads/{upload_id}/complete", json={"part_ids": "part_x"}), 400, openapi
    )
    assert error["param"] == "part_ids"
    error = error_of(
        raw.post(f"/uploads/{upload_id}/complete", json={"part_ids": [1]}), 400, openapi
    )
    assert error["param"] == "part_ids[0]"


# -- the cap on the work one request may ask for ----------------------------------------------
def test_a_request_for_more_tokens_than_the_default_cap_is_a_400_saying_the_limit(raw, openapi):
    body = {"model": MODEL, "messages": USER, "n": 128, "max_completion_tokens": 32768}
    error = error_of(raw.post("/chat/completions", json=body), 400, openapi)
    assert error["param"] == "max_completion_tokens" and error["code"] == "too_many_tokens"
    assert "4,194,304" in error["message"] and "32,768" in error["message"]
    assert "--max-request-tokens" in error["message"]
    legacy = {"model": LEGACY, "prompt": ["a"] * 20, "max_tokens": 2000}
    error = error_of(raw.post("/completions", json=legacy), 400, openapi)
    assert "40,000" in error["message"] and "--max-request-tokens" in error["message"]


def test_the_token_cap_is_set_by_max_request_tokens_and_counts_n_prompts_and_best_of(
    make_server, tmp_path, openapi
):
    server = make_server(tmp_path / "home", "--max-request-tokens", "12").start()
    try:
        with raw_client(server) as raw:
            at_limit = {"model": MODEL, "messages": USER, "n": 3, "max_completion_tokens": 4}
            assert raw.post("/chat/completions", json=at_limit).status_code == 200
            over = {**at_limit, "max_completion_tokens": 5}
            error = error_of(raw.post("/chat/completions", json=over), 400, openapi)
            assert "15" in error["message"] and "allows 12" in error["message"]
            # no max_tokens: the endpoint's default (256 for chat) is what may be generated
            error = error_of(
                raw.post("/chat/completions", json={"model": MODEL, "messages": USER}), 400, openapi
            )
            assert "256" in error["message"]
            legacy = {"model": LEGACY, "prompt": ["a", "b"], "n": 2, "max_tokens": 3}
            assert raw.post("/completions", json=legacy).status_code == 200
            error = error_of(
                raw.post("/completions", json={**legacy, "prompt": ["a", "b", "c"]}), 400, openapi
            )
            assert "18" in error["message"]
            best = {"model": LEGACY, "prompt": "a", "best_of": 5, "max_tokens": 3}
            error = error_of(raw.post("/completions", json=best), 400, openapi)
            assert "best_of 5" in error["message"]
    finally:
        server.stop()


def test_max_request_tokens_below_one_is_refused_before_the_server_starts(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fttui",
            "serve",
            "--max-request-tokens",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
            "--executor",
            "sim",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--max-request-tokens must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr


# -- the served OpenAPI document ----------------------------------------------------------------
def test_the_openapi_document_is_served_behind_the_key(shared_sim_server, raw, openapi):
    import httpx2

    root = shared_sim_server.base_url.removesuffix("/v1")
    anonymous = httpx2.get(f"{root}/openapi.json")
    assert anonymous.status_code == 401
    openapi.check(anonymous.json(), "ErrorResponse")
    response = raw.get(f"{root}/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


def test_the_openapi_document_describes_every_route_and_the_typed_bodies(raw, shared_sim_server):
    root = shared_sim_server.base_url.removesuffix("/v1")
    doc = raw.get(f"{root}/openapi.json").json()
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for expected in [
        ("POST", "/v1/files"),
        ("GET", "/v1/files"),
        ("GET", "/v1/files/{file_id}/content"),
        ("POST", "/v1/uploads"),
        ("POST", "/v1/uploads/{upload_id}/complete"),
        ("POST", "/v1/fine_tuning/jobs"),
        ("GET", "/v1/fine_tuning/jobs/{job_id}/events"),
        ("POST", "/v1/fine_tuning/jobs/{job_id}/pause"),
        ("GET", "/v1/fine_tuning/jobs/{job_id}/logs"),  # our extension: the raw log
        ("DELETE", "/v1/models/{model}"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("GET", "/health"),
    ]:
        assert expected in operations
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for op in ops.values():
            ref = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
                .get("$ref")
            )
            if ref:
                assert ref.rsplit("/", 1)[-1] in schemas, (path, ref)
            assert "422" not in op["responses"]  # a bad request is a 400 here
    chat = schemas["ChatCompletionRequest"]
    assert set(chat["required"]) == {"model", "messages"}
    penalty = chat["properties"]["presence_penalty"]["anyOf"][0]
    assert (penalty["minimum"], penalty["maximum"]) == (-2, 2)
    job = doc["paths"]["/v1/fine_tuning/jobs"]["post"]["requestBody"]["content"]
    assert job["application/json"]["schema"]["$ref"].endswith("/FineTuningJobRequest")
    assert "Integration" in schemas and schemas["Integration"]["required"] == ["type", "wandb"]
    limit = next(p for p in doc["paths"]["/v1/files"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 10_000
