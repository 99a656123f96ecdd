"""The create form's estimate says what it counts: OpenAI's billed tokens for the model, not
the trained_tokens a job on ``fttui serve`` reports (issue 9: 6,216 estimated vs 8,205
trained, because the sim counts bytes / 4 of the JSONL and the trainer its own tokenizer)."""

from __future__ import annotations

from pathlib import Path

from fttui.datasets import lint_path
from fttui.datasets.prepare import prepare_file
from fttui.tui.screens.create_job import lint_summary

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_create_form_estimate_says_it_is_openais_count_not_serves_trained_tokens(
    tmp_path: Path,
) -> None:
    out = tmp_path / "superhero.jsonl"
    prepare_file(FIXTURES / "superhero.csv", out)
    report = lint_path(out, model="davinci-002")
    text = lint_summary(report).plain
    assert f"{report.estimate['billed_tokens']:,} billed tokens" in text
    assert "billed tokens: OpenAI's count for davinci-002" in text
    assert "fttui serve's trained_tokens use its own tokenizer" in text
