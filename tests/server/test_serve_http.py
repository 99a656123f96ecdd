"""HTTP-level hardening of `fttui serve` (issue 10): bad input the SDK can't express is sent
raw (httpx2, sockets) to a real server process on loopback; every answer is checked."""

from __future__ import annotations

import json

import pytest

from support.live_server import error_of

MODEL = "gpt-4o-mini-2024-07-18"
USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def raw(shared_sim_server):
    """A raw HTTP client with the key, on the shared server."""
    with shared_sim_server.raw() as client:
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


def _get_content(raw, file_id: str, start, answers: list) -> None:
    import httpx2

    start.wait()
    try:
        with raw.stream("GET", f"/files/{file_id}/content") as resp:
            answers.append((resp.status_code, resp.headers, resp.read()))
    except httpx2.HTTPError as exc:  # a body cut short is a broken response too
        answers.append((0, {}, repr(exc).encode()))


def _delete_file(raw, file_id: str, start) -> None:
    start.wait()
    raw.delete(f"/files/{file_id}")


def test_a_content_get_racing_a_delete_is_whole_or_a_404_never_a_500_or_cut_short(
    shared_sim_server, raw, openapi
):
    """The content GET stat'ed the path, then opened it again to send it: a DELETE in
    between gave a 500 naming the server's path, or a body short of its Content-Length."""
    import threading

    data = bytes(range(256)) * 8 * 1024  # 2 MB: long enough to be mid-send when deleted
    answers = []
    for _ in range(60):
        file_id = raw.post(
            "/files", data={"purpose": "fine-tune"}, files={"file": ("r.bin", data)}
        ).json()["id"]
        start = threading.Barrier(3)
        threads = [
            threading.Thread(target=_get_content, args=(raw, file_id, start, answers)),
            threading.Thread(target=_get_content, args=(raw, file_id, start, answers)),
            threading.Thread(target=_delete_file, args=(raw, file_id, start)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(answers) == 120
    for status, headers, body in answers:
        assert status in (200, 404), (status, body[:300])
        if status == 200:
            assert int(headers["content-length"]) == len(body) == len(data) and body == data
        else:
            error = json.loads(body)["error"]
            assert error["code"] == "file_not_found"
            assert str(shared_sim_server.data_dir) not in error["message"]


def test_content_ranges_work_and_a_bad_range_is_a_json_error_416_with_content_range(raw, openapi):
    data = b"0123456789" * 100
    file_id = raw.post(
        "/files", data={"purpose": "fine-tune"}, files={"file": ("r.txt", data)}
    ).json()["id"]
    part = raw.get(f"/files/{file_id}/content", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    past = raw.get(f"/files/{file_id}/content", headers={"Range": "bytes=5000-6000"})
    assert error_of(past, 416, openapi)["code"] == "range_not_satisfiable"
    assert past.headers["content-range"] == f"bytes */{len(data)}"
    for bad in ("bytes", "lines=1-2", "bytes=x-y"):
        error = error_of(raw.get(f"/files/{file_id}/content", headers={"Range": bad}), 400, openapi)
        assert error["code"] == "invalid_range"
