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
    ``lint``, ``jobs create`` and ``eval`` alike."""
    import orjson

    try:
        with open(path, "rb") as fh:
            grader = orjson.loads(fh.read())
    except OSError as exc:
        raise CliError(
            f"cannot read the grader {path}: {exc.strerror or exc}", exit_code=2
        ) from None
    except orjson.JSONDecodeError as exc:
        raise CliError(f"the grader {path} is not valid JSON: {exc}", exit_code=2) from None
    if isinstance(grader, dict) and isinstance(grader.get("grader"), dict):
        grader = grader["grader"]  # the body of /graders/run or /validate
    if not isinstance(grader, dict) or not isinstance(grader.get("type"), str):
        raise CliError(
            f"the grader {path} must be a JSON object with a `type` (string_check, "
            "text_similarity, score_model, label_model, python or multi)",
            exit_code=2,
        )
    from fttui.evals import validate

    # the same rules as the graders endpoints: a bad grader is refused before any upload
    errors = validate(grader)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise CliError(f"the grader {path} is invalid: {errors[0]}{more}", exit_code=2)
    return grader
