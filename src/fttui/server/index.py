"""The database as an index of what is on disk: checked at start, rebuilt on request.

``fttui.sqlite3`` indexes the data folder: uploaded files (``files/<id>``), job folders
(``jobs/<id>``). Losing it (a 0-byte file, a ``-wal`` deleted after a kill -9, a damaged
page) must never look like a fresh start with 0 files and 0 jobs beside the user's data:
``check`` compares the two at start, and ``rebuild`` (``fttui serve --rebuild-index``)
builds a new database from the folders.

What the folders hold for that: each file has a sidecar ``file-meta/<id>.json`` (its File
object: filename, purpose, created_at, written on upload); each job folder a ``job.json``
(the job as created and its server-side settings), ``spec.json``, ``state.json`` and
``events.jsonl``. A rebuilt job is handed to the supervisor as if the server had been
stopped while following it, so its events, checkpoints, final state, fine-tuned model and
result file come back the way they came the first time. Older files without a sidecar are
restored as ``fine-tune`` files named ``<id>.jsonl``; older jobs without ``job.json`` from
their ``spec.json`` (their metadata is lost).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.text import plural

DB_FILE = "fttui.sqlite3"
JOB_FILE = "job.json"
META_DIR = "file-meta"
FILE_ID = re.compile(r"file-[A-Za-z0-9]+")
JOB_ID = re.compile(r"ftjob-[A-Za-z0-9]+")
RESULT_PURPOSE = "fine-tune-results"  #: remade by the job's own restore, never restored


def meta_path(files_dir: Path, file_id: str) -> Path:
    """``<data dir>/file-meta/<id>.json``: beside ``files/``, which holds contents only."""
    return files_dir.parent / META_DIR / f"{file_id}.json"


def write_file_meta(files_dir: Path, obj: dict[str, Any]) -> None:
    """Write the sidecar of a stored file (what a rebuilt index needs of it)."""
    path = meta_path(files_dir, obj["id"])
    path.parent.mkdir(exist_ok=True)
    _write_json(path, obj)


def write_job_meta(job_dir: Path, job: Mapping[str, Any], internal: Mapping[str, Any]) -> None:
    """Write ``job.json``: the job as created and its server-side settings."""
    job_dir.mkdir(parents=True, exist_ok=True)
    _write_json(job_dir / JOB_FILE, {"job": job, "internal": internal})


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(obj, fh)
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stored_files(data_dir: Path) -> list[str]:
    folder = data_dir / "files"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if FILE_ID.fullmatch(p.name) and p.is_file())


def job_folders(data_dir: Path) -> list[str]:
    folder = data_dir / "jobs"
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if JOB_ID.fullmatch(p.name) and ((p / JOB_FILE).is_file() or (p / "spec.json").is_file())
    )


class IndexError_(Exception):
    """The database does not match the folders; the message says what and what to do."""


@dataclass
class Found:
    """What ``check`` saw: the database's state and what is on disk beside it."""

    db: str  #: ok, missing, empty, damaged
    reason: str = ""
    jobs: list[str] = field(default_factory=list)  #: job folders on disk
    files: list[str] = field(default_factory=list)  #: stored files on disk
    missing_jobs: list[str] = field(default_factory=list)  #: on disk, not in the database
    missing_files: list[str] = field(default_factory=list)


def inspect(data_dir: Path) -> Found:
    """Compare the database with the job folders and stored files (reads only)."""
    jobs, files = job_folders(data_dir), stored_files(data_dir)
    path = data_dir / DB_FILE
    if not path.exists():
        return Found("missing", jobs=jobs, files=files)
    if path.stat().st_size == 0:
        return Found("empty", jobs=jobs, files=files)
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not {"jobs", "files"} <= tables:
                return Found("empty", jobs=jobs, files=files)
            known_jobs = {r[0] for r in conn.execute("SELECT id FROM jobs")}
            known_files = {r[0] for r in conn.execute("SELECT id FROM files")}
            gone = (
                {r[0] for r in conn.execute("SELECT id FROM gone")} if "gone" in tables else set()
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Found("damaged", str(exc), jobs=jobs, files=files)
    if not known_jobs and not known_files:
        return Found("empty", jobs=jobs, files=files)
    return Found(
        "ok",
        jobs=jobs,
        files=files,
        missing_jobs=[j for j in jobs if j not in known_jobs and j not in gone],
        missing_files=[f for f in files if f not in known_files and f not in gone],
    )


def check(data_dir: Path) -> Found:
    """Raise ``IndexError_`` when the database is lost or damaged beside stored data.

    Returns what was found otherwise; a database that lacks some jobs or files (its last
    writes lost with a deleted ``-wal``) is completed by the caller with ``restore``."""
    found = inspect(data_dir)
    if found.db == "ok" or not (found.jobs or found.files):
        return found
    what = {
        "missing": f"{DB_FILE} is missing",
        "empty": f"{DB_FILE} is empty",
        "damaged": f"{DB_FILE} is damaged ({found.reason})",
    }[found.db]
    raise IndexError_(
        f"{what} but {plural(len(found.jobs), 'job folder', grouped=False)} and "
        f"{plural(len(found.files), 'file', grouped=False)} exist in {data_dir}: starting would hide them. "
        f"Run `fttui serve --rebuild-index --data-dir {data_dir}` to rebuild the database "
        "from them (the old one is kept beside it)."
    )


def _file_obj(files_dir: Path, file_id: str) -> tuple[dict[str, Any], bool]:
    """(the File object, whether its sidecar had it)."""
    path = files_dir / file_id
    meta = _read_json(meta_path(files_dir, file_id))
    st = path.stat()
    if isinstance(meta, dict) and meta.get("id") == file_id:
        meta["bytes"] = st.st_size
        return meta, True
    return {
        "object": "file",
        "id": file_id,
        "bytes": st.st_size,
        "created_at": int(st.st_mtime),
        "filename": f"{file_id}.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
    }, False


def _job_rows(data_dir: Path, job_id: str, executor: str) -> tuple[dict, dict, bool] | None:
    """(job, internal, from job.json) to re-index a job folder, or None when it holds
    neither ``job.json`` nor ``spec.json``."""
    from fttui.server.jobfolder import JobState

    folder = data_dir / "jobs" / job_id
    meta = _read_json(folder / JOB_FILE)
    if isinstance(meta, dict) and isinstance(meta.get("job"), dict):
        job, internal, full = dict(meta["job"]), dict(meta.get("internal") or {}), True
    else:
        spec = _read_json(folder / "spec.json")
        if not isinstance(spec, dict) or spec.get("job_id") != job_id:
            return None
        created = int((folder / "spec.json").stat().st_mtime)
        hp = {
            "n_epochs": spec.get("n_epochs"),
            "batch_size": spec.get("batch_size"),
            "learning_rate_multiplier": spec.get("learning_rate_multiplier"),
        }
        method = spec.get("method") or "supervised"
        suffix = str(spec.get("fine_tuned_model") or "").split(":")
        validation = spec.get("validation_file")
        job = {
            "object": "fine_tuning.job",
            "id": job_id,
            "created_at": created,
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": hp,
            "model": spec.get("base_model"),
            "organization_id": "org-fttui",
            "result_files": [],
            "seed": spec.get("seed"),
            "status": "queued",
            "trained_tokens": None,
            "training_file": Path(spec.get("training_file") or "").name,
            "validation_file": Path(validation).name if validation else None,
            "integrations": None,
            "estimated_finish": None,
            "method": {"type": method, method: {"hyperparameters": hp}},
            "metadata": None,
            "user_provided_suffix": (suffix[3] or None) if len(suffix) == 5 else None,
        }
        internal = {
            "spec": spec,
            # a ray job's folder has its Ray record; sim jobs have no weights
            "executor": "ray"
            if (folder / "ray_job.json").is_file()
            else "torch"
            if spec.get("model_path")
            else executor,
        }
        full = False
    internal.update(events_offset=0, ckpt_steps=[], pending=None, active=False)
    internal.pop("announce_resume", None)
    state = JobState.read(folder) if (folder / "state.json").exists() else None
    if state is not None or (folder / "events.jsonl").exists():
        # the supervisor follows it from its folder: events, checkpoints, final state
        job.update(status="paused" if state and state.status == "paused" else "running")
        job.update(error=None, finished_at=None, fine_tuned_model=None, result_files=[])
        internal["active"] = True
    elif job.get("status") not in ("validating_files", "queued", "cancelled", "failed"):
        job["status"] = "validating_files"  # never started: validate and run it again
    return job, internal, full


def restore(
    data_dir: Path,
    conn: sqlite3.Connection,
    job_ids: list[str],
    file_ids: list[str],
    executor: str,
) -> list[str]:
    """Insert rows for ``job_ids`` and ``file_ids`` (on disk, not in the database) in the
    transaction ``conn``. Returns lines saying what was restored and what could not be."""
    from fttui.server.store import dumps, new_id

    files_dir = data_dir / "files"
    said: list[str] = []
    bare, results = 0, 0
    objs = []
    for file_id in file_ids:
        obj, had_meta = _file_obj(files_dir, file_id)
        if obj.get("purpose") == RESULT_PURPOSE:
            # a job's step-metrics copy: its job makes it again when it is followed
            results += 1
            (files_dir / file_id).unlink(missing_ok=True)
            meta_path(files_dir, file_id).unlink(missing_ok=True)
            continue
        bare += not had_meta
        objs.append(obj)
    for obj in sorted(objs, key=lambda o: (o.get("created_at") or 0, o["id"])):
        conn.execute(
            "INSERT OR IGNORE INTO files (id, purpose, path, obj) VALUES (?, ?, ?, ?)",
            (obj["id"], obj["purpose"], obj["id"], dumps(obj)),
        )
    if objs:
        said.append(f"restored {plural(len(objs), 'file', grouped=False)}")
    if bare:
        said.append(
            f"{plural(bare, 'file', grouped=False)} had no metadata (stored before fttui kept it): "
            "restored with purpose fine-tune, named <id>.jsonl"
        )
    if results:
        said.append(
            f"{plural(results, 'result file', grouped=False)} will be made again by their jobs"
        )
    rows, skipped, old = [], [], 0
    for job_id in job_ids:
        got = _job_rows(data_dir, job_id, executor)
        if got is None:
            skipped.append(job_id)
            continue
        job, internal, full = got
        old += not full
        rows.append((job, internal))
    for job, internal in sorted(rows, key=lambda r: (r[0].get("created_at") or 0, r[0]["id"])):
        conn.execute(
            "INSERT OR IGNORE INTO jobs (id, status, live, obj, internal) VALUES (?, ?, ?, ?, ?)",
            (
                job["id"],
                job["status"],
                1 if job["status"] in ("validating_files", "queued", "running", "paused") else 0,
                dumps(job),
                dumps(internal),
            ),
        )
        event = {
            "object": "fine_tuning.job.event",
            "id": new_id("ftevent-"),
            "created_at": int(time.time()),
            "level": "warn",
            "message": "Restored from its job folder after the server's database was lost",
            "type": "message",
            "data": {},
        }
        conn.execute(
            "INSERT INTO events (id, job_id, obj) VALUES (?, ?, ?)",
            (event["id"], job["id"], dumps(event)),
        )
    if rows:
        said.append(f"restored {plural(len(rows), 'job', grouped=False)} from their folders")
    if old:
        said.append(
            f"{plural(old, 'job', grouped=False)} had no job.json (made before fttui kept it): restored "
            "from spec.json, without their metadata"
        )
    if skipped:
        said.append(
            f"skipped {plural(len(skipped), 'job folder', grouped=False)} with no spec: {', '.join(skipped)}"
        )
    return said


def rebuild(data_dir: Path, executor: str) -> list[str]:
    """``fttui serve --rebuild-index``: a new database from the folders; the old one (if
    any) is renamed ``fttui.sqlite3.before-rebuild-<time>``. Returns what was done."""
    from fttui.server.store import Store

    said = []
    db = data_dir / DB_FILE
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if db.exists():
        kept = db.with_name(f"{DB_FILE}.before-rebuild-{stamp}")
        os.replace(db, kept)
        for suffix in ("-wal", "-shm"):
            side = db.with_name(DB_FILE + suffix)
            if side.exists():
                os.replace(side, kept.with_name(kept.name + suffix))
        said.append(f"kept the old database as {kept.name}")
    store = Store(db)
    try:
        with store.tx() as conn:
            said += restore(data_dir, conn, job_folders(data_dir), stored_files(data_dir), executor)
    finally:
        store.close()
    return said
