"""The dataset core: read, detect, check, count, estimate and prepare training files.

No Textual here, and nothing heavy at import: ``from fttui.datasets import lint_path`` is
cheap (pandas, numpy and tiktoken load only when a file is linted).

- :func:`lint_path` → :class:`LintReport` (findings, token stats, the job estimate)
- :func:`prepare_file` → :class:`PrepareResult` (convert / remediate to JSONL)
- :func:`iter_records` streams ``(line, value, finding)`` from any supported file
- :func:`detect_format`, :func:`get_encoding`, :func:`model_limits`
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fttui.datasets.findings import CHECKS, Finding, LintReport

if TYPE_CHECKING:
    from fttui.datasets.detect import detect_format
    from fttui.datasets.lint import lint_path
    from fttui.datasets.model_limits import model_limits
    from fttui.datasets.prepare import PrepareResult, prepare_file
    from fttui.datasets.read import DatasetReadError, iter_records
    from fttui.datasets.tokens import get_encoding

_LAZY = {
    "lint_path": "fttui.datasets.lint",
    "prepare_file": "fttui.datasets.prepare",
    "PrepareResult": "fttui.datasets.prepare",
    "PrepareError": "fttui.datasets.prepare",
    "iter_records": "fttui.datasets.read",
    "DatasetReadError": "fttui.datasets.read",
    "detect_format": "fttui.datasets.detect",
    "get_encoding": "fttui.datasets.tokens",
    "TokenizerUnavailable": "fttui.datasets.tokens",
    "model_limits": "fttui.datasets.model_limits",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fttui.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CHECKS",
    "DatasetReadError",
    "Finding",
    "LintReport",
    "PrepareError",
    "PrepareResult",
    "TokenizerUnavailable",
    "detect_format",
    "get_encoding",
    "iter_records",
    "lint_path",
    "model_limits",
    "prepare_file",
]
