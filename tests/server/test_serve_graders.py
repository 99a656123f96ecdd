"""`POST /v1/fine_tuning/alpha/graders/run` and `/validate` through the official SDK, each
answer checked against OpenAI's OpenAPI description (RunGraderResponse, ...)."""

from __future__ import annotations

import openai
import pytest

STRING = {
    "type": "string_check",
    "name": "same",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
}
MULTI = {
    "type": "multi",
    "name": "combo",
    "graders": {
        "same": STRING,
        "words": {
            "type": "text_similarity",
            "name": "words",
            "evaluation_metric": "rouge_1",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
        },
    },
    "calculate_output": "0.5 * same + 0.5 * words",
}


def run_raw(client, **body):
    resp = client.fine_tuning.alpha.graders.with_raw_response.run(**body)
    return resp.http_response.json(), resp.parse()


def test_run_grades_a_sample_in_the_specs_shape(shared_client, openapi):
    body, parsed = run_raw(
        shared_client, grader=STRING, model_sample="Paris", item={"answer": "Paris"}
    )
    openapi.check(body, "RunGraderResponse")
    assert body["reward"] == 1.0 and parsed.reward == 1.0
    assert body["metadata"]["type"] == "string_check" and body["metadata"]["name"] == "same"
    assert not any(v for k, v in body["metadata"]["errors"].items() if k.endswith("_error"))
    body, _ = run_raw(shared_client, grader=STRING, model_sample="Rome", item={"answer": "Paris"})
    assert body["reward"] == 0.0


def test_run_a_multi_grader_reports_each_sub_reward(shared_client, openapi):
    body, _ = run_raw(
        shared_client, grader=MULTI, model_sample="the cat sat", item={"answer": "the cat sat down"}
    )
    openapi.check(body, "RunGraderResponse")
    # ROUGE-1: 3 shared of 3 and 4 → F = 2·1·0.75/1.75; eq fails.
    assert body["sub_rewards"] == {"same": 0.0, "words": pytest.approx(2 * 0.75 / 1.75)}
    assert body["reward"] == pytest.approx(0.5 * 2 * 0.75 / 1.75)


def test_a_missing_item_field_is_a_flag_in_the_answer_not_a_500(shared_client, openapi):
    body, _ = run_raw(shared_client, grader=STRING, model_sample="x", item={})
    openapi.check(body, "RunGraderResponse")
    assert body["metadata"]["errors"]["invalid_variable_error"] is True


def test_a_score_model_grader_is_answered_by_the_servers_own_model(shared_client, openapi):
    grader = {
        "type": "score_model",
        "name": "judge",
        "model": "gpt-4o-mini-2024-07-18",
        "range": [0, 1],
        "input": [{"role": "user", "content": "Rate: {{sample.output_text}}"}],
    }
    body, _ = run_raw(shared_client, grader=grader, model_sample="hello")
    openapi.check(body, "RunGraderResponse")
    meta = body["metadata"]
    assert meta["sampled_model_name"] == "gpt-4o-mini-2024-07-18"
    assert meta["token_usage"] > 0
    # the sim model's canned answer holds no score: a parse error, reported, not raised
    assert meta["errors"]["model_grader_parse_error"] is True
    assert body["model_grader_token_usage_per_model"] == {
        "gpt-4o-mini-2024-07-18": meta["token_usage"]
    }


def test_validate_returns_the_grader(shared_client, openapi):
    # The OpenAPI file types a multi grader's `graders` as one grader (named by its name);
    # OpenAI's guide writes an object of named graders. Both validate.
    single = {"type": "multi", "name": "one", "graders": STRING, "calculate_output": "same * 2"}
    resp = shared_client.fine_tuning.alpha.graders.with_raw_response.validate(grader=single)
    body = resp.http_response.json()
    openapi.check(body, "ValidateGraderResponse")
    assert body["grader"] == single
    assert shared_client.fine_tuning.alpha.graders.validate(grader=MULTI).grader is not None
    run, _ = run_raw(shared_client, grader=single, model_sample="a", item={"answer": "a"})
    assert run["reward"] == 2.0


def test_an_invalid_grader_is_a_400_naming_the_path_of_the_bad_field(shared_client):
    bad = {**MULTI, "graders": {**MULTI["graders"], "same": {**STRING, "operation": "equals"}}}
    for call in (
        lambda: shared_client.fine_tuning.alpha.graders.validate(grader=bad),
        lambda: shared_client.fine_tuning.alpha.graders.run(grader=bad, model_sample="x"),
    ):
        with pytest.raises(openai.BadRequestError) as info:
            call()
        err = info.value.body
        assert err["code"] == "invalid_grader"
        assert err["param"] == "grader.graders.same.operation"
        assert "'equals' is not one of eq, ne, like, ilike" in err["message"]


def test_run_refuses_a_python_grader_and_a_missing_sample(shared_client):
    py = {"type": "python", "name": "p", "source": "def grade(sample, item):\n    return 1\n"}
    assert shared_client.fine_tuning.alpha.graders.validate(grader=py).grader is not None
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.fine_tuning.alpha.graders.run(grader=py, model_sample="x")
    assert info.value.body["code"] == "python_grader_disabled"
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.post(
            "/fine_tuning/alpha/graders/run", body={"grader": STRING}, cast_to=object
        )
    assert info.value.body["param"] == "model_sample"
