"""The server's SQLite store (WAL mode): files, uploads, jobs, events, checkpoints, models.

Every API object is kept as its JSON text (``obj``) next to the few columns queries need,
so a list page is one indexed query and a string join — no per-row re-encoding. Lists are
ordered by an autoincrement ``seq`` (newest first); ``after=<id>`` pages from that row.

One connection per thread; writes go through ``tx()``, which serialises them with a lock
(SQLite allows one writer anyway) so a read-modify-write is atomic for the whole process.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, overload

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, purpose TEXT NOT NULL,
    path TEXT NOT NULL, obj TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, obj TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upload_parts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, upload_id TEXT NOT NULL,
    bytes INTEGER NOT NULL, path TEXT NOT NULL, obj TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS upload_parts_upload ON upload_parts(upload_id);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, status TEXT NOT NULL,
    live INTEGER NOT NULL DEFAULT 1, obj TEXT NOT NULL, internal TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_live ON jobs(live) WHERE live = 1;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
    obj TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
    model TEXT UNIQUE NOT NULL, step INTEGER NOT NULL, path TEXT NOT NULL, obj TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS checkpoints_job ON checkpoints(job_id, seq);
CREATE TABLE IF NOT EXISTS models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_id TEXT NOT NULL,
    base_model TEXT NOT NULL, executor TEXT NOT NULL, path TEXT NOT NULL, obj TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gone (
    tbl TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tbl, id));
"""

_ALPHABET = string.ascii_letters + string.digits
#: the folders of a data dir whose entries the store names: ``jobs/ftjob-…``, ``files/file-…``
_DATA_PARTS = (
    ("jobs", re.compile(r"ftjob-[A-Za-z0-9]+")),
    ("files", re.compile(r"file-[A-Za-z0-9]+")),
)
SPEC_PATHS = ("training_file", "validation_file", "output_dir", "init_adapter")


@overload
def to_stored(data_dir: Path, path: str | Path) -> str: ...
@overload
def to_stored(data_dir: Path, path: str | Path | None) -> str | None: ...
def to_stored(data_dir: Path, path: str | Path | None) -> str | None:
    """A path as the store keeps it: relative to the data dir when inside it, so the data
    dir can be moved or copied (a copy must not read or write the original's folders)."""
    if path is None:
        return None
    try:
        return Path(path).relative_to(data_dir).as_posix()
    except ValueError:
        return str(path)  # outside it: a base model's weights


def from_stored(data_dir: Path, value: str | None) -> str | None:
    """The absolute path of a stored one. An absolute path stored by an older version is
    read as relative from its ``jobs/<job id>`` or ``files/<file id>`` part on, so a data
    dir moved since then still finds its own folders; other absolute paths stay."""
    if value is None:
        return None
    path = Path(value)
    if not path.is_absolute():
        return str(data_dir / path)
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        for folder, pattern in _DATA_PARTS:
            if parts[i] == folder and pattern.fullmatch(parts[i + 1]):
                return str(data_dir.joinpath(*parts[i:]))
    return value


def spec_from_stored(data_dir: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """A stored trainer spec with its data-dir paths made absolute for this data dir."""
    out = dict(spec)
    for name in SPEC_PATHS:
        out[name] = from_stored(data_dir, out.get(name))
    return out


def spec_to_stored(data_dir: Path, spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    for name in SPEC_PATHS:
        out[name] = to_stored(data_dir, out.get(name))
    return out


def new_id(prefix: str, length: int = 24) -> str:
    """``prefix`` + random base62 characters (``file-…``, ``ftjob-…``)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


class Page:
    """One page of a list: the rows' JSON texts, and whether more follow."""

    def __init__(self, objs: list[str], ids: list[str], has_more: bool) -> None:
        self.objs, self.ids, self.has_more = objs, ids, has_more

    def to_json(self, *, first_last: bool = False, empty_id: str | None = None) -> bytes:
        """The OpenAI list object, built by joining the stored JSON texts.

        ``first_last`` adds ``first_id``/``last_id``; on an empty page they are ``empty_id``:
        ``""`` where OpenAI's spec types them as required strings (files), ``None`` where it
        allows null (checkpoints). The SDK's cursor pages read neither, only ``data[-1].id``.
        """
        parts = [
            '{"object":"list","data":[',
            ",".join(self.objs),
            '],"has_more":',
            "true" if self.has_more else "false",
        ]
        if first_last:
            first = dumps(self.ids[0] if self.ids else empty_id)
            last = dumps(self.ids[-1] if self.ids else empty_id)
            parts.append(f',"first_id":{first},"last_id":{last}')
        parts.append("}")
        return "".join(parts).encode()


class Store:
    """The SQLite database at ``path`` (created with its schema when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self.lock = threading.RLock()
        conn = self.conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, serialised with every other writer of this process."""
        with self.lock:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.conn().execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn().execute(sql, params).fetchall()

    def page(
        self,
        table: str,
        *,
        where: str = "1",
        params: Sequence[Any] = (),
        after: str | None = None,
        limit: int = 20,
        ascending: bool = False,
    ) -> Page:
        """Rows of ``table`` matching ``where``, newest first (or oldest first), ``limit`` of
        them after the row whose id is ``after``. ``table``/``where`` are ours, never user text."""
        sql = f"SELECT id, obj FROM {table} WHERE {where}"
        args = list(params)
        if after:
            row = self.one(f"SELECT seq FROM {table} WHERE id = ?", (after,)) or self.one(
                "SELECT seq FROM gone WHERE tbl = ? AND id = ?", (table, after)
            )
            if row is None:
                return Page([], [], False)
            sql += " AND seq > ?" if ascending else " AND seq < ?"
            args.append(row[0])
        sql += f" ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT ?"
        args.append(limit + 1)
        rows = self.all(sql, args)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([r[1] for r in rows], [r[0] for r in rows], more)

    @staticmethod
    def delete_row(conn: sqlite3.Connection, table: str, row_id: str) -> None:
        """Delete a row, keeping its place: a client paging with ``after=<its id>`` (list,
        delete each, list on) goes on from there rather than getting an empty page."""
        conn.execute(
            f"INSERT OR REPLACE INTO gone SELECT ?, id, seq FROM {table} WHERE id = ?",
            (table, row_id),
        )
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
