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
    """Lint ``path`` with the dataset core (``fttui.datasets.lint_path``)."""
    try:
        from fttui.datasets import lint_path
    except ImportError:  # the dataset core is not built yet: only check that lines parse
        return _parse_only(path)
    report = lint_path(path, model=model)
    errors = [(f.code, f.line, f.message) for f in report.errors]
    return FileCheck(examples=report.examples, format=report.format, errors=errors)


def _parse_only(path: str) -> FileCheck:
    import json

    check = FileCheck(examples=0, format="unknown")
    with open(path, "rb") as fh:
        for line, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            check.examples += 1
            try:
                value = json.loads(raw)
            except ValueError as exc:
                check.errors.append(("invalid_json", line, f"not valid JSON: {exc}"))
                continue
            if not isinstance(value, dict):
                check.errors.append(("data_type", line, "the line is not a JSON object"))
            elif check.format == "unknown":
                check.format = ("chat" if "messages" in value else "preference"
                                if "input" in value else "prompt_completion"
                                if "prompt" in value else "unknown")
    return check
