"""`fttui lint --method reinforcement --grader G.json`: the RFT shape and the grader's fields."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from fttui.datasets import lint_path
from fttui.datasets.rft import grader_item_fields, has_field
from support.datasets import valid_chat, write_jsonl

GRADER = {
    "type": "multi",
    "name": "answer and unit",
    "graders": {
        "answer": {
            "type": "string_check",
            "name": "answer",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.reference_answer }}",
            "operation": "ilike",
        },
        "judge": {
            "type": "score_model",
            "name": "judge",
            "model": "gpt-4o-mini",
            "input": [
                {
                    "role": "user",
                    "content": "Unit {{item.meta.unit}}, gold {{item.reference_answer}}: {{sample.output_text}}",
                },
            ],
        },
        "first_alias": {
            "type": "text_similarity",
            "name": "alias",
            "input": "{{sample.output_text}}",
            "reference": "{{item.aliases[0]}}",
            "evaluation_metric": "fuzzy_match",
        },
    },
    "calculate_output": "0.5 * answer + 0.25 * judge + 0.25 * first_alias",
}


def rft_example(i: int, **extra: Any) -> dict[str, Any]:
    example = {
        "messages": [
            {"role": "developer", "content": "Answer with the distance only."},
            {"role": "user", "content": f"How far is city {i} from the coast?"},
        ],
        "reference_answer": f"{i} km",
        "aliases": [f"{i} kilometres"],
        "meta": {"unit": "km"},
    }
    example.update(extra)
    return example


def test_the_fields_a_grader_reads_are_found_in_every_template_once() -> None:
    assert grader_item_fields(GRADER) == ["reference_answer", "meta.unit", "aliases[0]"]
    assert grader_item_fields({"type": "string_check", "input": "{{sample.output_text}}"}) == []


def test_a_field_path_resolves_through_keys_and_list_indices() -> None:
    example = rft_example(3)
    assert has_field(example, "meta.unit")
    assert has_field(example, "aliases[0]")
    assert not has_field(example, "aliases[1]")
    assert not has_field(example, "meta.scale")
    assert not has_field(example, "reference_answer.value")


def test_valid_rft_data_with_its_grader_has_no_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rft.jsonl", [rft_example(i) for i in range(60)])
    report = lint_path(path, method="reinforcement", grader=GRADER)
    codes = {f.code for f in report.findings}
    assert not report.has_errors, [f.message for f in report.findings]
    # a developer message, no assistant reply and extra reference fields are all right in RFT
    assert not codes & {
        "unrecognized_role",
        "example_missing_assistant_message",
        "example_unrecognized_key",
    }
    assert "missing_system_message" not in codes  # the developer message is the system message


def test_rft_data_linted_as_supervised_says_what_it_looks_like(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rft.jsonl", [rft_example(i) for i in range(60)])
    report = lint_path(path)
    suspected = [f for f in report.findings if f.code == "rft_data_suspected"]
    assert suspected and "--method reinforcement" in suspected[0].hint


def test_each_example_missing_a_grader_field_is_named_at_its_line(tmp_path: Path) -> None:
    rows = [rft_example(i) for i in range(20)]
    del rows[4]["meta"]  # line 5
    rows[9]["aliases"] = []  # line 10
    path = write_jsonl(tmp_path / "rft.jsonl", rows)
    report = lint_path(path, method="reinforcement", grader=GRADER)
    missing = [(f.line, f.message) for f in report.findings if f.code == "rft_grader_field_missing"]
    assert [line for line, _ in missing] == [5, 10]
    assert "{{item.meta.unit}}" in missing[0][1]
    assert "{{item.aliases[0]}}" in missing[1][1]


def test_a_dpo_job_on_chat_data_is_a_method_mismatch(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "chat.jsonl", valid_chat(20))
    report = lint_path(path, method="dpo")
    assert [f.code for f in report.findings if f.severity == "error"] == ["method_format_mismatch"]
    assert not lint_path(path, method="supervised").has_errors


def fttui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fttui", *args], capture_output=True, text=True, timeout=120
    )


def test_the_cli_takes_a_grader_and_reports_missing_fields_as_json(tmp_path: Path) -> None:
    rows = [rft_example(i) for i in range(12)]
    del rows[2]["reference_answer"]
    data = write_jsonl(tmp_path / "rft.jsonl", rows)
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(GRADER))
    done = fttui("lint", str(data), "--grader", str(grader), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    found = [f for f in report["findings"] if f["code"] == "rft_grader_field_missing"]
    assert [f["line"] for f in found] == [3]
    # the same file with the field back is clean
    rows[2]["reference_answer"] = "2 km"
    write_jsonl(data, rows)
    assert fttui("lint", str(data), "--grader", str(grader)).returncode == 0


def test_a_bad_grader_file_is_a_usage_error_before_the_data_is_read(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rft.jsonl", [rft_example(i) for i in range(12)])
    bad = tmp_path / "bad.json"
    for text, says in (
        ("{not json", "is not valid JSON"),
        ('["string_check"]', "must be a JSON object with a `type`"),
        (
            '{"type": "string_check", "name": "x", "input": "{{sample.output_text}}", '
            '"reference": "a", "operation": "startswith"}',
            "grader.operation",
        ),
    ):
        bad.write_text(text)
        done = fttui("lint", str(data), "--grader", str(bad))
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    done = fttui("lint", str(data), "--grader", str(tmp_path / "nope.json"))
    assert done.returncode == 2 and "cannot read the grader" in done.stderr
    bad.write_text(json.dumps(GRADER))
    done = fttui("lint", str(data), "--grader", str(bad), "--method", "dpo")
    assert done.returncode == 2 and "reinforcement" in done.stderr
