"""Helpers for the dataset-core tests: small valid examples and file writers.

Imported by the test modules beside it (``from support.datasets import ...``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SYSTEM = {"role": "system", "content": "You are a terse assistant."}


def chat(i: int, **extra: Any) -> dict[str, Any]:
    """A valid chat example, distinct for each ``i``."""
    return {
        "messages": [
            SYSTEM,
            {"role": "user", "content": f"What is {i} plus {i}?"},
            {"role": "assistant", "content": f"{2 * i}."},
        ],
        **extra,
    }


def preference(i: int) -> dict[str, Any]:
    return {
        "input": {"messages": [SYSTEM, {"role": "user", "content": f"Name the number {i}."}]},
        "preferred_output": [{"role": "assistant", "content": f"It is {i}."}],
        "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
    }


def prompt_completion(i: int) -> dict[str, str]:
    return {"prompt": f"Double {i} ->", "completion": f" {2 * i} END"}


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
            f.write("\n")
    return path


def valid_chat(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [chat(i) for i in range(start, start + n)]
