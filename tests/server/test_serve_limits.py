"""Limits and error paths of `fttui serve` (issue 10): file expiry, what a 500 says and does,
body caps however a body is sent, bounded error messages, a full disk during an upload, 405.

A real server process on loopback; what the SDK cannot send is sent raw (httpx2, sockets).
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
from pathlib import Path

import openai
import pytest

from support.live_server import error_of, expire_row, wait_for

MODEL = "gpt-4o-mini-2024-07-18"
CRASH_PATH = "/v1/models"  #: FTTUI_FAULT_CRASH: a request here raises inside the app
HOUR = {"anchor": "created_at", "seconds": 3600}


def stored(data_dir: Path) -> set[str]:
    """Every name in the files folder, partial uploads included."""
    return {p.name for p in (data_dir / "files").iterdir()}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server that sweeps every 0.2 s, with the disk-full and crash hooks armed."""
    from support.live_server import make_server

    home = tmp_path_factory.mktemp("limits")
    server = make_server(home)
    server.env["FTTUI_SWEEP_INTERVAL"] = "0.2"
    server.env["FTTUI_FAULT_ENOSPC"] = str(home / "disk-is-full")
    server.env["FTTUI_FAULT_CRASH"] = CRASH_PATH
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def raw(server):
    with server.raw() as client:
        yield client


# -- expires_after ------------------------------------------------------------------------

BAD_POLICIES = [
    ({"anchor": "created_at", "seconds": "1" + "0" * 23}, "seconds"),  # before: a 500
    ({"anchor": "created_at", "seconds": "-5"}, "seconds"),
    ({"anchor": "created_at", "seconds": "0"}, "seconds"),
    ({"anchor": "created_at", "seconds": "3599"}, "seconds"),
    ({"anchor": "created_at", "seconds": "2592001"}, "seconds"),
    ({"anchor": "created_at", "seconds": "soon"}, "seconds"),
    ({"anchor": "created_at", "seconds": "+-3600"}, "seconds"),
    ({"anchor": "created_at", "seconds": "3600²"}, "seconds"),
    ({"anchor": "created_at"}, "seconds"),
    ({"anchor": "last_active_at", "seconds": "3600"}, "anchor"),
    ({"seconds": "3600"}, "anchor"),
]


@pytest.mark.parametrize(("policy", "key"), BAD_POLICIES)
def test_an_expires_after_out_of_range_or_with_a_bogus_anchor_is_a_400_naming_it_and_stores_nothing(
    server, raw, openapi, policy, key
):
    before = stored(server.data_dir)
    form = {"purpose": "fine-tune", **{f"expires_after[{k}]": v for k, v in policy.items()}}
    answer = raw.post("/files", data=form, files={"file": ("a.jsonl", b"{}\n")})
    error = error_of(answer, 400, openapi)
    assert error["param"] == f"expires_after[{key}]", error
    assert stored(server.data_dir) == before  # no orphan file, no partial one

    as_json = {k: int(v) if re.fullmatch(r"-?[0-9]+", v) else v for k, v in policy.items()}
    body = {"bytes": 3, "filename": "a.jsonl", "mime_type": "text/jsonl", "purpose": "fine-tune"}
    answer = raw.post("/uploads", json={**body, "expires_after": as_json})
    if answer.status_code == 400 and "JSON" in answer.json()["error"]["message"]:
        return  # 10^23 is no 64-bit integer: the JSON body itself is refused
    error = error_of(answer, 400, openapi)
    assert error["param"] == f"expires_after.{key}", error


def test_a_file_past_its_expires_at_is_gone_from_reads_lists_and_disk_and_swept_at_startup(
    tmp_path, make_server, openapi
):
    server = make_server(tmp_path)
    server.env["FTTUI_SWEEP_INTERVAL"] = "0.2"
    server.start()
    try:
        client = server.client()
        kept = client.files.create(file=("kept.jsonl", b"{}\n"), purpose="fine-tune")
        doomed = client.files.create(
            file=("doomed.jsonl", b"{}\n"), purpose="fine-tune", expires_after=HOUR
        )
        openapi.check(doomed, "OpenAIFile")
        assert doomed.expires_at == doomed.created_at + 3600
        assert client.files.retrieve(doomed.id).expires_at == doomed.expires_at
        upload = client.uploads.create(
            bytes=3,
            filename="up.jsonl",
            mime_type="text/jsonl",
            purpose="fine-tune",
            expires_after={"anchor": "created_at", "seconds": 7200},
        )
        assert "_file_expires_after" not in upload.model_dump()
        part = client.uploads.parts.create(upload_id=upload.id, data=b"{}\n")
        done = client.uploads.complete(upload_id=upload.id, part_ids=[part.id])
        openapi.check(done, "Upload")
        later = done.file
        assert later.expires_at == later.created_at + 7200

        expire_row(server.data_dir, "files", doomed.id)  # an hour later
        with pytest.raises(openai.NotFoundError):  # at once, before any sweep
            client.files.retrieve(doomed.id)
        with pytest.raises(openai.NotFoundError):
            client.files.content(doomed.id)
        wait_for(lambda: doomed.id not in stored(server.data_dir), what="the sweep")
        assert doomed.id not in [f.id for f in client.files.list()]
        assert not (server.data_dir / "file-meta" / f"{doomed.id}.json").exists()
        assert kept.id in stored(server.data_dir)

        server.stop()  # it expires while the server is down
        expire_row(server.data_dir, "files", later.id)
        del server.env["FTTUI_SWEEP_INTERVAL"]  # a minute: only the startup sweep is in time
        server.start()
        assert later.id not in stored(server.data_dir)
        assert [f.id for f in server.client().files.list()] == [kept.id]
    finally:
        server.stop()


# -- 500 ----------------------------------------------------------------------------------


def test_a_500_closes_the_connection_and_says_only_an_error_id_that_the_log_has_with_the_traceback(
    server, openapi
):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    conn.request("GET", CRASH_PATH, headers=headers)
    answer = conn.getresponse()
    body = json.loads(answer.read())
    assert answer.status == 500
    assert answer.getheader("connection") == "close"  # before: the connection was reset
    openapi.check(body, "ErrorResponse")
    message = body["error"]["message"]
    assert "/" not in message and "Errno" not in message and "OSError" not in message, message
    error_id = re.search(r"err_[0-9a-f]{12}", message).group()
    conn.close()
    log = server.log()
    assert f"internal error {error_id} on GET {CRASH_PATH}" in log
    assert "Traceback" in log.split(error_id, 1)[1]

    client = server.client()  # the SDK's next request, on a new connection, is answered
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    assert client.files.list().object == "list"


# -- body caps ----------------------------------------------------------------------------


def vm(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` figure in bytes (VmHWM: the peak resident set)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) * 1024


def test_a_chunked_json_body_past_32_mb_is_a_413_as_soon_as_the_cap_is_passed_and_never_held(
    tmp_path, make_server, openapi
):
    server = make_server(tmp_path).start()
    try:
        peak_before = vm(server.proc.pid, "VmHWM")
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {server.api_key}\r\n".encode()
            + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * (1024 * 1024)
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        sent, answered_at = 0, None
        while sent < 200 and answered_at is None:  # 200 MB, unless answered before
            sock.sendall(frame)
            sent += 1
            if select.select([sock], [], [], 0)[0]:
                answered_at = sent
        assert answered_at is not None and answered_at < 60, answered_at  # 32 MB + a little
        sock.settimeout(30)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < 100:
            more = sock.recv(65536)
            if not more:
                break
            reply += more
        sock.close()
        head, body = reply.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 413"), head
        error = json.loads(body[: body.rindex(b"}") + 1])
        openapi.check(error, "ErrorResponse")
        assert error["error"]["code"] == "request_too_large"
        grew = vm(server.proc.pid, "VmHWM") - peak_before
        assert grew < 80 * 1024 * 1024, grew  # before: +800 MB for 200 MB
    finally:
        server.stop()


def test_a_20_mb_model_name_is_a_small_error_that_shows_its_start(raw, openapi):
    name = "m" * (20 * 1024 * 1024)
    for path, body in [
        ("/chat/completions", {"model": name, "messages": [{"role": "user", "content": "hi"}]}),
        ("/fine_tuning/jobs", {"model": name, "training_file": "file-x"}),
    ]:
        answer = raw.post(path, json=body)
        assert 400 <= answer.status_code < 500
        error = error_of(answer, answer.status_code, openapi)
        assert len(answer.content) < 2000, len(answer.content)  # before: 20 MB
        assert "m" * 100 in error["message"] and "…" in error["message"]


def test_multipart_fields_past_1_mb_in_all_are_a_413_and_store_nothing(server, raw, openapi):
    before = stored(server.data_dir)
    fields = {f"field{i}": "v" * 60_000 for i in range(30)}  # each under 64 KB, 1.8 MB in all
    answer = raw.post(
        "/files", data={"purpose": "fine-tune", **fields}, files={"file": ("a.jsonl", b"{}\n")}
    )
    assert error_of(answer, 413, openapi)["code"] == "request_too_large"
    assert stored(server.data_dir) == before


def test_upload_parts_may_not_hold_more_than_the_upload_declared(server, openapi):
    client = server.client()
    upload = client.uploads.create(
        bytes=10, filename="a.jsonl", mime_type="text/jsonl", purpose="fine-tune"
    )
    first = client.uploads.parts.create(upload_id=upload.id, data=b"123456")
    for data in (b"12345", b"x" * (50 * 1024 * 1024)):  # 1 byte over; 50 MB over
        with pytest.raises(openai.BadRequestError) as err:
            client.uploads.parts.create(upload_id=upload.id, data=data)
        assert err.value.body["code"] == "upload_too_large"
        assert "10 bytes" in err.value.body["message"]
    folder = server.data_dir / "uploads" / upload.id
    assert [p.name for p in folder.iterdir()] == [first.id]  # nothing of the refused parts
    second = client.uploads.parts.create(upload_id=upload.id, data=b"7890")
    done = client.uploads.complete(upload_id=upload.id, part_ids=[first.id, second.id])
    assert client.files.content(done.file.id).read() == b"1234567890"


def test_a_full_disk_during_an_upload_a_part_or_its_completion_is_a_507_and_leaves_no_partial_file(
    server, openapi
):
    flag = Path(server.env["FTTUI_FAULT_ENOSPC"])
    client = server.client()
    upload = client.uploads.create(
        bytes=6, filename="a.jsonl", mime_type="text/jsonl", purpose="fine-tune"
    )
    first = client.uploads.parts.create(upload_id=upload.id, data=b"{}\n")
    before = stored(server.data_dir)
    flag.touch()
    try:
        with pytest.raises(openai.APIStatusError) as err:
            client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune")
        assert err.value.status_code == 507  # before: 400 "Malformed multipart body: [Errno 28]"
        openapi.check({"error": err.value.body}, "ErrorResponse")
        assert err.value.body["code"] == "disk_full"
        with pytest.raises(openai.APIStatusError) as err:
            client.uploads.parts.create(upload_id=upload.id, data=b"{}\n")
        assert err.value.status_code == 507 and err.value.body["code"] == "disk_full"
        assert [p.name for p in (server.data_dir / "uploads" / upload.id).iterdir()] == [first.id]
    finally:
        flag.unlink()
    second = client.uploads.parts.create(upload_id=upload.id, data=b"{}\n")  # space again
    flag.touch()
    try:
        with pytest.raises(openai.APIStatusError) as err:
            client.uploads.complete(upload_id=upload.id, part_ids=[first.id, second.id])
        assert err.value.status_code == 507 and err.value.body["code"] == "disk_full"
    finally:
        flag.unlink()
    assert stored(server.data_dir) == before  # no file, no partial one
    done = client.uploads.complete(upload_id=upload.id, part_ids=[first.id, second.id])
    assert client.files.content(done.file.id).read() == b"{}\n{}\n"


# -- 405 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/files", {"GET", "POST"}),
        ("DELETE", "/fine_tuning/jobs", {"GET", "POST"}),
        ("POST", "/files/file-abc", {"GET", "DELETE"}),
    ],
)
def test_a_405_names_the_allowed_methods_and_is_in_the_error_shape(
    raw, openapi, method, path, allowed
):
    answer = raw.request(method, path)
    error_of(answer, 405, openapi)
    assert allowed <= {m.strip() for m in answer.headers["allow"].split(",")}
    assert method not in answer.headers["allow"]
