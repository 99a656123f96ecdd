"""The ``validating_files`` step: run the dataset checks on a training or validation file."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileCheck:
    """What the job needs to know about one file: size, format and its errors."""

    examples: int
    format: str
    #: (code, line, message) of each error, in file order
    errors: list[tuple[str, int | None, str]] = field(default_factory=list)


def check_file(path: str, *, model: str) -> FileCheck:
    """Lint ``path`` with the dataset core, as ``fttui lint`` would."""
    from fttui.datasets import lint_path

    report = lint_path(path, model=model)
    errors = [(f.code, f.line, f.message) for f in report.errors]
    return FileCheck(examples=report.examples, format=report.format, errors=errors)
