"""What the linter reports: findings and the whole report.

These types are the contract between the dataset core and its users (``fttui lint``, the
local server's ``validating_files`` step, job creation, the TUI's findings list).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a training file.

    ``code`` is stable (scripts and the docs key on it), ``line`` is the 1-based line of the
    example in the file (None for file-level findings), ``hint`` says how to fix it.
    """

    code: str
    severity: Severity
    line: int | None
    message: str
    hint: str = ""
    column: int | None = None  #: 1-based column, where it means something (invalid_json)
    file: str | None = None  #: set for findings about the validation file

    def to_dict(self) -> dict[str, Any]:
        data = {
            "code": self.code,
            "severity": self.severity,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
        }
        if self.column is not None:
            data["column"] = self.column
        if self.file is not None:
            data["file"] = self.file
        return data


@dataclass
class LintReport:
    """Everything ``lint`` learns about one file (and optionally its validation file).

    ``format`` is one of ``chat``, ``preference``, ``prompt_completion``, ``mixed`` or
    ``unknown``. ``stats`` holds token statistics, ``estimate`` the epochs / billed tokens /
    cost estimate (see ``fttui.datasets.estimate``).
    """

    file: str
    format: str = "unknown"
    examples: int = 0
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict)
    findings_truncated: int = 0  #: findings left out by ``max_findings``
    validation: LintReport | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings) or bool(
            self.validation and self.validation.has_errors
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``fttui lint --format json`` object."""
        data: dict[str, Any] = {
            "file": self.file,
            "format": self.format,
            "examples": self.examples,
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats,
            "estimate": self.estimate,
        }
        if self.findings_truncated:
            data["findings_truncated"] = self.findings_truncated
        if self.validation is not None:
            data["validation"] = self.validation.to_dict()
        return data


__all__ = ["SEVERITY_ORDER", "Finding", "LintReport", "Severity", "asdict"]
