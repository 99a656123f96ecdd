"""The README's datasets section lists every finding code with its severity."""

from __future__ import annotations

from pathlib import Path

from fttui.datasets.findings import CHECKS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_code() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[
        text.index("<!-- section:datasets -->") : text.index("<!-- /section:datasets -->")
    ]
    for check in CHECKS.values():
        assert f"| `{check.code}` | {check.severity} |" in section, check.code
