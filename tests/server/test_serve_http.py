"""HTTP-level hardening of `fttui serve` (issue 10): bad input the SDK can't express is sent
raw (httpx2, sockets) to a real server process on loopback; every answer is checked."""

from __future__ import annotations

import json

import pytest

MODEL = "gpt-4o-mini-2024-07-18"
USER = [{"role": "user", "content": "What is the capital of France?"}]


def error_of(response, status: int, openapi) -> dict:
    """The ``error`` object of ``response``, asserted to be ``status`` in OpenAI's shape."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    openapi.check(body, "ErrorResponse")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture(scope="module")
def raw(shared_sim_server):
    """A raw HTTP client with the key, on the shared server."""
    import httpx2

    with httpx2.Client(
        base_url=shared_sim_server.base_url,
        headers={"Authorization": f"Bearer {shared_sim_server.api_key}"},
        timeout=60,
    ) as client:
        yield client


@pytest.mark.parametrize("role", [{"a": 1}, ["user"], 5, None])
def test_a_chat_role_that_is_an_object_or_a_list_is_a_400_not_a_500(raw, openapi, role):
    messages = [{"role": role, "content": "hi"}]
    error = error_of(
        raw.post("/chat/completions", json={"model": MODEL, "messages": messages}), 400, openapi
    )
    assert error["param"].startswith("messages[0]")
    assert "unhashable" not in error["message"]


def test_a_training_file_whose_role_is_an_object_fails_the_job_with_the_finding(
    shared_client, wait_job
):
    lines = [
        {
            "messages": [
                {"role": {"a": 1} if i == 3 else "user", "content": f"q{i}"},
                {"role": ["assistant"] if i == 5 else "assistant", "content": "a"},
            ]
        }
        for i in range(12)
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    upload = shared_client.files.create(file=("roles.jsonl", data), purpose="fine-tune")
    job = shared_client.fine_tuning.jobs.create(model=MODEL, training_file=upload.id)
    job = wait_job(shared_client, job.id)
    assert job.status == "failed"
    assert job.error.code == "invalid_training_file"
    assert "line 4" in job.error.message and "unrecognized_role" in job.error.message
