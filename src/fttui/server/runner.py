"""Start ``fttui serve``: key, data folder lock, executor, socket, ``server.json``, uvicorn."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.server.index import DB_FILE, Found, IndexError_, check, rebuild, restore
from fttui.text import plural

SERVER_FILE = "server.json"
KEY_FILE = "api_key"
LOCK_FILE = "server.lock"


class ServeError(Exception):
    """Why the server cannot start, in one line."""


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = field(default_factory=Path)
    executor: str = "torch"
    token: str | None = None
    base_models: dict[str, str] = field(default_factory=dict)
    faults: dict[str, float] = field(default_factory=dict)
    faults_seed: int | None = None
    max_upload_mb: float = 512
    max_request_tokens: int | None = None  #: None: the server's default
    rebuild_index: bool = False  #: rebuild the database from the folders, then exit
    ray_address: str | None = None  #: the ``ray`` executor's cluster (dashboard URL)
    storage: str | None = None  #: the ``ray`` executor's job storage (path or fsspec URL)
    #: fsspec options of an object-store ``storage`` (``--storage-option KEY=VALUE``)
    storage_options: dict[str, Any] = field(default_factory=dict)
    ray_pending_timeout: float = 600.0  #: seconds a Ray job may wait for resources


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600), atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def make_private(data_dir: Path) -> None:
    """Make ``data_dir`` the owner's alone: 0700, and every file this process makes 0600.

    The folder holds the API key, the database and the user's data; the app creates it
    (and ``server.log``) before this server runs, with the user's umask (often 0755/0644).
    A folder that was open to others (made by an older version) has everything below it
    tightened once: its files were created 0644.
    """
    os.umask(0o077)  # the database, its -wal/-shm, uploads, job folders, trainer output
    mode = data_dir.stat().st_mode & 0o777
    if mode & 0o077:
        for root, dirs, files in os.walk(data_dir):
            for name in dirs + files:
                path = Path(root) / name
                with contextlib.suppress(OSError):
                    if not path.is_symlink():
                        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    if mode != 0o700:
        os.chmod(data_dir, 0o700)
    with contextlib.suppress(OSError):  # opened by the app before we ran, with its umask
        os.chmod(data_dir / "server.log", 0o600)


def load_or_create_key(data_dir: Path) -> tuple[str, bool]:
    """The key stored in ``<data_dir>/api_key`` (made and stored 0600 on first use)."""
    return load_or_create_secret(data_dir / KEY_FILE, prefix="sk-fttui-")


def load_or_create_secret(path: Path, *, prefix: str, renew: bool = False) -> tuple[str, bool]:
    """The secret stored in ``path``, made (``prefix`` + 32 random bytes) and stored 0600 on
    first use or when ``renew``; True when it was made now. ``fttui web`` keeps its token so."""
    if not renew:
        with contextlib.suppress(FileNotFoundError):
            secret = path.read_text(encoding="utf-8").strip()
            if secret:
                return secret, False
    secret = prefix + secrets.token_urlsafe(32)
    write_private(path, secret + "\n")
    return secret, True


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``<data_dir>/server.lock``: one server per data folder."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock, carry on
        yield
        return
    with _folder_errors(data_dir):
        fh = (data_dir / LOCK_FILE).open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = ""
            with contextlib.suppress(OSError, ValueError):
                info = json.loads((data_dir / SERVER_FILE).read_text())
                other = f" (pid {info.get('pid')}, {info.get('base_url')})"
            raise ServeError(f"another fttui serve is already using {data_dir}{other}") from None
        yield
    finally:
        fh.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP (not 0): asyncio only sets TCP_NODELAY on connections from such a
    # socket; without it Nagle + delayed ACKs add ~40 ms to every small response
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url_of(host: str, port: int) -> str:
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/v1"


def _to_terminal() -> bool:
    """Whether our output goes to an interactive terminal (not a log file or a pipe)."""
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # replaced by an object without a fd
        return False


@contextlib.contextmanager
def _folder_errors(data_dir: Path) -> Iterator[None]:
    """An unusable data folder (a file, no permission, a damaged database) → one line."""
    import sqlite3

    try:
        yield
    except (OSError, sqlite3.DatabaseError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        where = getattr(exc, "filename", None)
        if isinstance(exc, sqlite3.DatabaseError):
            where = data_dir / "fttui.sqlite3"
        where = f"{where}: " if where and Path(where) != data_dir else ""
        raise ServeError(f"cannot use the data folder {data_dir}: {where}{reason}") from None


#: test hook: when set, every write under the data dir fails with ENOSPC (a full disk)
#: while the file it names exists; the tests use it where no small filesystem can be made
ENOSPC_FLAG_ENV = "FTTUI_FAULT_ENOSPC"


def _install_disk_full_fault(data_dir: Path, flag: str) -> None:
    """Make opening a file for writing under ``data_dir`` fail as on a full disk while
    ``flag`` exists (``io.open``/``open`` and ``os.open``; SQLite's own writes go on)."""
    import builtins
    import errno
    import io

    root = str(data_dir) + os.sep
    real_io_open, real_os_open = io.open, os.open

    def full(path: object) -> bool:
        name = os.fspath(path) if isinstance(path, str | os.PathLike) else ""
        return isinstance(name, str) and name.startswith(root) and os.path.exists(flag)

    def fail(path: str | os.PathLike[str]) -> OSError:  # a path full() matched
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))

    def io_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and full(file):
            raise fail(file)
        return real_io_open(file, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR) and full(path):
            raise fail(path)
        return real_os_open(path, flags, *args, **kwargs)

    io.open = builtins.open = io_open
    os.open = os_open


def serve(options: ServeOptions, say: Callable[[str], None] = print) -> int:
    """Run the server until SIGINT/SIGTERM. Raises ``ServeError`` when it cannot start."""
    from fttui.server.executors import ExecutorUnavailable, get_executor, resolve_name

    if not is_loopback(options.host) and not options.token:
        raise ServeError(
            f"refusing to listen on {options.host} (not loopback) without an "
            "explicit --token: anyone who can reach it could use it"
        )
    data_dir = options.data_dir.expanduser().resolve()
    with _folder_errors(data_dir):
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_private(data_dir)
    if flag := os.environ.get(ENOSPC_FLAG_ENV):
        _install_disk_full_fault(data_dir, flag)
    with data_dir_lock(data_dir):
        name = resolve_name(options.executor)
        if options.rebuild_index:
            with _folder_errors(data_dir):
                done = rebuild(data_dir, name)
            for line in done:
                say(f"fttui serve: {line}")
            say(f"fttui serve: rebuilt {data_dir / DB_FILE}; start the server as usual")
            return 0
        with _folder_errors(data_dir):
            try:
                found = check(data_dir)
            except IndexError_ as exc:
                raise ServeError(str(exc)) from None
        if options.executor == "auto":
            say(
                f"fttui serve: executor auto → {name}"
                + (" (torch, transformers or peft missing)" if name == "sim" else "")
            )
        try:
            executor = get_executor(
                name,
                data_dir=data_dir,
                base_models=options.base_models,
                ray_address=options.ray_address,
                storage=options.storage,
                storage_options=options.storage_options,
                ray_pending_timeout=options.ray_pending_timeout,
            )
        except ExecutorUnavailable as exc:
            raise ServeError(str(exc)) from None
        if options.token:
            key, created = options.token, False
        else:
            with _folder_errors(data_dir):
                key, created = load_or_create_key(data_dir)
        sock = bind(options.host, options.port)
        return _run(options, data_dir, executor, key, created, sock, say, found)


def _run(
    options: ServeOptions,
    data_dir: Path,
    executor,
    key: str,
    created: bool,
    sock: socket.socket,
    say: Callable[[str], None],
    found: Found | None = None,
) -> int:
    import uvicorn

    from fttui.server.announcing import AnnouncingServer
    from fttui.server.app import ServerConfig, build_services, create_app

    config = ServerConfig(
        data_dir=data_dir,
        api_key=key,
        max_upload_bytes=int(options.max_upload_mb * 1024 * 1024),
        faults=options.faults,
        faults_seed=options.faults_seed,
    )
    if options.max_request_tokens is not None:
        config.max_request_tokens = options.max_request_tokens
    with _folder_errors(data_dir):
        services = build_services(config, executor)
        if found is not None and (found.missing_jobs or found.missing_files):
            # the database lost its last writes (a -wal deleted after a kill -9): what is
            # on disk but not in it is added back, and said, rather than hidden
            with services.store.tx() as conn:
                done = restore(
                    data_dir, conn, found.missing_jobs, found.missing_files, executor.name
                )
            say(
                f"fttui serve: {plural(len(found.missing_jobs), 'job folder', grouped=False)} and "
                f"{plural(len(found.missing_files), 'file', grouped=False)} were missing from {DB_FILE}: "
                + "; ".join(done)
            )

    # From here until uvicorn serves, a SIGTERM or SIGHUP (a closed terminal or SSH session)
    # is only noted: raised as SystemExit while asyncio built its loop, it left a half-built
    # loop printing a traceback. Noted, the server starts and stops at once (see
    # AnnouncingServer), gracefully: training pauses and resumes on restart. After its
    # graceful shutdown uvicorn raises SIGTERM again with the handler it found: this one,
    # so the cleanup below runs and the exit is 0.
    stop_asked = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda _sig, _frame: stop_asked.set())
    services.jobs.start()
    port = sock.getsockname()[1]
    base_url = base_url_of(options.host, port)
    server_file = data_dir / SERVER_FILE
    try:
        label = (
            "simulated training: nothing is really trained, answers are labelled"
            if executor.name == "sim"
            else "real training on a Ray cluster"
            if executor.name == "ray"
            else "real training on this machine"
        )
        say(f"fttui serve: {executor.name} executor ({label}); data in {data_dir}")
        for line in executor.startup_lines():
            say(line)
        say(f"Base URL:  {base_url}")
        if options.token:
            say("API key:   the one given with --token")
        elif _to_terminal():
            say(f"API key:   {key}  ({'new, ' if created else ''}stored in {data_dir / KEY_FILE})")
        else:
            # output to a file or pipe (the app's server.log, a service's journal): the key
            # must not end up in a log others may read; the key file is 0600
            say(f"API key:   in {data_dir / KEY_FILE}{' (new)' if created else ''}")
        if options.faults:
            rates = ", ".join(f"{k}={v:g}" for k, v in options.faults.items())
            say(f"Faults:    {rates} (seed {options.faults_seed})")
        say(f"Try:       curl -H 'Authorization: Bearer <key>' {base_url}/models")
        sys.stdout.flush()
        app = create_app(config, services)
        uv_config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
            proxy_headers=False,
        )
        announce = json.dumps({"base_url": base_url, "pid": os.getpid(), "executor": executor.name})
        AnnouncingServer(
            uv_config, lambda: write_private(server_file, announce + "\n"), stop_asked.is_set
        ).run(sockets=[sock])
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(server_file.read_text()).get("pid") == os.getpid():
                server_file.unlink()
        services.jobs.close()
        services.store.close()
        sock.close()
    return 0
