"""Job folders in an object store (``--storage s3://bucket/prefix``, ``gs://…``): the sync.

The job-folder protocol of ``base.py`` stays the one contract; only where the folder lives
changes. Two copies of each job's folder exist, and this module alone moves files between
them and the store (``<storage>/jobs/<job id>/``), through fsspec:

- **the server's** is the data dir's ``jobs/<id>``, as with every executor, so the server's
  readers (events, state, checkpoints, the model it serves) work unchanged. At start the
  server puts the trainer's inputs in the store (``spec.json`` with paths relative to the
  folder, the training files in ``inputs/``, ``state.json`` when resuming); ``control.json``
  goes up when it is written. While the job runs, :meth:`RemoteJob.pull` brings down the
  trainer's ``events.jsonl`` lines (appended to the server's own file, which holds the
  server's events too), ``step_metrics.csv``, the checkpoint and model folders the
  trainer's ``state.json`` names and, last, that ``state.json``: a folder is always there
  before the state that names it, the events before the state that ends the run.
- **the worker's** is a scratch folder on the node that runs the trainer:
  ``python -m fttui.server.executors.storage URL`` (the Ray job's entrypoint) downloads the
  job folder, runs the ordinary trainer on it and, about every second and once at the end,
  :meth:`RemoteJob.push` uploads in the same order (named folders, events, metrics, then
  ``state.json``) and polls ``control.json`` down. Folders ``state.json`` no longer names
  are deleted from the store after the state that dropped them is up.

Options for the store (``--storage-option endpoint_url=…``) reach the worker as the
JSON of ``FTTUI_STORAGE_OPTIONS``; fsspec's and the cloud SDKs' own variables (``AWS_*``,
``FSSPEC_*``…) are passed on by the executor. fsspec is imported on first use.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fttui.server.jobfolder import TrainerSpec

#: the environment variable carrying ``--storage-option`` values to the worker (JSON)
OPTIONS_ENV = "FTTUI_STORAGE_OPTIONS"
#: variables of the server's environment passed on to the trainer's (credentials, endpoints)
FORWARDED_ENV = ("AWS_", "FSSPEC_", "GOOGLE_", "GCS_", "AZURE_")
#: the worker uploads what changed at most this often
PUSH_EVERY_S = 1.0
#: the server reads a running job's files from the store at most this often
PULL_EVERY_S = 1.0
#: files the trainer writes that the server reads (besides the folders state.json names)
EVENTS, STATE, METRICS, CONTROL, SPEC = (
    "events.jsonl",
    "state.json",
    "step_metrics.csv",
    "control.json",
    "spec.json",
)
#: in the server's folder: how many bytes of the store's events.jsonl it has appended
OFFSET_FILE = ".storage-events-offset"


class StorageError(Exception):
    """The store cannot be reached, read or written; the message says which and why."""


def is_remote(url: str) -> bool:
    """Whether ``url`` names an object store (anything with a protocol but ``file://``)."""
    return "://" in url and not url.startswith("file://")


def parse_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items (``--storage-option``) as fsspec keyword arguments; a value that
    parses as JSON is taken as such (``anon=true``, ``client_kwargs={"region_name": …}``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r}: use KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def open_store(url: str, options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path in it; ``StorageError`` when the
    protocol is unknown or its package is missing (``gs://`` needs gcsfs)."""
    try:
        import fsspec  # type: ignore[import-untyped]  # fsspec ships no type hints
    except ImportError:
        raise StorageError("object-store storage needs fsspec: pip install 'fttui[ray]'") from None
    try:
        fs, path = fsspec.core.url_to_fs(url, **(options or {}))
    except ImportError as exc:
        raise StorageError(f"{url}: {_first_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise StorageError(f"{url}: {_first_line(exc)}") from None
    return fs, str(path).rstrip("/")


def probe(url: str, options: dict[str, Any] | None = None) -> None:
    """Write and delete a small object under ``url``: ``StorageError`` with the reason when
    it cannot be written (no such bucket, no credentials, no network)."""
    fs, root = open_store(url, options)
    name = f"{root}/.fttui-write-test-{os.getpid()}-{threading.get_ident()}"
    try:
        fs.pipe_file(name, b"ok")
        fs.rm_file(name)
    except Exception as exc:  # botocore's, aiohttp's, PermissionError, FileNotFoundError...
        raise StorageError(f"{url} cannot be written: {_first_line(exc)}") from None


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _named_folders(state_bytes: bytes | None) -> list[str]:
    """The folders (relative) a ``state.json`` names: checkpoints, resume point, model."""
    if not state_bytes:
        return []
    try:
        raw = json.loads(state_bytes)
    except ValueError:
        return []
    if not isinstance(raw, dict):
        return []
    rels = [c.get("path") for c in raw.get("checkpoints") or [] if isinstance(c, dict)]
    rels += [raw.get("resume_checkpoint"), raw.get("model_path")]
    return [r for r in dict.fromkeys(rels) if isinstance(r, str) and r and not r.startswith("/")]


class RemoteJob:
    """One job's folder in the store (``<storage>/jobs/<id>``)."""

    def __init__(self, url: str, options: dict[str, Any] | None = None):
        self.url = url.rstrip("/")
        self.options = dict(options or {})
        self.fs, self.root = open_store(self.url, self.options)
        #: what this side last sent or received: file name → signature / bytes
        self._sent: dict[str, Any] = {}
        self._got: dict[str, Any] = {}

    def _r(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def _cat(self, rel: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self._r(rel)))
        except FileNotFoundError:
            return None

    def _size(self, rel: str) -> int | None:
        try:
            self.fs.invalidate_cache(self._r(rel))
            return int(self.fs.info(self._r(rel))["size"])
        except FileNotFoundError:
            return None

    def put_folder(self, local: Path, rel: str) -> None:
        """Upload the folder ``local`` as ``rel`` (file by file: object stores have no
        folders, and ``put``'s trailing-slash rules differ between fsspec versions)."""
        for path in sorted(local.rglob("*")):
            if path.is_file():
                self.fs.put_file(str(path), self._r(f"{rel}/{path.relative_to(local)}"))

    def get_folder(self, rel: str, local: Path) -> bool:
        """Download ``rel`` into ``local`` whole or not at all (a temp folder + rename);
        False when the store has no such folder."""
        remote = self._r(rel)
        try:
            self.fs.invalidate_cache(remote)
            files = [f for f in self.fs.find(remote) if not f.endswith("/")]
        except FileNotFoundError:
            return False
        if not files:
            return False
        tmp = local.with_name(f".{local.name}.pull")
        shutil.rmtree(tmp, ignore_errors=True)
        for name in files:
            dest = tmp / name[len(remote) :].lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(name, str(dest))
        if local.exists():
            shutil.rmtree(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, local)
        return True

    def delete(self, rel: str) -> None:
        try:
            self.fs.rm(self._r(rel), recursive=True)
        except FileNotFoundError:
            pass

    # -- the server's side ------------------------------------------------------------------
    def upload_start(self, spec: TrainerSpec, local_dir: Path) -> None:
        """Put what the trainer needs to (re)start: its spec (paths relative to the job
        folder), the training files, the adapter it continues from, the server's
        ``state.json`` when resuming; and remove a stale ``control.json``."""
        remote = TrainerSpec.from_json(spec.to_json())
        remote.output_dir = "."
        for attr in ("training_file", "validation_file"):
            src = getattr(spec, attr)
            if src:
                rel = f"inputs/{Path(src).name}"
                if self._size(rel) != Path(src).stat().st_size:
                    self.fs.put_file(src, self._r(rel))
                setattr(remote, attr, rel)
        if spec.init_adapter:
            self.put_folder(Path(spec.init_adapter), "inputs/init_adapter")
            remote.init_adapter = "inputs/init_adapter"
        if self._size(CONTROL) is not None:  # a stop asked of the previous run
            self.fs.rm_file(self._r(CONTROL))
        state = local_dir / STATE
        if state.is_file():
            self.fs.pipe_file(self._r(STATE), state.read_bytes())
        self.fs.pipe_file(self._r(SPEC), remote.to_json().encode())
        self._got.pop(STATE, None)

    def put_control(self, action: str) -> None:
        self.fs.pipe_file(self._r(CONTROL), json.dumps({"action": action}).encode())

    def put_state(self, local_dir: Path) -> None:
        """The server's own final word (a failed or stopped Ray job) into the store."""
        state = local_dir / STATE
        if state.is_file():
            self.fs.pipe_file(self._r(STATE), state.read_bytes())

    def pull(self, local_dir: Path) -> None:
        """Bring the trainer's progress into the server's folder (see the module doc)."""
        state = self._cat(STATE)
        if state is not None and state != self._got.get(STATE):
            # the resume points stay in the store: only a worker resumes from them
            named = [r for r in _named_folders(state) if not r.startswith("resume/")]
            for rel in named:
                target = local_dir / rel
                if not (target.is_dir() and any(target.iterdir())):
                    self.get_folder(rel, target)
        self._pull_events(local_dir)
        size = self._size(METRICS)
        if size is not None and size != self._got.get(METRICS):
            data = self._cat(METRICS)
            if data is not None:
                _write_bytes_atomic(local_dir / METRICS, data)
                self._got[METRICS] = len(data)
        if state is not None and state != self._got.get(STATE):
            _write_bytes_atomic(local_dir / STATE, state)
            self._got[STATE] = state
            keep = {local_dir / rel for rel in _named_folders(state)}
            for sub in ("checkpoints",):  # the checkpoints the trainer pruned go here too
                folder = local_dir / sub
                if folder.is_dir():
                    for item in folder.iterdir():
                        if item.is_dir() and item not in keep and not item.name.startswith("."):
                            shutil.rmtree(item, ignore_errors=True)

    def _pull_events(self, local_dir: Path) -> None:
        """Append the store's new complete event lines to the server's ``events.jsonl``
        (which holds the server's own events too: it is never overwritten)."""
        offset_path = local_dir / OFFSET_FILE
        try:
            offset = int(offset_path.read_text())
        except (FileNotFoundError, ValueError):
            offset = 0
        size = self._size(EVENTS)
        if size is None or size <= offset:
            return
        data = bytes(self.fs.cat_file(self._r(EVENTS), start=offset))
        cut = data.rfind(b"\n") + 1
        if not cut:
            return  # only a line still being written
        with (local_dir / EVENTS).open("ab") as fh:
            fh.write(data[:cut])
            fh.flush()
        offset_path.write_text(str(offset + cut))

    # -- the worker's side ------------------------------------------------------------------
    def download_all(self, local_dir: Path) -> None:
        """The whole job folder into ``local_dir`` (spec, inputs, state, saves, events)."""
        self.fs.invalidate_cache(self.root)
        try:
            files = [f for f in self.fs.find(self.root) if not f.endswith("/")]
        except FileNotFoundError:
            files = []
        if self._r(SPEC) not in files:
            raise StorageError(f"{self.url} holds no {SPEC}")
        for name in files:
            rel = name[len(self.root) :].lstrip("/")
            if rel == CONTROL or rel.startswith(("ray/", ".")):
                continue
            dest = local_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(name, str(dest))
        events = local_dir / EVENTS
        if events.is_file():  # a run killed mid-line: cut the torn line (never ingested)
            data = events.read_bytes()
            cut = data.rfind(b"\n") + 1
            if cut != len(data):
                events.write_bytes(data[:cut])
        # what came down need not go up again
        state = local_dir / STATE
        self._sent[STATE] = state.read_bytes() if state.is_file() else None
        for rel in _named_folders(self._sent[STATE]):
            if (local_dir / rel).is_dir():
                self._sent[f"dir:{rel}"] = (local_dir / rel).stat().st_mtime_ns

    def push(self, local_dir: Path) -> None:
        """Upload what changed in the worker's folder (see the module doc), then poll
        ``control.json`` down."""
        state_path = local_dir / STATE
        state = state_path.read_bytes() if state_path.is_file() else None
        named = _named_folders(state)
        for rel in named:
            folder = local_dir / rel
            if not folder.is_dir():
                continue
            stamp = folder.stat().st_mtime_ns
            if self._sent.get(f"dir:{rel}") != stamp:
                self.put_folder(folder, rel)
                self._sent[f"dir:{rel}"] = stamp
        for name in (EVENTS, METRICS):
            path = local_dir / name
            if path.is_file():
                st = path.stat()
                sig = (st.st_size, st.st_mtime_ns)
                if self._sent.get(name) != sig:
                    self.fs.put_file(str(path), self._r(name))
                    self._sent[name] = sig
        if state is not None and state != self._sent.get(STATE):
            self.fs.pipe_file(self._r(STATE), state)
            self._sent[STATE] = state
            for key in [k for k in self._sent if k.startswith("dir:")]:
                rel = key[4:]
                if rel not in named and not (local_dir / rel).exists():
                    self.delete(rel)
                    del self._sent[key]
        control = self._cat(CONTROL)
        if control is not None and control != self._got.get(CONTROL):
            _write_bytes_atomic(local_dir / CONTROL, control)
            self._got[CONTROL] = control


def local_spec(local_dir: Path) -> Path:
    """Rewrite the downloaded ``spec.json`` with the scratch folder's absolute paths."""
    spec = TrainerSpec.load(local_dir / SPEC)
    spec.output_dir = str(local_dir)
    for attr in ("training_file", "validation_file", "init_adapter"):
        value = getattr(spec, attr)
        if value and not Path(value).is_absolute():
            setattr(spec, attr, str(local_dir / value))
    path = local_dir / SPEC
    path.write_text(spec.to_json(), encoding="utf-8")
    return path


def run_worker(url: str, options: dict[str, Any], module: str = "fttui.server.trainer") -> int:
    """The Ray job's entrypoint with object-store storage: download the job folder into a
    scratch folder, train there, keep the store up to date; the trainer's exit code."""
    remote = RemoteJob(url, options)
    scratch = Path(tempfile.mkdtemp(prefix="fttui-job-"))
    try:
        try:
            remote.download_all(scratch)
        except Exception as exc:
            print(f"fttui: cannot read the job folder {url}: {_first_line(exc)}", file=sys.stderr)
            return 1
        spec_path = local_spec(scratch)
        print(f"fttui: the job folder {url} is synced with {scratch}", flush=True)
        proc = subprocess.Popen([sys.executable, "-m", module, str(spec_path)], cwd=scratch)
        warned = False
        while proc.poll() is None:
            time.sleep(PUSH_EVERY_S)
            try:
                remote.push(scratch)
            except Exception as exc:  # the store's hiccup: say it once, retry next time
                if not warned:
                    print(f"fttui: cannot sync to {url} yet: {_first_line(exc)}", flush=True)
                    warned = True
        for attempt in range(5):  # the trainer's last words must reach the server
            try:
                remote.push(scratch)
                break
            except Exception as exc:
                if attempt == 4:
                    print(f"fttui: the job folder could not be saved to {url}: {exc}")
                    return 1
                time.sleep(2**attempt)
        return proc.returncode or 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fttui.server.executors.storage JOB_FOLDER_URL", file=sys.stderr)
        return 2
    try:
        options = json.loads(os.environ.get(OPTIONS_ENV) or "{}")
    except ValueError:
        print(f"fttui: {OPTIONS_ENV} is not JSON", file=sys.stderr)
        return 2
    try:
        return run_worker(argv[0], options)
    except StorageError as exc:
        print(f"fttui: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
