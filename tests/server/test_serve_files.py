"""Files and the Uploads API of `fttui serve`, through the real openai SDK."""

from __future__ import annotations

import hashlib
import io

import openai
import pytest


def test_file_lifecycle(shared_client, chat_jsonl, openapi):
    data = chat_jsonl.read_bytes()
    created = shared_client.files.create(file=("train.jsonl", data), purpose="fine-tune")
    openapi.check(created, "OpenAIFile")
    assert (created.filename, created.bytes, created.purpose, created.status) == (
        "train.jsonl",
        len(data),
        "fine-tune",
        "processed",
    )
    assert created.id.startswith("file-")

    got = shared_client.files.retrieve(created.id)
    assert got == created
    assert shared_client.files.content(created.id).read() == data

    other = shared_client.files.create(
        file=("b.jsonl", b'{"prompt": "a", "completion": " b"}\n'), purpose="batch"
    )
    page = shared_client.files.list(limit=1)
    openapi.check(page, "ListFilesResponse")
    assert [f.id for f in page.data] == [other.id]  # newest first
    assert page.has_more and page.first_id == page.last_id == other.id
    ids = [f.id for f in shared_client.files.list(limit=1)]
    assert ids.index(other.id) < ids.index(created.id)
    assert ids == [f.id for f in shared_client.files.list()]
    assert other.id not in [f.id for f in shared_client.files.list(purpose="fine-tune")]
    oldest_first = [f.id for f in shared_client.files.list(order="asc")]
    assert oldest_first == ids[::-1]

    deleted = shared_client.files.delete(other.id)
    openapi.check(deleted, "DeleteFileResponse")
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        shared_client.files.retrieve(other.id)
    with pytest.raises(openai.NotFoundError):
        shared_client.files.content(other.id)


def test_client_filename_is_only_a_label(shared_sim_server, shared_client):
    created = shared_client.files.create(file=("../../escape.jsonl", b"{}\n"), purpose="fine-tune")
    assert created.filename == "escape.jsonl"
    windows = shared_client.files.create(file=("..\\..\\win.jsonl", b"{}\n"), purpose="fine-tune")
    assert windows.filename == "win.jsonl"
    files_dir = shared_sim_server.data_dir / "files"
    assert (files_dir / created.id).read_bytes() == b"{}\n"
    assert not list(shared_sim_server.data_dir.parent.glob("escape*"))


def test_bad_purpose_and_missing_file(shared_sim_server, shared_client):
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.files.create(file=("x.jsonl", b"{}\n"), purpose="nonsense")  # type: ignore[arg-type]
    assert err.value.body["param"] == "purpose"
    import httpx2

    resp = httpx2.post(
        f"{shared_sim_server.base_url}/files",
        data={"purpose": "fine-tune"},
        files={"other": ("x", b"1")},
        headers={"Authorization": f"Bearer {shared_sim_server.api_key}"},
    )
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "file"


def test_uploads_in_parts(shared_client, openapi):
    data = b"".join(b'{"prompt": "%d ->", "completion": " x END"}\n' % i for i in range(3000))
    upload = shared_client.uploads.create(
        bytes=len(data), filename="big.jsonl", mime_type="application/jsonl", purpose="fine-tune"
    )
    openapi.check(upload, "Upload")
    assert upload.status == "pending"
    half = len(data) // 2
    second = shared_client.uploads.parts.create(upload.id, data=data[half:])
    first = shared_client.uploads.parts.create(upload.id, data=data[:half])
    openapi.check(first, "UploadPart")
    done = shared_client.uploads.complete(
        upload.id, part_ids=[first.id, second.id], md5=hashlib.md5(data).hexdigest()
    )
    openapi.check(done, "Upload")
    assert done.status == "completed" and done.file is not None
    assert done.file.bytes == len(data)
    assert shared_client.files.content(done.file.id).read() == data
    with pytest.raises(openai.BadRequestError):  # completed: no more parts
        shared_client.uploads.parts.create(upload.id, data=b"more")


def test_upload_helper_and_upload_errors(shared_client, tmp_path, openapi):
    path = tmp_path / "chunked.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 5000)
    upload = shared_client.uploads.upload_file_chunked(
        file=path, mime_type="application/jsonl", purpose="fine-tune", part_size=10_000
    )
    assert shared_client.files.content(upload.file.id).read() == path.read_bytes()

    short = shared_client.uploads.create(
        bytes=10, filename="s.jsonl", mime_type="text/plain", purpose="fine-tune"
    )
    part = shared_client.uploads.parts.create(short.id, data=b"12345")
    with pytest.raises(openai.BadRequestError):  # 5 bytes of the 10 announced
        shared_client.uploads.complete(short.id, part_ids=[part.id])
    more = shared_client.uploads.parts.create(short.id, data=b"67890")
    with pytest.raises(openai.BadRequestError):
        shared_client.uploads.complete(short.id, part_ids=[part.id, more.id], md5="0" * 32)
    cancelled = shared_client.uploads.cancel(short.id)
    openapi.check(cancelled, "Upload")
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        shared_client.uploads.complete(short.id, part_ids=[part.id, more.id])
    with pytest.raises(openai.NotFoundError):
        shared_client.uploads.cancel("upload_nope")


def test_upload_size_limit(tmp_path, make_server):
    server = make_server(tmp_path, "--max-upload-mb", "0.01").start()
    try:
        client = server.client()
        small = client.files.create(file=("ok.jsonl", b"x" * 5000), purpose="fine-tune")
        assert small.bytes == 5000
        with pytest.raises(openai.APIStatusError) as err:
            client.files.create(file=("big.jsonl", io.BytesIO(b"x" * 200_000)), purpose="fine-tune")
        assert err.value.status_code == 413
        assert err.value.body["code"] == "file_too_large"
        assert [f.id for f in client.files.list()] == [small.id]
        assert not [p for p in (server.data_dir / "files").iterdir() if p.name != small.id]
    finally:
        server.stop()


def test_list_and_delete_as_you_go_reaches_every_file(sim_server):
    """`for f in client.files.list(limit=2): client.files.delete(f.id)` pages with
    after=<the last id of a page>, a file deleted by then: the server answered an empty page
    and the loop stopped part way, leaving files behind."""
    client = sim_server.client()
    made = {
        client.files.create(
            file=(f"f{i}.jsonl", io.BytesIO(b'{"prompt": "a", "completion": "b"}\n')),
            purpose="fine-tune",
        ).id
        for i in range(7)
    }
    deleted = [f.id for f in client.files.list(limit=2) if client.files.delete(f.id).deleted]
    assert set(deleted) == made and len(deleted) == len(made)
    assert client.files.list().data == []
