"""Graders in OpenAI's JSON shape: hand-computed rewards, validation paths, python refusal."""

from __future__ import annotations

import pytest

from fttui.evals import GraderError, PythonRefused, Runner, check, expr, run, validate

OUT = "{{sample.output_text}}"
REF = "{{item.reference}}"


def string_check(op: str, name: str = "s") -> dict:
    return {"type": "string_check", "name": name, "input": OUT, "reference": REF, "operation": op}


@pytest.mark.parametrize(
    ("op", "output", "reference", "reward"),
    [
        ("eq", "Paris", "Paris", 1.0),
        ("eq", "paris", "Paris", 0.0),
        ("ne", "paris", "Paris", 1.0),
        ("ne", "Paris", "Paris", 0.0),
        ("like", "It is Paris.", "Paris", 1.0),
        ("like", "It is paris.", "Paris", 0.0),
        ("ilike", "It is PARIS.", "paris", 1.0),
        ("ilike", "It is Rome.", "paris", 0.0),
    ],
)
def test_string_check_operations_give_hand_computed_rewards(op, output, reference, reward):
    assert run(string_check(op), {"reference": reference}, output).reward == reward


def test_templates_reach_nested_item_fields_and_the_samples_json():
    g = {
        "type": "string_check",
        "name": "json",
        "input": "{{sample.output_json.city}}",
        "reference": "{{item.answer.cities[1]}}",
        "operation": "eq",
    }
    item = {"answer": {"cities": ["Rome", "Paris"]}}
    assert run(g, item, '{"city": "Paris"}').reward == 1.0
    assert run(g, item, '{"city": "Rome"}').reward == 0.0


def test_a_template_naming_a_missing_item_field_is_an_invalid_variable_error_not_a_crash():
    res = run(string_check("eq"), {"answer": "x"}, "x")
    assert res.reward == 0.0
    assert res.errors["invalid_variable_error"] is True
    assert "reference" in res.message
    assert res.to_run_response()["metadata"]["errors"]["invalid_variable_error"] is True


@pytest.mark.parametrize(
    ("metric", "output", "reference", "expected"),
    [
        # 5 of 6 unigrams shared (the ×2, cat, on, mat): P = R = 5/6.
        ("rouge_1", "the cat sat on the mat", "the cat is on the mat", 5 / 6),
        # bigrams shared: the-cat, on-the, the-mat = 3 of 5 each side.
        ("rouge_2", "the cat sat on the mat", "the cat is on the mat", 3 / 5),
        # LCS 3; P = 3/4, R = 3/3 → F = 2·0.75/1.75.
        ("rouge_l", "the cat sat down", "the cat sat", 2 * 0.75 / 1.75),
        # Indel distance 2 over 6 characters: 1 − 2/6.
        ("fuzzy_match", "abc", "abd", 1 - 2 / 6),
        ("bleu", "the quick brown fox jumps", "the quick brown fox jumps", 1.0),
        ("bleu", "alpha beta gamma delta", "one two three four", 0.0),
        ("gleu", "a b c d", "a b c d", 1.0),
        # 4 of 4 words match in order (one chunk): F = 1, penalty 0.5·(1/4)³.
        ("meteor", "a b c d", "a b c d", 1 - 0.5 * (1 / 4) ** 3),
    ],
)
def test_text_similarity_metrics_give_hand_computed_values(metric, output, reference, expected):
    g = {
        "type": "text_similarity",
        "name": "sim",
        "input": OUT,
        "reference": REF,
        "evaluation_metric": metric,
    }
    assert run(g, {"reference": reference}, output).reward == pytest.approx(expected, abs=1e-3)


def test_text_similarity_pass_threshold_says_passed():
    g = {
        "type": "text_similarity",
        "name": "sim",
        "input": OUT,
        "reference": REF,
        "evaluation_metric": "fuzzy_match",
        "pass_threshold": 0.6,
    }
    assert run(g, {"reference": "abd"}, "abc").passed is True
    assert run(g, {"reference": "xyz"}, "abc").passed is False


def test_multi_combines_named_graders_with_calculate_output():
    g = {
        "type": "multi",
        "name": "combo",
        "graders": {
            "exact": string_check("eq", "exact"),
            "words": {
                "type": "text_similarity",
                "name": "words",
                "input": OUT,
                "reference": REF,
                "evaluation_metric": "rouge_l",
            },
        },
        "calculate_output": "0.25 * exact + 0.75 * words",
    }
    res = run(g, {"reference": "the cat sat"}, "the cat sat down")
    assert res.sub_rewards == {"exact": 0.0, "words": pytest.approx(2 * 0.75 / 1.75)}
    assert res.reward == pytest.approx(0.75 * 2 * 0.75 / 1.75)
    body = res.to_run_response()
    assert body["metadata"]["scores"] == body["sub_rewards"]


@pytest.mark.parametrize(
    ("formula", "value"),
    [
        ("1 + 2 * 3", 7.0),
        ("max(a, b) - min(a, b)", 0.5),
        ("(a > 0.2) * 10", 10.0),
        ("sqrt(16) + abs(-1)", 5.0),
        ("a if b > 0.5 else 0", 0.25),
    ],
)
def test_the_formula_evaluator_computes_arithmetic(formula, value):
    assert expr.evaluate(formula, {"a": 0.25, "b": 0.75}) == value


@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('true')",
        "a.__class__",
        "[a]",
        "'x'",
        "lambda: 1",
        "a; b",
        "open('f')",
        "2 ** 1000",
    ],
)
def test_the_formula_evaluator_refuses_anything_but_arithmetic(formula):
    with pytest.raises(expr.FormulaError):
        expr.evaluate(formula, {"a": 1.0, "b": 2.0})


def test_a_bad_grader_names_the_path_of_each_bad_field():
    bad = {
        "type": "multi",
        "name": "m",
        "graders": {
            "ok": string_check("eq", "ok"),
            "sim": {
                "type": "text_similarity",
                "name": "sim",
                "input": OUT,
                "reference": REF,
                "evaluation_metric": "blue",
            },
            "judge": {
                "type": "score_model",
                "name": "j",
                "model": "gpt-4o-mini",
                "input": [{"role": "critic", "content": "{{foo.bar}}"}],
                "range": [1, 0],
            },
        },
        "calculate_output": "ok + sim + missing",
    }
    errors = validate(bad)
    assert any(e.startswith("grader.graders.sim.evaluation_metric: 'blue'") for e in errors)
    assert any(e.startswith("grader.graders.judge.input[0].role: 'critic'") for e in errors)
    assert any(e.startswith("grader.graders.judge.input[0].content: the template") for e in errors)
    assert any(e.startswith("grader.graders.judge.range:") for e in errors)
    assert any(e.startswith("grader.calculate_output: 'missing'") for e in errors)
    with pytest.raises(GraderError) as info:
        check(bad)
    assert info.value.errors == errors


@pytest.mark.parametrize(
    ("grader", "path"),
    [
        ([], "grader: a grader must be a JSON object"),
        ({"type": "regex", "name": "r"}, "grader.type: is 'regex'"),
        ({"name": "x"}, "grader.type: is missing"),
        (
            {"type": "string_check", "name": "s", "input": "x", "reference": "y"},
            "grader.operation: missing",
        ),
        (
            {
                "type": "string_check",
                "name": "s",
                "input": "x",
                "reference": "y",
                "operation": "eq",
                "extra": 1,
            },
            "grader.extra: unknown field",
        ),
        (
            {
                "type": "label_model",
                "name": "l",
                "model": "m",
                "input": [{"role": "user", "content": "hi"}],
                "labels": ["a", "b"],
                "passing_labels": ["c"],
            },
            "grader.passing_labels[0]: 'c' is not in labels",
        ),
        ({"type": "python", "name": "p", "source": "def grade(:"}, "grader.source: line 1"),
        ({"type": "python", "name": "p", "source": "x = 1"}, "grader.source: must define grade"),
        (
            {
                "type": "multi",
                "name": "m",
                "graders": {"a": string_check("eq")},
                "calculate_output": "a +",
            },
            "grader.calculate_output: invalid formula",
        ),
    ],
)
def test_validate_names_the_path_of_the_bad_field(grader, path):
    errors = validate(grader)
    assert any(e.startswith(path) for e in errors), errors


PY = {
    "type": "python",
    "name": "len",
    "source": "def grade(sample, item):\n    return len(sample['output_text']) / 10\n",
}


def test_a_python_grader_without_allow_python_is_refused():
    with pytest.raises(PythonRefused, match="--allow-python"):
        run(PY, {}, "hello")
    nested = {"type": "multi", "name": "m", "graders": {"p": PY}, "calculate_output": "p"}
    with pytest.raises(PythonRefused):
        run(nested, {}, "hello")


def test_a_python_grader_runs_in_a_subprocess_when_allowed():
    assert run(PY, {}, "hello", Runner(allow_python=True)).reward == 0.5


def test_a_python_grader_that_hangs_is_stopped_at_its_time_limit():
    hang = {**PY, "source": "def grade(sample, item):\n    while True:\n        pass\n"}
    res = run(hang, {}, "x", Runner(allow_python=True, python_timeout=1))
    assert res.errors["unresponsive_reward_error"] is True and res.reward == 0.0


def test_a_python_grader_that_raises_reports_the_error():
    boom = {**PY, "source": "def grade(sample, item):\n    raise KeyError('nope')\n"}
    res = run(boom, {}, "x", Runner(allow_python=True))
    assert res.errors["python_grader_runtime_error"] is True
    assert "nope" in res.errors["python_grader_runtime_error_details"]


def judge(answer: str):
    """A judge for the model graders: the model call is the caller's, so a plain function
    stands in for the provider here; the CLI tests grade with the live server's models."""

    def call(model, messages, params):
        call.seen = (model, messages, params)
        return answer, 7

    return call


def test_score_model_renders_its_messages_parses_the_score_and_clamps_it_to_the_range():
    g = {
        "type": "score_model",
        "name": "judge",
        "model": "m",
        "range": [0, 10],
        "input": [
            {"role": "developer", "content": "Rate it."},
            {"role": "user", "content": [{"type": "input_text", "text": OUT}]},
        ],
    }
    client = judge('{"result": 7.5}')
    res = run(g, {}, "my answer", Runner(model_client=client))
    assert res.reward == 7.5 and res.token_usage == 7
    assert client.seen[1][0] == {"role": "system", "content": "Rate it."}
    assert client.seen[1][1]["content"] == "my answer"
    assert run(g, {}, "x", Runner(model_client=judge("42"))).reward == 10.0
    bad = run(g, {}, "x", Runner(model_client=judge("no idea")))
    assert bad.errors["model_grader_parse_error"] is True


def test_label_model_passes_on_a_passing_label():
    g = {
        "type": "label_model",
        "name": "tone",
        "model": "m",
        "labels": ["polite", "rude"],
        "passing_labels": ["polite"],
        "input": [{"role": "user", "content": OUT}],
    }
    assert run(g, {}, "x", Runner(model_client=judge('{"result": "polite"}'))).reward == 1.0
    assert run(g, {}, "x", Runner(model_client=judge("Rude"))).reward == 0.0
    failing = run(g, {}, "x", Runner(model_client=judge("maybe")))
    assert failing.errors["model_grader_parse_error"] is True


def test_a_judge_whose_provider_fails_is_a_model_grader_server_error():
    def down(model, messages, params):
        raise ConnectionError("provider down")

    g = {
        "type": "label_model",
        "name": "tone",
        "model": "m",
        "labels": ["a"],
        "passing_labels": ["a"],
        "input": [{"role": "user", "content": "hi"}],
    }
    res = run(g, {}, "x", Runner(model_client=down))
    assert res.errors["model_grader_server_error"] is True
    assert "provider down" in res.errors["model_grader_server_error_details"]
