"""The local provider's server: find the ``fttui serve`` that answers for a data dir, or
start one detached and wait for it; stop it.

A running server records itself in ``<data dir>/server.json`` (base URL, pid, executor) and
keeps its key in ``<data dir>/api_key``; a launch is serialised across processes by a file
lock, so two clients starting at once share one server.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from fttui import paths
from fttui.api.errors import ApiError
from fttui.api.keys import mask_key

__all__ = ["LocalServer", "ensure_local_server", "recorded_server", "stop_local_server"]


@dataclass(frozen=True)
class LocalServer:
    """A running local ``fttui serve``."""

    base_url: str
    pid: int | None
    executor: str | None
    data_dir: Path
    started: bool = False
    api_key: str | None = field(default=None, repr=False, compare=False)

    @property
    def masked_key(self) -> str:
        return mask_key(self.api_key)


_LOCAL_LOCK = threading.Lock()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_key(data_dir: Path) -> str | None:
    try:
        key = (data_dir / "api_key").read_text().strip()
    except OSError:
        return None
    return key or None


def _pid_alive(pid: object) -> TypeGuard[int]:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs_fttui_serve(pid: int) -> bool:
    """Whether ``pid`` runs ``fttui serve`` (always True where /proc cannot tell)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return not Path("/proc/self").exists()
    args = cmdline.split(b"\0")  # `python -m fttui serve …` or `…/bin/fttui serve …`
    return b"serve" in args and any(a == b"fttui" or a.endswith(b"/fttui") for a in args)


def _answers(base_url: str, key: str | None, timeout: float = 2.0) -> bool:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        base_url.rstrip("/") + "/models", headers={"Authorization": f"Bearer {key or ''}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except urllib.error.HTTPError as exc:
        # 429/5xx from an injected fault still means someone is answering with our key
        return exc.code not in (401, 403, 404)
    except Exception:
        pass
    # A dropped connection (``--faults drop``) is not "nobody there": ask /health, which
    # the server never faults and which needs no key.
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(root + "/health", timeout=timeout) as resp:
            return 200 <= resp.status < 300 and key is not None
    except Exception:
        return False


def _running(data_dir: Path) -> LocalServer | None:
    info = _read_json(data_dir / "server.json")
    if not info or not isinstance(info.get("base_url"), str):
        return None
    pid = info.get("pid")
    if pid is not None and not _pid_alive(pid):
        return None
    key = _read_key(data_dir)
    if not _answers(info["base_url"], key):
        return None
    return LocalServer(
        base_url=info["base_url"],
        pid=pid if isinstance(pid, int) else None,
        executor=info.get("executor"),
        data_dir=data_dir,
        api_key=key,
    )


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    tail = [ln.strip() for ln in text[-lines:] if ln.strip()]
    return " | ".join(tail)


def ensure_local_server(
    data_dir: Path | None = None,
    *,
    timeout: float = 60.0,
    start: bool = True,
    executor: str | None = None,
) -> LocalServer:
    """Reuse the local server that answers, or start one detached and wait for it.

    ``executor`` defaults to ``$FTTUI_LOCAL_EXECUTOR`` or ``auto`` (torch when it imports,
    else sim). Raises ApiError(kind="network") if none answers within ``timeout``.
    """
    data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
    with _LOCAL_LOCK:
        found = _running(data_dir)
        if found is not None:
            return found
        if not start:
            raise ApiError("network", f"no local server answers (data dir {data_dir})")
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # the key lives there
        lock_path = data_dir / ".launch.lock"
        with _file_lock(lock_path):
            found = _running(data_dir)  # another process may have started it meanwhile
            if found is not None:
                return found
            return _launch(
                data_dir,
                timeout=timeout,
                executor=executor or os.environ.get("FTTUI_LOCAL_EXECUTOR") or "auto",
            )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    fh = path.open("a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def _launch(data_dir: Path, *, timeout: float, executor: str) -> LocalServer:
    info_path = data_dir / "server.json"
    with contextlib.suppress(OSError):
        info_path.unlink()  # stale: its server no longer answers
    log_path = data_dir / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "fttui",
        "serve",
        "--host",
        "127.0.0.1",
        "--executor",
        executor,
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
    ]
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # 0600: the server's output is nobody else's business (the server tightens it too)
    with open(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
                cwd=str(data_dir),
            )
        except OSError as exc:
            raise ApiError("network", f"cannot start the local server: {exc}") from None
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            tail = _log_tail(log_path)
            raise ApiError(
                "network",
                f"the local server exited ({code}) while starting"
                + (f": {tail}" if tail else "")
                + f" — see {log_path}",
            )
        info = _read_json(info_path)
        if info and isinstance(info.get("base_url"), str):
            key = _read_key(data_dir)
            if key and _answers(info["base_url"], key, timeout=1.0):
                pid = info.get("pid")
                return LocalServer(
                    base_url=info["base_url"],
                    pid=pid if isinstance(pid, int) else proc.pid,
                    executor=info.get("executor"),
                    data_dir=data_dir,
                    started=True,
                    api_key=key,
                )
        time.sleep(delay)
        delay = min(0.25, delay * 1.5)
    raise ApiError(
        "network", f"the local server did not answer within {timeout:g}s — see {log_path}"
    )


def stop_local_server(data_dir: Path | None = None, *, timeout: float = 10.0) -> bool:
    """Terminate the local server recorded in ``<data_dir>/server.json``; True if one was."""
    import signal

    data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
    info = _read_json(data_dir / "server.json")
    pid = info.get("pid") if info else None
    if not _pid_alive(pid) or not _runs_fttui_serve(pid):
        return False  # a stale server.json: its pid may belong to another program by now
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:  # not ours to stop (another user), or gone just now
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return True


def recorded_server(data_dir: Path) -> tuple[str, str | None] | None:
    """(base_url, executor) from ``server.json`` when its pid is alive (no network)."""
    info = _read_json(data_dir / "server.json")
    if not info or not isinstance(info.get("base_url"), str) or not _pid_alive(info.get("pid")):
        return None
    executor = info.get("executor")
    return info["base_url"], executor if isinstance(executor, str) else None
