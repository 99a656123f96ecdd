"""`fttui eval --grader` with a cosine `text_similarity` grader, end to end: the CLI embeds
each answer and its reference through the provider's `/v1/embeddings` (a live `fttui serve
--executor sim`), and each item's score is the cosine of those two vectors as computed here
by hand from the same endpoint. A provider without the embedding model: a grading problem on
each item, said plainly, and the run still ends with its scoreboard."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_eval_cli import fttui, rows

from support.live_server import FIXTURES, wait_for

CHAT = FIXTURES / "chat_valid.jsonl"
BASE = "gpt-4o-mini-2024-07-18"
COSINE = {
    "type": "text_similarity",
    "name": "meaning",
    "evaluation_metric": "cosine",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference}}",
}


@pytest.fixture(scope="module")
def tuned_model(sim_server) -> str:
    client = sim_server.client()
    with CHAT.open("rb") as fh:
        f = client.files.create(file=(CHAT.name, fh), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=BASE, training_file=f.id, metadata={"sim_seconds_per_step": "0.002"}
    )
    wait_for(
        lambda: client.fine_tuning.jobs.retrieve(job.id).status == "succeeded",
        60,
        "the sim job to succeed",
    )
    return str(client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_a_cosine_grader_scores_each_item_by_the_providers_embeddings(
    sim_server, tuned_model, tmp_path: Path
):
    grader = tmp_path / "cosine.json"
    grader.write_text(json.dumps(COSINE))
    out = tmp_path / "results.jsonl"
    r = fttui(
        sim_server,
        "eval",
        str(CHAT),
        "-m",
        BASE,
        "-m",
        tuned_model,
        "--grader",
        str(grader),
        "--embedding-model",
        BASE,
        "--limit",
        "4",
        "-o",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["scorer"] == "grader meaning (text_similarity)"
    models = {m["model"]: m for m in report["models"]}
    assert all(m["grading_problems"] == 0 and m["n"] == 4 for m in models.values())
    # the tuned sim model answers "[simulated] Paris." to "Paris.": close in meaning; the base
    # model's canned paragraph is not
    assert models[tuned_model]["mean"] > 0.6
    assert models[BASE]["mean"] < 0.3

    client = sim_server.client()

    def vector(text: str) -> list[float]:
        resp = client.embeddings.create(model=BASE, input=text, encoding_format="float")
        return resp.data[0].embedding

    results = rows(out)
    assert len(results) == 8
    for row in results:
        want = cosine(vector(row["output"]), vector(row["reference"]))
        # the CLI reads the SDK's default base64 (float32), here floats: 1e-5 apart at most
        assert row["score"] == pytest.approx(want, abs=1e-5), row


def test_a_provider_without_the_embedding_model_is_a_grading_problem_on_each_item(
    sim_server, tmp_path: Path
):
    grader = tmp_path / "cosine.json"
    grader.write_text(json.dumps(COSINE))
    out = tmp_path / "results.jsonl"
    # the default embedding model is OpenAI's text-embedding-3-small: the sim server lacks it
    r = fttui(
        sim_server,
        "eval",
        str(CHAT),
        "-m",
        BASE,
        "--grader",
        str(grader),
        "--limit",
        "3",
        "-o",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    report = json.loads(r.stdout)
    (model,) = report["models"]
    assert model["n"] == 3 and model["grading_problems"] == 3
    assert [p["line"] for p in report["grading_problems"]] == [1, 2, 3]
    for row in rows(out):
        assert row["score"] == 0.0
        problem = row["grading_problem"]
        assert problem.startswith("other_error: cosine similarity: the embeddings failed")
        assert "text-embedding-3-small" in problem, problem


def test_the_text_scoreboard_says_why_items_could_not_be_graded(sim_server, tmp_path: Path):
    grader = tmp_path / "cosine.json"
    grader.write_text(json.dumps(COSINE))
    r = fttui(sim_server, "eval", str(CHAT), "-m", BASE, "--grader", str(grader), "--limit", "2")
    assert r.returncode == 0, r.stderr
    assert "2 answers could not be graded (scored 0):" in r.stderr
    assert "line 1 gpt-4o-mini-2024-07-18: other_error: cosine similarity" in r.stderr
    assert "text-embedding-3-small" in r.stderr and "Traceback" not in r.stderr
