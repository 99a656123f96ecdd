"""Helpers shared by the CLI subcommands: errors, JSON output."""

from __future__ import annotations

import sys
from typing import Any


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
