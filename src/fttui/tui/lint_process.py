"""Lint a big file in a child process, so the app's UI thread never waits for the GIL.

``fttui.datasets.lint_path`` is CPU-bound Python (JSON parsing, checks) plus tiktoken. Run
in a thread of the app, it competes with the UI thread for the GIL: on a 200 MB file a key
press took up to a second to show. In a child process the UI keeps its interpreter to
itself. The calling thread worker waits here (blocking), gets progress and the
``LintReport`` (pickled) back through a pipe, and stops the child when ``should_stop()``
turns true.

A plain ``subprocess`` (``python -m fttui.tui.lint_process``), not ``multiprocessing``:
under a running app ``sys.stderr`` is Textual's capture object, which multiprocessing's
resource tracker cannot pass on. No Textual import here.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

#: files at least this big are linted in a child process (smaller ones lint in < 1 s)
IN_PROCESS_MIN_BYTES = 16 * 1024 * 1024
PROGRESS_INTERVAL = 0.1
_HEADER = struct.Struct("!I")


class LintProcessError(RuntimeError):
    """The linter could not run (its process died, or gave no report)."""


# -- the child ----------------------------------------------------------------------------


def _child_main(argv: list[str]) -> int:
    import json

    out = os.fdopen(os.dup(1), "wb")
    # the terminal belongs to the app: nothing the child prints may reach it
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    args = json.loads(argv[0])
    stop = threading.Event()

    def watch_stdin() -> None:  # any byte, or the parent going away, means stop
        try:
            sys.stdin.buffer.read(1)
        finally:
            stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    def send(message: tuple) -> None:
        blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(blob)) + blob)
        out.flush()

    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL:
            last = now
            send(("progress", done, total))

    try:
        from fttui.datasets import lint_path

        report = lint_path(
            args["path"], progress=progress, should_stop=stop.is_set, **args["kwargs"]
        )
        send(("report", None if stop.is_set() else report))
    except BaseException as exc:  # everything goes back to the app as one line
        send(("error", type(exc).__name__, str(exc), isinstance(exc, OSError)))
    out.close()
    return 0


# -- the parent ---------------------------------------------------------------------------


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def lint_in_process(
    path: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    **kwargs: Any,
) -> Any:
    """``lint_path(path, **kwargs)`` in a child process; blocking (call it from a worker).

    Returns the ``LintReport``, or None when ``should_stop()`` ended it early. Raises
    ``OSError`` when the file cannot be read, ``LintProcessError`` for anything else.
    """
    import json
    import select

    import fttui

    src_root = os.path.dirname(os.path.dirname(os.path.abspath(fttui.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src_root, env.get("PYTHONPATH")) if p)
    args = json.dumps({"path": os.fspath(path), "kwargs": kwargs})
    proc = subprocess.Popen(
        [sys.executable, "-m", "fttui.tui.lint_process", args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    fd = proc.stdout.fileno()
    try:
        while True:
            if should_stop is not None and should_stop():
                return None
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
                message = pickle.loads(_read_exact(fd, size))
            except EOFError:
                proc.wait(5)
                raise LintProcessError(
                    f"the linter stopped unexpectedly (exit code {proc.returncode})"
                ) from None
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1], message[2])
            elif message[0] == "report":
                return message[1]
            else:
                _, name, text, is_os_error = message
                if is_os_error:
                    raise OSError(text)
                raise LintProcessError(f"{name}: {text}" if text else name)
    finally:
        try:
            proc.stdin.write(b"x")  # stop, if it is still running
            proc.stdin.close()
        except OSError:
            pass
        proc.stdout.close()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def lint(path: str, **kwargs: Any) -> Any:
    """Lint ``path`` in this thread when small, in a child process when big."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if size >= IN_PROCESS_MIN_BYTES:
        return lint_in_process(path, **kwargs)
    from fttui.datasets import lint_path

    return lint_path(path, **kwargs)


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))
