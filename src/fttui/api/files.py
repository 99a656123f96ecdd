"""Files: list, upload (Files API, or the Uploads API in parts for big files), wait for
processing, download, delete."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, overload

from fttui.api.errors import ApiError, friendly, retry_call, sleep_interruptibly
from fttui.api.paging import iter_pages, read_call

#: Attempts per upload request (a repeated upload or part is harmless: only the file id
#: we get back, or the part ids we complete with, are used).
UPLOAD_ATTEMPTS = 4

#: Largest file sent in one Files API request; above it the Uploads API is used.
SINGLE_UPLOAD_LIMIT = 512 * 1024 * 1024
#: Uploads API part size (the API takes parts up to 64 MB).
PART_SIZE = 64 * 1024 * 1024

Progress = Callable[[int, int], None]


def iter_files(client: Any, *, purpose: str | None = None, page_size: int = 100) -> Iterator[Any]:
    """Every file, paginated (one pass)."""

    def fetch(after: str | None) -> Any:
        kwargs: dict[str, Any] = {"limit": page_size}
        if purpose:
            kwargs["purpose"] = purpose
        if after:
            kwargs["after"] = after
        return client.files.list(**kwargs)

    yield from iter_pages(fetch)


def get_file(client: Any, file_id: str) -> Any:
    return read_call(lambda: client.files.retrieve(file_id))


def delete_file(client: Any, file_id: str) -> bool:
    try:
        return bool(client.files.delete(file_id).deleted)
    except Exception as exc:
        raise friendly(exc) from None


_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")


def _maybe_base64(data: bytes) -> bytes:
    """Decode ``data`` when the whole body is base64 of UTF-8 text (some providers send
    result files that way); anything else is returned unchanged."""
    compact = b"".join(data.split())
    if len(compact) < 8 or len(compact) % 4 or not _B64_CHARS.issuperset(compact[:4096]):
        return data
    if not _B64_CHARS.issuperset(compact):
        return data
    try:
        decoded = base64.b64decode(compact.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
        decoded.decode("utf-8")
    except (binascii.Error, ValueError):
        return data
    if not any(mark in decoded for mark in (b",", b"\n", b"{")):
        return data
    return decoded


def read_file_content(client: Any, file_id: str) -> bytes:
    """The file's bytes; a base64-encoded body is detected and decoded."""

    def fetch() -> bytes:
        resp = client.files.content(file_id)
        return resp.read() if hasattr(resp, "read") else bytes(resp.content)

    return _maybe_base64(read_call(fetch))


def read_file_head(client: Any, file_id: str, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of the file and whether that is all of it, streamed: a
    large training file is not downloaded whole to look at its first examples."""

    def fetch() -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        with client.files.with_streaming_response.content(file_id) as resp:
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break
        data = b"".join(chunks)
        return data[:limit], size <= limit

    head: tuple[bytes, bool] = read_call(fetch)
    return head


@overload
def download_file(client: Any, file_id: str, dest: None = None) -> bytes: ...
@overload
def download_file(client: Any, file_id: str, dest: Path) -> Path: ...
def download_file(client: Any, file_id: str, dest: Path | None = None) -> bytes | Path:
    """Download a file: its bytes, or written (atomically) to ``dest`` which is returned.

    ``dest`` may be a folder (the file keeps its provider-side name). A folder that does not
    exist or cannot be written is an ApiError("bad_request") raised before downloading,
    and a failed write leaves no partial file behind.
    """
    if dest is None:
        return read_file_content(client, file_id)
    dest = Path(dest)
    if dest.is_dir():
        name = Path(getattr(get_file(client, file_id), "filename", None) or file_id).name
        dest = dest / (name or file_id)
    if not dest.parent.is_dir():
        raise ApiError("bad_request", f"cannot write {dest}: no folder {dest.parent}")
    data = read_file_content(client, file_id)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ApiError("bad_request", f"cannot write {dest}: {exc.strerror or exc}") from None
    return dest


class _ProgressReader:
    """A binary file wrapper that reports bytes read; seek(0) (a retry) starts over."""

    def __init__(
        self,
        fh: BinaryIO,
        total: int,
        progress: Progress | None,
        should_stop: Callable[[], bool] | None,
        base: int = 0,
        grand_total: int | None = None,
    ):
        self._fh = fh
        self._total = total
        self._progress = progress
        self._should_stop = should_stop
        self._base = base
        self._grand = grand_total if grand_total is not None else total
        self._done = 0
        self.name = getattr(fh, "name", "upload")

    def read(self, n: int = -1) -> bytes:
        if self._should_stop is not None and self._should_stop():
            raise ApiError("cancelled", "upload stopped")
        chunk = self._fh.read(n)
        self._done += len(chunk)
        if self._progress is not None:
            self._progress(self._base + min(self._done, self._total), self._grand)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        pos = self._fh.seek(offset, whence)
        if whence == 0:
            self._done = pos
        return pos

    def tell(self) -> int:
        return self._fh.tell()

    def fileno(self) -> int:
        return self._fh.fileno()


class _SliceReader(_ProgressReader):
    """Reads ``length`` bytes of ``fh`` from ``start`` (one Uploads API part)."""

    def __init__(
        self,
        fh: BinaryIO,
        start: int,
        length: int,
        *,
        progress: Progress | None,
        should_stop: Callable[[], bool] | None,
        base: int,
        grand_total: int,
    ):
        super().__init__(fh, length, progress, should_stop, base=base, grand_total=grand_total)
        self._start = start
        self._len = length
        self._pos = 0
        fh.seek(start)

    def read(self, n: int = -1) -> bytes:
        left = self._len - self._pos
        if left <= 0:
            return b""
        n = left if n is None or n < 0 else min(n, left)
        if self._should_stop is not None and self._should_stop():
            raise ApiError("cancelled", "upload stopped")
        self._fh.seek(self._start + self._pos)
        chunk = self._fh.read(n)
        self._pos += len(chunk)
        if self._progress is not None:
            self._progress(self._base + self._pos, self._grand)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = self._len + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def fileno(self) -> int:  # no fd length: the slice is shorter than the file
        raise OSError("slice")


def _mime(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".jsonl": "application/jsonl", ".json": "application/json", ".csv": "text/csv"}.get(
        suffix, "application/octet-stream"
    )


def upload_file(
    client: Any,
    path: str | Path,
    *,
    purpose: str = "fine-tune",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    single_limit: int = SINGLE_UPLOAD_LIMIT,
    part_size: int = PART_SIZE,
) -> Any:
    """Upload ``path``; ``progress(bytes_sent, total)``. Returns the FileObject."""
    path = Path(path)
    try:
        total = path.stat().st_size
    except OSError as exc:
        raise friendly(exc) from None
    if progress is not None:
        progress(0, total)
    try:
        with path.open("rb") as fh:
            if total <= single_limit:
                reader = _ProgressReader(fh, total, progress, should_stop)
                return retry_call(
                    lambda: client.files.create(
                        file=(path.name, reader, _mime(path)), purpose=purpose
                    ),
                    attempts=UPLOAD_ATTEMPTS,
                    should_stop=should_stop,
                )
            return _upload_parts(
                client,
                path,
                fh,
                total,
                purpose=purpose,
                progress=progress,
                should_stop=should_stop,
                part_size=part_size,
            )
    except ApiError:
        raise
    except Exception as exc:
        raise friendly(exc) from None


def _upload_parts(
    client: Any,
    path: Path,
    fh: Any,
    total: int,
    *,
    purpose: str,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
    part_size: int,
) -> Any:
    upload = retry_call(
        lambda: client.uploads.create(
            bytes=total, filename=path.name, mime_type=_mime(path), purpose=purpose
        ),
        attempts=UPLOAD_ATTEMPTS,
        should_stop=should_stop,
    )
    part_ids: list[str] = []
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        offset = 0
        while offset < total:
            length = min(part_size, total - offset)
            reader = _SliceReader(
                fh,
                offset,
                length,
                progress=progress,
                should_stop=should_stop,
                base=offset,
                grand_total=total,
            )
            part = retry_call(
                partial(client.uploads.parts.create, upload.id, data=(f"{path.name}.part", reader)),
                attempts=UPLOAD_ATTEMPTS,
                should_stop=should_stop,
            )
            part_ids.append(part.id)
            fh.seek(offset)
            left = length
            while left:
                chunk = fh.read(min(left, 1 << 20))
                if not chunk:
                    break
                md5.update(chunk)
                left -= len(chunk)
            offset += length
        done = retry_call(
            lambda: client.uploads.complete(upload.id, part_ids=part_ids, md5=md5.hexdigest()),
            attempts=UPLOAD_ATTEMPTS,
            should_stop=should_stop,
        )
    except BaseException:
        try:
            client.uploads.cancel(upload.id)
        except Exception:
            pass
        raise
    file = getattr(done, "file", None)
    if file is None:
        raise ApiError("provider", f"upload {upload.id} completed without a file")
    return file


def wait_processed(
    client: Any,
    file_id: str,
    *,
    timeout: float = 600.0,
    should_stop: Callable[[], bool] | None = None,
    poll_interval: float = 0.5,
) -> Any:
    """Poll a file until its status is ``processed``; errors raise ApiError."""
    deadline = time.monotonic() + timeout
    delay = min(0.1, poll_interval)
    while True:
        f = get_file(client, file_id)
        status = getattr(f, "status", None) or "processed"
        if status == "processed":
            return f
        if status in ("error", "failed", "deleted"):
            details = getattr(f, "status_details", None) or "no details"
            raise ApiError("bad_request", f"file {file_id} could not be processed: {details}")
        if time.monotonic() > deadline:
            raise ApiError("timeout", f"file {file_id} still {status} after {timeout:g}s")
        if sleep_interruptibly(delay, should_stop):
            raise ApiError("cancelled", "stopped while waiting for file processing")
        delay = min(poll_interval, delay * 2)
