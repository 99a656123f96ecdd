"""Files and the Uploads API: stored under ``<data_dir>/files/<file id>``.

Uploads are streamed to disk in chunks as they arrive (the multipart body is parsed
incrementally, never held in memory), and refused with 413 as soon as they pass the limit.
Paths are always built from ids the server generated; the client's filename is only a label.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable

from fttui.server.errors import ApiError, bad_request, clip, disk_full, is_disk_full, not_found
from fttui.server.index import meta_path, write_file_meta
from fttui.server.store import Store, dumps, loads, new_id

FILE_PURPOSES = ("fine-tune", "assistants", "batch", "vision", "user_data", "evals")
MAX_PART_BYTES = 64 * 1024 * 1024  #: Uploads API: each part at most 64 MB
MAX_UPLOAD_TOTAL = 8 * 1024**3  #: Uploads API: at most 8 GB in all
UPLOAD_TTL = 3600
UPLOAD_SWEEP_INTERVAL = 60.0  #: seconds between sweeps of abandoned uploads and expired files
#: the sweep interval in seconds, when set (the tests, which cannot wait a minute)
SWEEP_INTERVAL_ENV = "FTTUI_SWEEP_INTERVAL"
MAX_FORM_FIELD = 64 * 1024
#: all the non-file fields of a multipart body together (and every part's headers)
MAX_FORM_TOTAL = 1024 * 1024
#: ``expires_after.seconds``: from 1 hour to 30 days (the spec)
EXPIRY_RANGE = (3600, 2592000)


def too_large(what: str, limit: int) -> ApiError:
    return ApiError(
        413,
        f"{what} is larger than the limit of {limit / 1024 / 1024:g} MB.",
        code="file_too_large",
    )


class OpenFileResponse(FileResponse):
    """A ``FileResponse`` served from a file opened before the response starts.

    ``FileResponse`` stats the path, then opens it again to send it: a DELETE in between
    made a 500 naming the server's path, or a body cut short of its Content-Length. An
    open handle stays readable after the unlink (POSIX), so the bytes sent are the whole
    file the headers describe. A bad ``Range`` is answered in the error shape.
    """

    def __init__(self, handle: Any, filename: str) -> None:
        self.handle = handle
        st = os.fstat(handle.fileno())
        super().__init__(
            f"/dev/fd/{handle.fileno()}",  # never opened: _open_file uses the handle
            media_type="application/octet-stream",
            filename=filename,
            stat_result=st,
        )

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[Any]:
        yield anyio.wrap_file(self.handle)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            http_range = Headers(scope=scope).get("range")
            stat = self.stat_result  # always set: __init__ passes the open handle's
            if (
                http_range is not None
                and stat is not None
                and scope["method"].upper() in ("GET", "HEAD")
            ):
                try:
                    self._parse_range_header(http_range, stat.st_size)
                except MalformedRangeHeader as exc:
                    error = bad_request(
                        f"Invalid Range header: {exc.content}", code="invalid_range"
                    )
                    return await error.response()(scope, receive, send)
                except RangeNotSatisfiable as exc:
                    error = ApiError(
                        416,
                        f"The range is not satisfiable: the file has {exc.max_size} bytes.",
                        code="range_not_satisfiable",
                        headers={"Content-Range": f"bytes */{exc.max_size}"},
                    )
                    return await error.response()(scope, receive, send)
            # no ``http.response.pathsend``: that would send the path, not the open handle
            extensions = {
                k: v
                for k, v in scope.get("extensions", {}).items()
                if k != "http.response.pathsend"
            }
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:
            self.handle.close()


def expiry_seconds(anchor: Any, seconds: Any, param: str, dot: str) -> int:
    """The checked ``expires_after`` policy (``anchor`` and ``seconds``) as seconds after
    ``created_at``; 400 naming ``param`` and the bad key (``dot`` joins them: ``.`` in
    JSON, ``[]`` in a form) otherwise."""

    def key(name: str) -> str:
        return f"{param}.{name}" if dot == "." else f"{param}[{name}]"

    if anchor != "created_at":
        raise bad_request(
            f"Invalid {key('anchor')} {clip(anchor)}: the only anchor is 'created_at'.",
            param=key("anchor"),
            code="invalid_value",
        )
    if isinstance(seconds, str) and re.fullmatch(r"[+-]?[0-9]+", digits := seconds.strip()):
        # no int() of a 10,000-digit string: it is out of range whatever it says
        seconds = int(digits) if len(digits) <= 12 else EXPIRY_RANGE[1] + 1
    low, high = EXPIRY_RANGE
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not low <= seconds <= high:
        raise bad_request(
            f"Invalid {key('seconds')} {clip(seconds)}: use an integer from {low} (1 hour) "
            f"to {high} (30 days).",
            param=key("seconds"),
            code="invalid_value",
        )
    return seconds


def clean_filename(name: str | None) -> str:
    """A display name: the last path component, no control characters, at most 255 chars."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:255] if name and name not in (".", "..") else "upload"


def fields_too_large() -> ApiError:
    return ApiError(
        413,
        f"The form fields other than the file are larger than the limit of "
        f"{MAX_FORM_TOTAL / 1024 / 1024:g} MB in all.",
        code="request_too_large",
    )


async def stream_multipart(
    request: Request, file_field: str, dest: Path, limit: int, over: Callable[[], ApiError]
) -> tuple[dict[str, str], int, str | None]:
    """Parse a multipart body, streaming the part named ``file_field`` into ``dest``.

    Returns (other fields, bytes written, the part's filename). Raises ``over()`` past
    ``limit`` (checked on Content-Length first, then while streaming), 413 when the other
    fields pass ``MAX_FORM_TOTAL`` in all, 507 on a full disk and 400 on a malformed body;
    ``dest`` is gone then.
    """
    ctype, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise bad_request("Expected a multipart/form-data body.")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + MAX_FORM_TOTAL + 64 * 1024:
        raise over()

    fields: dict[str, str] = {}
    state: dict[str, Any] = {
        "headers": {},
        "field": b"",
        "value": b"",
        "name": None,
        "buf": None,
        "written": 0,
        "form": 0,  #: bytes of headers and non-file fields so far
        "found_filename": None,
    }
    out_holder: list[Any] = []  #: the open destination file, once its part begins

    def on_part_begin() -> None:
        state["headers"], state["name"], state["buf"] = {}, None, None

    def count_form(n: int) -> None:
        # headers and plain fields are held in memory: a total, or 586 MB of small
        # fields are all held
        state["form"] += n
        if state["form"] > MAX_FORM_TOTAL:
            raise fields_too_large()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        count_form(end - start)
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        count_form(end - start)
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"] = state["value"] = b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == file_field:
            if out_holder:
                raise bad_request(f"Only one '{file_field}' part is allowed.", param=file_field)
            filename = disp.get(b"filename")
            state["found_filename"] = filename.decode("utf-8", "replace") if filename else None
            out_holder.append(dest.open("wb"))
        else:
            state["buf"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["name"] == file_field:
            state["written"] += end - start
            if state["written"] > limit:
                raise over()
            out_holder[0].write(data[start:end])
        else:
            count_form(end - start)
            buf = state["buf"]
            buf += data[start:end]
            if len(buf) > MAX_FORM_FIELD:
                raise bad_request(f"Form field {clip(state['name'])} is too long.")

    def on_part_end() -> None:
        if state["name"] != file_field and state["name"] is not None:
            fields[state["name"]] = bytes(state["buf"] or b"").decode("utf-8", "replace")

    callbacks: dict[str, Callable[..., None]] = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except ApiError:
        _discard(out_holder, dest)
        raise
    except Exception as exc:
        _discard(out_holder, dest)
        if is_disk_full(exc):
            raise disk_full("store the upload") from None
        raise bad_request(f"Malformed multipart body: {clip(str(exc), quote=False)}") from exc
    if not out_holder:
        dest.unlink(missing_ok=True)
        raise bad_request(f"Missing the '{file_field}' part.", param=file_field)
    out_holder[0].close()
    return fields, state["written"], state["found_filename"]


def _discard(out_holder: list[Any], dest: Path) -> None:
    for fh in out_holder:
        fh.close()
    dest.unlink(missing_ok=True)


#: the key of an upload's stored object that keeps its file's ``expires_after`` seconds
FILE_EXPIRY = "_file_expires_after"


def public(upload: dict[str, Any]) -> dict[str, Any]:
    """The Upload object as answered: without the server's own keys."""
    return {k: v for k, v in upload.items() if not k.startswith("_")}


class FileService:
    """Files in the store and on disk."""

    def __init__(self, store: Store, data_dir: Path, max_upload_bytes: int) -> None:
        self.store = store
        self.sweep_interval = float(os.environ.get(SWEEP_INTERVAL_ENV) or UPLOAD_SWEEP_INTERVAL)
        self.files_dir = data_dir / "files"
        self.uploads_dir = data_dir / "uploads"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.max_upload_bytes = max_upload_bytes
        # uploads cut short by a crash: one server per data folder, so none is in flight
        for stale in self.files_dir.glob(".file-*.partial"):
            stale.unlink(missing_ok=True)
        self._next_sweep = 0.0
        self.sweep(startup=True)

    # -- files ---------------------------------------------------------------------
    def _register(
        self,
        file_id: str,
        path: Path,
        filename: str,
        purpose: str,
        size: int,
        expires_after: int | None = None,
        conn: Any = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        obj: dict[str, Any] = {
            "object": "file",
            "id": file_id,
            "bytes": size,
            "created_at": now,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        if expires_after is not None:  # anchored on created_at, the only anchor
            obj["expires_at"] = now + expires_after
        write_file_meta(self.files_dir, obj)  # what a rebuilt index knows of the file
        row = (file_id, purpose, path.name, dumps(obj))
        sql = "INSERT INTO files (id, purpose, path, obj) VALUES (?, ?, ?, ?)"
        if conn is not None:
            conn.execute(sql, row)
        else:
            with self.store.tx() as own:
                own.execute(sql, row)
        return obj

    def add_copy(self, conn: Any, src: Path, filename: str, purpose: str) -> dict[str, Any]:
        """Register (in the transaction ``conn``) a copy of the server-made file ``src``,
        e.g. a job's result CSV."""
        file_id = new_id("file-")
        dest = self.files_dir / file_id
        shutil.copyfile(src, dest)
        return self._register(file_id, dest, filename, purpose, dest.stat().st_size, conn=conn)

    async def upload(self, request: Request) -> dict[str, Any]:
        file_id = new_id("file-")
        tmp = self.files_dir / f".{file_id}.partial"
        limit = self.max_upload_bytes
        fields, size, filename = await stream_multipart(
            request, "file", tmp, limit, lambda: too_large("The file", limit)
        )
        dest = self.files_dir / file_id
        with self._stored_or_gone(tmp, dest, what="store the file"):
            purpose = fields.get("purpose")
            if purpose not in FILE_PURPOSES:
                raise bad_request(
                    f"Invalid purpose {clip(purpose)}: use one of {', '.join(FILE_PURPOSES)}.",
                    param="purpose",
                )
            expires_after = None
            if any(k.startswith("expires_after") for k in fields):
                expires_after = expiry_seconds(
                    fields.get("expires_after[anchor]"),
                    fields.get("expires_after[seconds]"),
                    "expires_after",
                    "[]",
                )
            os.replace(tmp, dest)
            return self._register(
                file_id, dest, clean_filename(filename), purpose, size, expires_after
            )

    @contextmanager
    def _stored_or_gone(self, *paths: Path, what: str) -> Iterator[None]:
        """Whatever fails inside, ``paths`` (a file being made) are removed: no orphan
        file, no half-written one. A full disk is a 507, not a 500 or a 400."""
        try:
            yield
        except BaseException as exc:
            for path in paths:
                path.unlink(missing_ok=True)
            if paths and paths[-1].parent == self.files_dir:
                meta_path(self.files_dir, paths[-1].name).unlink(missing_ok=True)
            if is_disk_full(exc):
                raise disk_full(what) from None
            raise

    def row(self, file_id: str) -> tuple[str, Path]:
        """(obj JSON, path) of a file, or 404: also for one past its ``expires_at`` that
        the next sweep deletes."""
        row = self.store.one("SELECT obj, path FROM files WHERE id = ?", (file_id,))
        expiring = row is not None and '"expires_at"' in row[0]  # no parse for the others
        if expiring and row is not None and loads(row[0])["expires_at"] <= time.time():
            row = None
        if row is None:
            raise not_found(f"No such File object: {file_id}", param="id", code="file_not_found")
        return row[0], self.files_dir / row[1]

    def open_content(self, file_id: str) -> OpenFileResponse:
        """The content of a file, opened now: a DELETE racing the GET cannot cut it short."""
        obj, path = self.row(file_id)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError):  # deleted since the row was read
            raise not_found(
                f"No such File object: {file_id}", param="id", code="file_not_found"
            ) from None
        return OpenFileResponse(handle, loads(obj)["filename"])

    def delete(self, file_id: str) -> dict[str, Any]:
        _, path = self.row(file_id)
        self._remove(file_id, path)
        return {"id": file_id, "object": "file", "deleted": True}

    def _remove(self, file_id: str, path: Path) -> None:
        with self.store.tx() as conn:
            self.store.delete_row(conn, "files", file_id)
        path.unlink(missing_ok=True)
        meta_path(self.files_dir, file_id).unlink(missing_ok=True)

    def sweep_files(self) -> int:
        """Delete the files past their ``expires_at`` (rows, bytes and sidecars); returns
        how many."""
        expired = self.store.all(
            "SELECT id, path FROM files WHERE json_extract(obj, '$.expires_at') <= ?",
            (time.time(),),
        )
        for file_id, name in expired:
            self._remove(file_id, self.files_dir / name)
        return len(expired)

    # -- uploads -------------------------------------------------------------------
    def _upload(self, upload_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT obj FROM uploads WHERE id = ?", (upload_id,))
        if row is None:
            raise not_found(f"No such Upload object: {upload_id}", param="upload_id")
        obj = loads(row[0])
        if obj["status"] == "pending" and obj["expires_at"] < time.time():
            # None: completed or cancelled meanwhile, so read it again
            return self._expire(upload_id) or self._upload(upload_id)
        return obj

    def _expire(self, upload_id: str) -> dict[str, Any] | None:
        """Mark a pending upload past ``expires_at`` expired and delete its parts; returns
        the upload, or None when it was not (or is no longer) such an upload."""
        with self.store.tx() as conn:
            row = conn.execute(
                "SELECT obj FROM uploads WHERE id = ? AND status = 'pending'", (upload_id,)
            ).fetchone()
            obj = loads(row[0]) if row else None
            if obj is None or obj["expires_at"] >= time.time():
                return None
            obj["status"] = "expired"
            conn.execute(
                "UPDATE uploads SET status = ?, obj = ? WHERE id = ?",
                (obj["status"], dumps(obj), upload_id),
            )
            conn.execute("DELETE FROM upload_parts WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(self.uploads_dir / upload_id, ignore_errors=True)
        return obj

    def sweep(self, *, startup: bool = False) -> None:
        """Delete expired files, expire abandoned uploads and delete the parts nothing can
        use any more.

        Otherwise a client that dies mid-upload leaves its parts (up to GBs) for ever: an
        upload only expired when asked for again. Runs at startup and at most once every
        ``sweep_interval`` after. Part files without a row (a kill during ``add_part``)
        go for uploads no longer pending, and at startup for all of them: one server per
        data folder, so no part is being written then.
        """
        now = time.monotonic()
        if not startup and now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_interval
        self.sweep_files()
        stale = self.store.all(
            "SELECT id FROM uploads WHERE status = 'pending' "
            "AND json_extract(obj, '$.expires_at') < ?",
            (time.time(),),
        )
        for (upload_id,) in stale:
            self._expire(upload_id)
        with self.store.tx() as conn:  # rows an older server left behind on expiry
            conn.execute(
                "DELETE FROM upload_parts WHERE upload_id NOT IN "
                "(SELECT id FROM uploads WHERE status = 'pending')"
            )
        # list the folders before reading statuses: an upload's row exists before its folder
        folders = [f for f in self.uploads_dir.iterdir() if f.is_dir()]
        pending = {r[0] for r in self.store.all("SELECT id FROM uploads WHERE status = 'pending'")}
        for folder in folders:
            if folder.name not in pending:
                shutil.rmtree(folder, ignore_errors=True)
            elif startup:
                known = {
                    r[0]
                    for r in self.store.all(
                        "SELECT path FROM upload_parts WHERE upload_id = ?", (folder.name,)
                    )
                }
                for part in folder.iterdir():
                    if part.name not in known:
                        part.unlink(missing_ok=True)

    def _save_upload(self, obj: dict[str, Any]) -> None:
        with self.store.tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO uploads (id, status, obj) VALUES (?, ?, ?)",
                (obj["id"], obj["status"], dumps(obj)),
            )

    def create_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        size = body.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise bad_request("'bytes' must be a non-negative integer.", param="bytes")
        if size > MAX_UPLOAD_TOTAL:
            raise too_large("The upload", MAX_UPLOAD_TOTAL)
        purpose = body.get("purpose")
        if purpose not in FILE_PURPOSES:
            raise bad_request(f"Invalid purpose {clip(purpose)}.", param="purpose")
        filename = body.get("filename")
        if not isinstance(filename, str) or not filename:
            raise bad_request("'filename' is required.", param="filename")
        if not isinstance(body.get("mime_type"), str):
            raise bad_request("'mime_type' is required.", param="mime_type")
        policy = body.get("expires_after")
        if policy is not None and not isinstance(policy, dict):
            raise bad_request(
                '\'expires_after\' must be an object: {"anchor": "created_at", "seconds": N}.',
                param="expires_after",
            )
        expires_after = (
            expiry_seconds(policy.get("anchor"), policy.get("seconds"), "expires_after", ".")
            if policy is not None
            else None
        )
        now = int(time.time())
        obj = {
            "object": "upload",
            "id": new_id("upload_"),
            "bytes": size,
            "created_at": now,
            "expires_at": now + UPLOAD_TTL,
            "filename": clean_filename(filename),
            "purpose": purpose,
            "status": "pending",
            "file": None,
        }
        if expires_after is not None:  # for the file it makes; not a field of the upload
            obj[FILE_EXPIRY] = expires_after
        self._save_upload(obj)
        return public(obj)

    def _pending(self, upload_id: str) -> dict[str, Any]:
        obj = self._upload(upload_id)
        if obj["status"] != "pending":
            raise bad_request(
                f"Upload {upload_id} is already {obj['status']}.",
                param="upload_id",
                code="upload_not_pending",
            )
        return obj

    def _stored(self, conn: Any, upload_id: str) -> int:
        """The bytes of the parts of ``upload_id`` so far."""
        return conn.execute(
            "SELECT coalesce(sum(bytes), 0) FROM upload_parts WHERE upload_id = ?", (upload_id,)
        ).fetchone()[0]

    async def add_part(self, upload_id: str, request: Request) -> dict[str, Any]:
        upload = self._pending(upload_id)
        declared = upload["bytes"]

        def overfull() -> ApiError:
            return bad_request(
                f"The parts would hold more than the {declared} bytes upload {upload_id} "
                "was created for.",
                param="data",
                code="upload_too_large",
            )

        # each part is checked as it streams, against the room the parts so far leave
        room = declared - self._stored(self.store.conn(), upload_id)
        if room < MAX_PART_BYTES:
            limit, over = max(room, 0), overfull
        else:
            limit, over = MAX_PART_BYTES, lambda: too_large("The part", MAX_PART_BYTES)
        part_id = new_id("part_")
        folder = self.uploads_dir / upload_id
        folder.mkdir(exist_ok=True)
        dest = folder / part_id
        _, size, _ = await stream_multipart(request, "data", dest, limit, over)
        obj = {
            "object": "upload.part",
            "id": part_id,
            "created_at": int(time.time()),
            "upload_id": upload_id,
        }
        with self._stored_or_gone(dest, what="store the part"), self.store.tx() as conn:
            row = conn.execute("SELECT status FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            # parts streamed side by side each fit the room they saw: not both, maybe
            full = row[0] == "pending" and self._stored(conn, upload_id) + size > declared
            if row[0] == "pending" and not full:
                conn.execute(
                    "INSERT INTO upload_parts (id, upload_id, bytes, path, obj) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (part_id, upload_id, size, part_id, dumps(obj)),
                )
        if full:
            dest.unlink(missing_ok=True)
            raise overfull()
        if row[0] != "pending":  # completed, cancelled or expired while this part streamed
            shutil.rmtree(folder, ignore_errors=True)
            raise bad_request(
                f"Upload {upload_id} is already {row[0]}.",
                param="upload_id",
                code="upload_not_pending",
            )
        return obj

    def complete(self, upload_id: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = self._pending(upload_id)
        part_ids = body.get("part_ids")
        if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
            raise bad_request("'part_ids' must be a list of part ids.", param="part_ids")
        parts = dict(
            (r[0], (r[1], r[2]))
            for r in self.store.all(
                "SELECT id, bytes, path FROM upload_parts WHERE upload_id = ?", (upload_id,)
            )
        )
        unknown = [p for p in part_ids if p not in parts]
        if unknown or len(set(part_ids)) != len(part_ids):
            raise bad_request(
                f"Unknown or repeated part ids: {', '.join(unknown) or 'repeated'}.",
                param="part_ids",
            )
        total = sum(parts[p][0] for p in part_ids)
        if total != obj["bytes"]:
            raise bad_request(
                f"The parts hold {total} bytes but the upload was created for {obj['bytes']}.",
                param="part_ids",
            )
        file_id = new_id("file-")
        tmp = self.files_dir / f".{file_id}.partial"
        dest = self.files_dir / file_id
        digest = hashlib.md5(usedforsecurity=False)
        folder = self.uploads_dir / upload_id
        with self._stored_or_gone(tmp, dest, what="store the file"):
            with tmp.open("wb") as out:
                for part_id in part_ids:
                    with (folder / parts[part_id][1]).open("rb") as src:
                        while chunk := src.read(1024 * 1024):
                            digest.update(chunk)
                            out.write(chunk)
            md5 = body.get("md5")
            if isinstance(md5, str) and md5 and md5.lower() != digest.hexdigest():
                raise bad_request(
                    "The md5 checksum does not match the uploaded bytes.", param="md5"
                )
            os.replace(tmp, dest)
            obj["file"] = self._register(
                file_id, dest, obj["filename"], obj["purpose"], total, obj.get(FILE_EXPIRY)
            )
        obj["status"] = "completed"
        self._save_upload(obj)
        self._drop_parts(upload_id)
        return public(obj)

    def cancel_upload(self, upload_id: str) -> dict[str, Any]:
        obj = self._pending(upload_id)
        obj["status"] = "cancelled"
        self._save_upload(obj)
        self._drop_parts(upload_id)
        return public(obj)

    def _drop_parts(self, upload_id: str) -> None:
        with self.store.tx() as conn:
            conn.execute("DELETE FROM upload_parts WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(self.uploads_dir / upload_id, ignore_errors=True)
