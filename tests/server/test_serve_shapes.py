"""Every response of `fttui serve` checked as raw JSON against OpenAI's OpenAPI files, and
parsed by the real openai SDK: empty lists, list pages, paused/running jobs and errors."""

from __future__ import annotations

import openai
import pytest

MODEL = "gpt-4o-mini-2024-07-18"


def test_empty_lists_match_the_spec(shared_client, train_file, openapi):
    files = shared_client.files.with_raw_response.list(purpose="evals")
    body = files.http_response.json()
    openapi.check(body, "ListFilesResponse")  # first_id/last_id: required strings
    assert body["data"] == [] and body["has_more"] is False
    assert body["first_id"] == body["last_id"] == ""
    assert list(files.parse()) == []

    jobs = shared_client.fine_tuning.jobs.with_raw_response.list(metadata={"no": "such"})
    openapi.check(jobs.http_response.json(), "ListPaginatedFineTuningJobsResponse")
    assert list(jobs.parse()) == []

    job = shared_client.fine_tuning.jobs.create(  # slow: no checkpoint before it is cancelled
        model=MODEL, training_file=train_file.id, metadata={"sim_seconds_per_step": "1"}
    )
    try:
        ckpts = shared_client.fine_tuning.jobs.checkpoints.with_raw_response.list(job.id)
        body = ckpts.http_response.json()
        openapi.check(body, "ListFineTuningJobCheckpointsResponse")  # string or null here
        assert body["data"] == [] and body["first_id"] is None and body["last_id"] is None
        assert list(ckpts.parse()) == []
        events = shared_client.fine_tuning.jobs.with_raw_response.list_events(
            job.id, after="ftevent-unknown"
        )
        openapi.check(events.http_response.json(), "ListFineTuningJobEventsResponse")
        assert list(events.parse()) == []
    finally:
        shared_client.fine_tuning.jobs.cancel(job.id)


def test_pages_and_job_states_match_the_spec(
    shared_client, finished_job, train_file, wait_job, openapi
):
    events = shared_client.fine_tuning.jobs.with_raw_response.list_events(
        finished_job.id, limit=100
    )
    body = events.http_response.json()
    openapi.check(body, "ListFineTuningJobEventsResponse")
    assert body["has_more"] and {e["type"] for e in body["data"]} == {"message", "metrics"}
    ckpts = shared_client.fine_tuning.jobs.checkpoints.with_raw_response.list(
        finished_job.id, limit=2
    )
    body = ckpts.http_response.json()
    openapi.check(body, "ListFineTuningJobCheckpointsResponse")
    assert body["has_more"] and body["first_id"] == body["data"][0]["id"]
    assert body["last_id"] == body["data"][-1]["id"]
    files = shared_client.files.with_raw_response.list(limit=2)
    openapi.check(files.http_response.json(), "ListFilesResponse")
    checkpoint = ckpts.parse().data[0].fine_tuned_model_checkpoint
    openapi.check(
        shared_client.models.with_raw_response.retrieve(checkpoint).http_response.json(), "Model"
    )

    job = shared_client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train_file.id,
        seed=7,
        suffix="shapes",
        metadata={"sim_seconds_per_step": "0.2"},  # time to pause it
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "n_epochs": 2,
                    "batch_size": "auto",
                    "learning_rate_multiplier": 0.3,
                }
            },
        },
    )
    openapi.check(job, "FineTuningJob")
    assert (job.status, job.seed, job.fine_tuned_model) == ("validating_files", 7, None)
    running = wait_job(
        shared_client, job.id, {"running"}, check=lambda j: j.estimated_finish is not None
    )
    openapi.check(
        shared_client.fine_tuning.jobs.with_raw_response.retrieve(job.id).http_response.json(),
        "FineTuningJob",
    )
    assert running.estimated_finish >= running.created_at
    for call, status in (
        (shared_client.fine_tuning.jobs.with_raw_response.pause, "paused"),
        (shared_client.fine_tuning.jobs.with_raw_response.resume, "running"),
        (shared_client.fine_tuning.jobs.with_raw_response.cancel, "cancelled"),
    ):
        body = call(job.id).http_response.json()
        assert body["status"] == status
        # the spec has the pause endpoint but left "paused" out of the status enum (so does
        # the SDK's Literal, which it does not enforce); everything else must match
        openapi.check(
            {**body, "status": "running"} if status == "paused" else body, "FineTuningJob"
        )


def test_errors_match_the_spec(shared_sim_server, shared_client, finished_job, openapi):
    import httpx2

    url = shared_sim_server.base_url
    key = {"Authorization": f"Bearer {shared_sim_server.api_key}"}
    answers = [
        (httpx2.get(f"{url}/files"), 401),
        (httpx2.get(f"{url}/files", headers={"Authorization": "Bearer sk-wrong"}), 401),
        (httpx2.get(f"{url}/nothing/here", headers=key), 404),
        (httpx2.get(f"{url}/files/file-nope", headers=key), 404),
        (httpx2.post(f"{url}/fine_tuning/jobs", headers=key, content=b"{not json"), 400),
        (httpx2.post(f"{url}/fine_tuning/jobs", headers=key, json=[1]), 400),
        (httpx2.get(f"{url}/fine_tuning/jobs?limit=0", headers=key), 400),
        (httpx2.get(f"{url}/fine_tuning/jobs?limit=abc", headers=key), 400),
        (
            httpx2.post(
                f"{url}/chat/completions", headers=key, json={"model": MODEL, "messages": "hi"}
            ),
            400,
        ),
        (httpx2.post(f"{url}/files", headers=key, content=b"x"), 400),
        (httpx2.post(f"{url}/fine_tuning/jobs/{finished_job.id}/cancel", headers=key), 400),
    ]
    for response, status in answers:
        assert response.status_code == status, (response.request.url, response.text)
        body = response.json()
        openapi.check(body, "ErrorResponse")
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["message"]
    with pytest.raises(openai.BadRequestError) as err:  # a finished job cannot be cancelled
        shared_client.fine_tuning.jobs.cancel(finished_job.id)
    assert err.value.body["code"] == "job_not_cancellable"
