"""Helpers shared by the CLI subcommands: errors, JSON output, terminal checks."""

from __future__ import annotations

import sys
from typing import Any

_STDOUT = object()


def is_tty(stream: Any = _STDOUT) -> bool:
    """Whether ``stream`` (default stdout) is a terminal; a closed stream (None) is not."""
    stream = sys.stdout if stream is _STDOUT else stream
    if stream is None:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class CliError(Exception):
    """A failure to report as one clear line on stderr (no traceback) with an exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON on stdout (orjson: fast, handles dataclasses)."""
    import orjson

    sys.stdout.write(
        orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_DATACLASS).decode()
        + "\n"
    )


def read_grader(path: str) -> dict[str, Any]:
    """The grader JSON (or the ``{"grader": …}`` body of the graders endpoints), validated
    by :mod:`fttui.evals`; a usage error (exit 2) that says what is wrong otherwise. Used by
    ``lint``, ``jobs create`` and ``eval`` alike (the app's Evals pane reads it the same
    way, through :func:`fttui.api.evaluate.read_grader`)."""
    from fttui.api.evaluate import EvalSetupError
    from fttui.api.evaluate import read_grader as read

    try:
        return read(path)
    except EvalSetupError as exc:
        raise CliError(str(exc), exit_code=2) from None
