"""`fttui eval` on RFT data: chat that ends on the user's turn, the expected answer in a
field of the example the grader reads (``{{item.answer}}``). Each example is sent as it is
and scored by the grader; a built-in metric, which needs a reference, says it cannot.
Against a live `fttui serve --executor sim`, whose base model echoes the user's last turn
("You said: “…”"): an answer the question spells out is found in the reply, others not."""

from __future__ import annotations

import json

from test_eval_cli import fttui, rows

BASE = "gpt-4o-mini-2024-07-18"
QUESTIONS = [
    ("Say the word Paris.", "Paris", True),
    ("What is the capital of Italy?", "Rome", False),
    ("Repeat after me: Gracias.", "Gracias", True),
    ("Name a large mammal.", "elephant", False),
]
CONTAINS_ANSWER = {
    "type": "string_check",
    "name": "has-answer",
    "operation": "ilike",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
}


def rft_file(tmp_path):
    path = tmp_path / "rft.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "developer", "content": "Answer in one word."},
                        {"role": "user", "content": q},
                    ],
                    "answer": a,
                }
            )
            + "\n"
            for q, a, _ in QUESTIONS
        )
    )
    return path


def test_rft_data_is_sent_whole_and_scored_by_a_grader_reading_the_items_fields(
    sim_server, tmp_path
):
    data, grader, out = rft_file(tmp_path), tmp_path / "g.json", tmp_path / "r.jsonl"
    grader.write_text(json.dumps(CONTAINS_ANSWER))
    r = fttui(sim_server, "eval", str(data), "-m", BASE, "--grader", str(grader), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "without a reference" not in r.stdout
    final = sorted(rows(out), key=lambda x: x["item"])
    assert [x["score"] for x in final] == [float(hit) for _, _, hit in QUESTIONS]
    for row, (question, _, _) in zip(final, QUESTIONS, strict=True):
        assert question in row["output"]  # the user's turn was sent (and echoed)
        assert row["reference"] is None and not row.get("grading_problem")
    r = fttui(
        sim_server, "eval", str(data), "-m", BASE, "--grader", str(grader), "--json", "--limit", "2"
    )
    report = json.loads(r.stdout)
    assert report["models"][0]["n"] == 2 and report["models"][0]["mean"] == 0.5
    assert report["no_reference"]["count"] == 0


def test_rft_data_with_a_builtin_metric_is_refused_naming_the_grader_way(sim_server, tmp_path):
    r = fttui(sim_server, "eval", str(rft_file(tmp_path)), "-m", BASE, "--metric", "contains")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "line 1: ends on the user's turn (RFT data)" in r.stderr
    assert "grade its fields with --grader (e.g. {{item.answer}})" in r.stderr


def test_an_rft_grader_reading_a_reference_the_data_lacks_is_a_grading_problem(
    sim_server, tmp_path
):
    grader = tmp_path / "g.json"
    grader.write_text(json.dumps(CONTAINS_ANSWER | {"reference": "{{item.reference}}"}))
    r = fttui(
        sim_server, "eval", str(rft_file(tmp_path)), "-m", BASE, "--grader", str(grader), "--json"
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["models"][0]["grading_problems"] == 4
    assert "invalid_variable_error" in report["grading_problems"][0]["problem"]
    assert "'reference'" in report["grading_problems"][0]["problem"]
