"""``fttui.api.graders.validate_grader`` against a live ``fttui serve``: the provider's
``/fine_tuning/alpha/graders/validate`` answers, and a provider without that endpoint gets
the same rules locally (what the create form's Validate shows)."""

from __future__ import annotations

import openai
import pytest

from fttui.api.errors import ApiError
from fttui.api.graders import validate_grader

GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
BAD = {**GRADER, "operation": "contains"}


def test_the_provider_validates_a_grader_and_names_the_bad_fields_path(api_server) -> None:
    client = api_server.client()
    good = validate_grader(client, GRADER)
    assert (good.ok, good.checked_by, good.errors) == (True, "provider", [])
    bad = validate_grader(client, BAD)
    assert (bad.ok, bad.checked_by, bad.param) == (False, "provider", "grader.operation")
    assert bad.errors == ["grader.operation: 'contains' is not one of eq, ne, like, ilike"]


def test_a_provider_without_the_graders_endpoint_gets_the_same_rules_locally(api_server) -> None:
    # a real server that answers 404 to every path (no such API under this prefix)
    root = api_server.base_url.removesuffix("/v1")
    client = openai.OpenAI(base_url=f"{root}/no-graders/v1", api_key=api_server.api_key)
    good = validate_grader(client, GRADER)
    assert (good.ok, good.checked_by) == (True, "local")
    bad = validate_grader(client, BAD)
    provider = validate_grader(api_server.client(), BAD)
    assert (bad.ok, bad.checked_by, bad.param) == (False, "local", "grader.operation")
    assert bad.errors == provider.errors  # the same words either way


def test_no_answer_is_an_error_not_a_verdict_on_the_grader() -> None:
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test", max_retries=0)
    with pytest.raises(ApiError) as err:
        validate_grader(client, GRADER)
    assert err.value.kind == "network"
