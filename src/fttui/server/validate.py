"""The ``validating_files`` step: run the dataset checks on a training or validation file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FileCheck:
    """What the job needs to know about one file: size, format and its errors."""

    examples: int
    format: str
    #: (code, line, message) of each error, in file order
    errors: list[tuple[str, int | None, str]] = field(default_factory=list)


def check_file(
    path: str, *, model: str, method: str | None = None, grader: Any = None
) -> FileCheck:
    """Lint ``path`` with the dataset core, as ``fttui lint --method … --grader …`` would."""
    from fttui.datasets import lint_path

    # supervised and dpo files are told apart by their format (the job's check says which
    # method they need); only RFT data is checked as such, with the grader's fields
    rft = method == "reinforcement"
    report = lint_path(
        path, model=model, method=method if rft else None, grader=grader if rft else None
    )
    errors = [(f.code, f.line, f.message) for f in report.errors]
    return FileCheck(examples=report.examples, format=report.format, errors=errors)
