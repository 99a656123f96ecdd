"""`fttui eval` end to end against a live `fttui serve --executor sim`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from support.live_server import FIXTURES, make_server, wait_for

CHAT = FIXTURES / "chat_valid.jsonl"
BASE = "gpt-4o-mini-2024-07-18"


def combo_grader(operation: str) -> dict:
    """A multi grader: a string_check (``operation``) and ROUGE-L, averaged."""
    check = {"input": "{{sample.output_text}}", "reference": "{{item.reference}}"}
    return {
        "type": "multi",
        "name": "combo",
        "graders": {
            "same": {"type": "string_check", "name": "same", "operation": operation, **check},
            "words": {
                "type": "text_similarity",
                "name": "words",
                "evaluation_metric": "rouge_l",
                **check,
            },
        },
        "calculate_output": "(same + words) / 2",
    }


def fttui(server, *argv: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "FTTUI_HOME": str(server.data_dir.parent), "FTTUI_QUIET_LOCAL": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fttui",
            "--base-url",
            server.base_url,
            "--api-key",
            server.api_key,
            *argv,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def fine_tuned_job(sim_server):
    client = sim_server.client()
    with CHAT.open("rb") as fh:
        f = client.files.create(file=(CHAT.name, fh), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=BASE,
        training_file=f.id,
        hyperparameters={"n_epochs": 2},
        metadata={"sim_seconds_per_step": "0.005"},
    )
    wait_for(
        lambda: client.fine_tuning.jobs.retrieve(job.id).status == "succeeded",
        60,
        "the sim job to succeed",
    )
    return client.fine_tuning.jobs.retrieve(job.id)


def test_the_fine_tuned_model_and_its_checkpoints_beat_the_base_model(
    sim_server, fine_tuned_job, tmp_path
):
    out = tmp_path / "results.jsonl"
    r = fttui(
        sim_server,
        "eval",
        str(CHAT),
        "-m",
        BASE,
        "-m",
        f"job:{fine_tuned_job.id}",
        "--metric",
        "contains",
        "-o",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    models = {m["model"]: m for m in report["models"]}
    assert fine_tuned_job.fine_tuned_model in models
    assert any(":ckpt-step-" in name for name in models)  # the job's checkpoints too
    base, tuned = models[BASE], models[fine_tuned_job.fine_tuned_model]
    # The sim base model answers canned text; its fine-tune answers its training answers
    # (after a "[simulated]" label, so the reference is contained, not equal).
    assert base["mean"] == 0.0 and base["pass_rate"] == 0.0
    assert tuned["mean"] > 0.9 and tuned["ci95"][0] <= tuned["mean"] <= tuned["ci95"][1]
    assert tuned["latency_p50_ms"] > 0 and tuned["completion_tokens"] > 0
    # 19 items have a reference; line 13's assistant message is empty: listed, not scored.
    assert [x["line"] for x in report["no_reference"]["items"]] == [13]
    assert report["disagreements"]["count"] >= 17
    lines = rows(out)
    assert len(lines) == 19 * len(models)
    assert len({(x["item"], x["model"]) for x in lines}) == len(lines)


def test_the_text_scoreboard_names_each_model_and_the_disagreements(sim_server, fine_tuned_job):
    r = fttui(
        sim_server,
        "eval",
        str(CHAT),
        "-m",
        BASE,
        "-m",
        fine_tuned_job.fine_tuned_model,
        "--limit",
        "5",
        "--metric",
        "contains",
    )
    assert r.returncode == 0, r.stderr
    assert "5 items × 2 models, metric contains" in r.stdout
    assert "95% CI" in r.stdout and "p95 ms" in r.stdout
    assert "models disagree on 5 items" in r.stdout
    assert "reference 'Paris.'" in r.stdout


def test_a_grader_file_scores_each_item(sim_server, fine_tuned_job, tmp_path):
    grader = tmp_path / "g.json"
    grader.write_text(json.dumps(combo_grader("ilike")))
    r = fttui(
        sim_server,
        "eval",
        str(CHAT),
        "-m",
        fine_tuned_job.fine_tuned_model,
        "-m",
        BASE,
        "--grader",
        str(grader),
        "--pass-threshold",
        "0.99",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    models = {m["model"]: m for m in json.loads(r.stdout)["models"]}
    # ilike passes; ROUGE-L of "[simulated] Paris." against "Paris." is 2/3 and the like.
    assert models[fine_tuned_job.fine_tuned_model]["mean"] > 0.75
    assert models[BASE]["mean"] < 0.2


def test_a_bad_grader_file_names_the_path_of_the_bad_field(sim_server, tmp_path):
    grader = tmp_path / "bad.json"
    grader.write_text(
        json.dumps(
            {
                "type": "string_check",
                "name": "s",
                "operation": "equals",
                "input": "{{sample.output_text}}",
                "reference": "x",
            }
        )
    )
    r = fttui(sim_server, "eval", str(CHAT), "-m", BASE, "--grader", str(grader))
    assert r.returncode == 2
    assert "grader.operation: 'equals' is not one of eq, ne, like, ilike" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_python_grader_without_allow_python_is_refused(sim_server, tmp_path):
    grader = tmp_path / "py.json"
    grader.write_text(
        json.dumps(
            {
                "type": "python",
                "name": "len",
                "source": "def grade(sample, item):\n    return float(len(sample['output_text']) > 0)\n",
            }
        )
    )
    out = tmp_path / "r.jsonl"
    r = fttui(sim_server, "eval", str(CHAT), "-m", BASE, "--grader", str(grader), "-o", str(out))
    assert r.returncode == 2 and "--allow-python" in r.stderr
    assert not out.exists()
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
        "--allow-python",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["models"][0]["mean"] == 1.0


def test_results_are_not_overwritten_and_resume_needs_them(sim_server, tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"item": 0}\n')
    r = fttui(sim_server, "eval", str(CHAT), "-m", BASE, "-o", str(out))
    assert r.returncode == 2 and "--resume" in r.stderr
    assert out.read_text() == '{"item": 0}\n'
    r = fttui(sim_server, "eval", str(CHAT), "-m", BASE, "--resume")
    assert r.returncode == 2 and "-o" in r.stderr


def test_an_interrupted_eval_resumes_and_loses_and_repeats_nothing(sim_server, tmp_path):
    data = tmp_path / "many.jsonl"
    lines = CHAT.read_text().splitlines()
    data.write_text("\n".join(lines * 6) + "\n")  # 120 examples, 114 with a reference
    out = tmp_path / "r.jsonl"
    env = {**os.environ, "FTTUI_QUIET_LOCAL": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fttui",
            "--base-url",
            sim_server.base_url,
            "--api-key",
            sim_server.api_key,
            "eval",
            str(data),
            "-m",
            BASE,
            "-j",
            "2",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_for(
            lambda: out.exists() and out.read_text().count("\n") >= 10,
            60,
            "ten results before the kill",
        )
    finally:
        proc.send_signal(signal.SIGKILL)  # as a crash: nothing is saved on the way out
        proc.wait()
    before = out.read_text().count("\n")
    assert before < 114, "the run finished before it was interrupted"
    r = fttui(
        sim_server, "eval", str(data), "-m", BASE, "-j", "2", "-o", str(out), "--resume", "--json"
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["resumed"] == before
    assert report["models"][0]["n"] == 114
    final = rows(out)
    counts = Counter(x["item"] for x in final)
    assert len(final) == 114 and set(counts.values()) == {1}  # each item once: none lost


def test_provider_errors_are_retried_and_reported_per_item(tmp_path):
    server = make_server(
        tmp_path / "faulty", "--faults", "500=0.5,429=0.2,drop=0.1", "--faults-seed", "3"
    ).start()
    try:
        out = tmp_path / "r.jsonl"
        r = fttui(
            server,
            "eval",
            str(CHAT),
            "-m",
            BASE,
            "--limit",
            "8",
            "-j",
            "8",
            "-o",
            str(out),
            "--json",
        )
        assert r.returncode in (0, 1), r.stderr
        assert "Traceback" not in r.stderr
        final = rows(out)
        assert len(final) == 8
        answered = [x for x in final if not x["error"]]
        assert any(x["attempts"] > 1 for x in answered) or len(answered) < 8
        report = json.loads(r.stdout)
        failed = [x for x in final if x["error"]]
        assert len(report["errors"]) == len(failed)
        assert (r.returncode == 1) == bool(failed)
        for e in report["errors"]:
            assert e["line"] and e["error"]
    finally:
        server.stop()


def test_classification_uses_the_datas_stop_and_the_first_tokens_logprobs(sim_server, tmp_path):
    reviews = [
        ("I loved it", "positive"),
        ("Awful film", "negative"),
        ("Great acting", "positive"),
        ("Boring and long", "negative"),
        ("A joy to watch", "positive"),
    ]
    data = tmp_path / "cls.jsonl"
    data.write_text(
        "".join(
            json.dumps({"prompt": f"Review: {t}\nSentiment ->", "completion": f" {label} END"})
            + "\n"
            for t, label in reviews
        )
    )
    out = tmp_path / "r.jsonl"
    r = fttui(
        sim_server,
        "eval",
        str(data),
        "-m",
        "davinci-002",
        "--metric",
        "classification",
        "--positive-class",
        "positive",
        "-o",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["stop"] == [" END"]  # found in the data, cut from the references
    cls = report["models"][0]["classification"]
    assert cls["from"] == "first-token logprobs"
    assert set(cls) >= {"accuracy", "weighted_f1", "precision", "recall", "f1", "auroc", "auprc"}
    final = rows(out)
    assert sorted(x["reference"] for x in final) == sorted(f" {lab}" for _, lab in reviews)
    assert all(0.0 <= x["p_positive"] <= 1.0 for x in final)
    # The sim base model's canned text is never a label: every prediction is wrong.
    assert report["models"][0]["mean"] == 0.0
    assert cls["accuracy"] == pytest.approx(
        sum((x["p_positive"] >= 0.5) == (x["reference"] == " positive") for x in final) / 5
    )


def test_a_model_the_provider_lacks_is_reported_on_each_item_in_order(sim_server):
    r = fttui(sim_server, "eval", str(CHAT), "-m", "no-such-model", "--limit", "4", "-j", "1")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    listed = [ln for ln in r.stderr.splitlines() if ln.startswith("  line ")]
    assert [ln.split()[1] for ln in listed] == ["1", "2", "3", "4"]
    assert all("not found" in ln for ln in listed)


def test_continuous_scores_list_the_items_whose_scores_are_far_apart_widest_first(
    sim_server, fine_tuned_job, tmp_path
):
    out = tmp_path / "r.jsonl"
    tuned = fine_tuned_job.fine_tuned_model
    r = fttui(
        sim_server,
        "eval",
        str(CHAT),
        "-m",
        BASE,
        "-m",
        tuned,
        "--metric",
        "rouge",
        "-o",
        str(out),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    by_item: dict[int, dict[str, float]] = {}
    for row in rows(out):
        assert row["passed"] is None  # ROUGE-L has no pass mark: the scores decide
        by_item.setdefault(row["item"], {})[row["model"]] = row["score"]
    apart = {i: abs(s[BASE] - s[tuned]) for i, s in by_item.items()}
    expected = sorted((i for i, gap in apart.items() if gap >= 0.2), key=lambda i: (-apart[i], i))
    # the base model's canned reply shares few words with the reference, the tune's many
    assert len(expected) >= 15
    listed = report["disagreements"]
    assert listed["count"] == len(expected)
    assert [d["item"] for d in listed["items"]] == expected
    assert [d["spread"] for d in listed["items"]] == [pytest.approx(apart[i]) for i in expected]
    r = fttui(sim_server, "eval", str(CHAT), "-m", BASE, "-m", tuned, "--metric", "rouge")
    assert f"models disagree on {len(expected)} items (the widest first)" in r.stdout


def test_an_empty_file_is_an_error_not_a_scoreboard_of_nothing(sim_server, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "r.jsonl"
    r = fttui(sim_server, "eval", str(empty), "-m", BASE, "-o", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{empty} holds no examples: nothing to evaluate" in r.stderr
    assert not out.exists()


def test_a_file_with_no_reference_to_score_is_an_error_that_says_why(sim_server, tmp_path):
    data = tmp_path / "no-answers.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "system", "content": "S"}]})
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "Q"}], "answer": "A"})
        + "\n"
    )
    r = fttui(sim_server, "eval", str(data), "-m", BASE, "--metric", "exact")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"none of the 2 examples in {data} can be scored" in r.stderr
    assert "line 1: no assistant message to compare with" in r.stderr
    assert "line 2: ends on the user's turn (RFT data)" in r.stderr


def fttui_without(server, module: str, *argv: str) -> subprocess.CompletedProcess:
    """`fttui …` in an interpreter where ``module`` cannot be imported, as when the
    package is not installed (``sys.modules[name] = None`` is the import system's own way
    to make ``import name`` raise ImportError)."""
    code = (
        "import sys, runpy; "
        f"sys.modules[{module!r}] = None; "
        "sys.argv[0] = 'fttui'; "
        "runpy.run_module('fttui', run_name='__main__', alter_sys=True)"
    )
    env = {**os.environ, "FTTUI_HOME": str(server.data_dir.parent), "FTTUI_QUIET_LOCAL": "1"}
    cmd = [sys.executable, "-c", code, "--base-url", server.base_url]
    cmd += ["--api-key", server.api_key, *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)


@pytest.mark.parametrize(
    ("module", "options", "said"),
    [
        ("sacrebleu", ["--metric", "bleu"], "the bleu metric needs sacrebleu, which is not"),
        (
            "rouge_score",
            ["--grader", "GRADER"],
            "grader.graders.words.evaluation_metric 'rouge_l' needs rouge-score, which is not",
        ),
        (
            "sklearn",
            ["--metric", "exact", "--positive-class", "Paris."],
            "the classification scoreboard needs scikit-learn, which is not",
        ),
    ],
)
def test_a_missing_metric_library_is_said_up_front_with_the_extra_to_install(
    sim_server, tmp_path, module, options, said
):
    grader = tmp_path / "g.json"
    grader.write_text(json.dumps(combo_grader("eq")))
    out = tmp_path / "r.jsonl"
    options = [str(grader) if o == "GRADER" else o for o in options]
    r = fttui_without(sim_server, module, "eval", str(CHAT), "-m", BASE, *options, "-o", str(out))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert said in r.stderr
    assert "pip install 'fttui[eval]'" in r.stderr
    assert not out.exists()  # refused before any model was asked
