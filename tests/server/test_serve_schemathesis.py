"""Property-based fuzzing of a real `fttui serve --executor sim` with schemathesis (issue 10):
cases generated from the OpenAPI document the server serves and from OpenAI's own spec
subsets (tests/reference/), valid and invalid ones, sent over HTTP. No answer may be a 5xx,
and every error must be OpenAI's ``{"error": {message, type, param, code}}``.

Bounded so it runs in CI: a fixed seed (derandomized), at most ``MAX_EXAMPLES`` cases per
operation and mode, no shrinking, and a time budget shared out over the operations (an
operation whose share is spent stops early; the counts are printed).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from support.openapi import REFERENCE

MAX_EXAMPLES = 25  #: per operation and generation mode
#: seconds per schema, shared out over its operations and modes: the three runs stay under
#: two minutes together
SERVED_BUDGET_S, SPEC_BUDGET_S = 40.0, 20.0
PROBLEMS_KEPT = 3  #: per operation, in the failure message


class OutOfTime(Exception):
    """An operation's share of the budget is spent."""


@pytest.fixture(scope="module")
def fuzzed_server(make_server, tmp_path_factory) -> Iterator:
    """A server of its own: the fuzzing creates files and uploads the other tests would list."""
    server = make_server(tmp_path_factory.mktemp("fuzz-home")).start()
    try:
        yield server
    finally:
        server.stop()


def auth(server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def shape_problems(response) -> list[str]:
    """What is wrong with ``response``: a 5xx, or an error not in OpenAI's shape."""
    status = response.status_code
    if status >= 500:
        return [f"{status}: {response.text[:300]}"]
    if status < 400:
        return []
    # schemathesis keeps every value of a header: a list
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/json"):
        return [f"{status} in {content_type!r}: {response.text[:200]}"]
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return [f"{status} without an error object: {response.text[:200]}"]
    ok = (
        isinstance(error, dict)
        and set(error) == {"message", "type", "param", "code"}
        and isinstance(error["message"], str)
        and isinstance(error["type"], str)
        and all(error[k] is None or isinstance(error[k], str) for k in ("param", "code"))
    )
    return [] if ok else [f"{status} error not in OpenAI's shape: {response.text[:200]}"]


def template(path: str) -> str:
    """``/v1/fine_tuning/jobs/{job_id}`` and the spec's ``{fine_tuning_job_id}`` alike."""
    return re.sub(r"\{[^}]*\}", "{}", path.removeprefix("/v1"))


def fuzz_operation(op, mode, base_url: str, headers: dict[str, str], share: float):
    """Send the cases of one operation in one mode: (the statuses answered, problems)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    deadline = time.monotonic() + share
    statuses: Counter[int] = Counter()
    found: list[str] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,  # a fixed seed: the same cases on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is shown raw
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case) -> None:
        if time.monotonic() > deadline:
            raise OutOfTime
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        statuses[response.status_code] += 1
        for problem in shape_problems(response):
            found.append(f"{case.method} {case.formatted_path}: {problem}")

    try:
        check()
    except (OutOfTime, Unsatisfiable):  # Unsatisfiable: no invalid GET /health exists
        pass
    return statuses, found


def fuzz(schema, base_url, headers, only: set[tuple[str, str]] | None, budget: float):
    """Run every operation of ``schema`` (those in ``only`` when given) in both modes;
    return (the statuses answered, problems by operation)."""
    from schemathesis import GenerationMode

    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [
        op for op in operations if only is None or (op.method.upper(), template(op.path)) in only
    ]
    assert operations, "no operation to fuzz"
    runs = [(op, mode) for op in operations for mode in GenerationMode]
    statuses: Counter[int] = Counter()
    problems: dict[str, list[str]] = {}
    for op, mode in runs:
        answered, found = fuzz_operation(op, mode, base_url, headers, budget / len(runs))
        statuses += answered
        if found:
            problems[f"{op.label} ({mode.value})"] = found[:PROBLEMS_KEPT]
    return statuses, problems


def report(statuses: Counter[int], problems: dict[str, list[str]]) -> str:
    lines = [f"{len(problems)} operation(s) answered outside the contract ({statuses}):"]
    for label, found in problems.items():
        lines += [label, *(f"    {p}" for p in found)]
    return "\n".join(lines)


def served_document(server) -> dict:
    import httpx2

    root = server.base_url.removesuffix("/v1")
    response = httpx2.get(f"{root}/openapi.json", headers=auth(server), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def operations_of(doc: dict) -> set[tuple[str, str]]:
    return {(m.upper(), template(p)) for p, methods in doc["paths"].items() for m in methods}


def test_fuzzing_the_served_openapi_finds_no_5xx_and_no_error_outside_the_shape(fuzzed_server):
    import httpx2
    import schemathesis

    doc = served_document(fuzzed_server)
    # `model` narrowed to the models the server has, so valid cases get past the lookup
    # and through generation (a random name is a 404 before anything else runs)
    models = httpx2.get(
        f"{fuzzed_server.base_url}/models", headers=auth(fuzzed_server), timeout=30
    ).json()
    names = [m["id"] for m in models["data"]]
    for body in ("ChatCompletionRequest", "CompletionRequest"):
        doc["components"]["schemas"][body]["properties"]["model"] = {"enum": names}
    schema = schemathesis.openapi.from_dict(doc)
    root = fuzzed_server.base_url.removesuffix("/v1")
    statuses, problems = fuzz(schema, root, auth(fuzzed_server), None, SERVED_BUDGET_S)
    print(f"served OpenAPI, {len(doc['paths'])} paths: {sorted(statuses.items())}")
    assert statuses.total() >= 100  # the budget let enough cases through to mean something
    assert statuses[200] >= 20  # and valid ones reached the services
    assert not problems, report(statuses, problems)


@pytest.mark.parametrize(
    "spec", ["openai-fine-tuning.openapi.yaml", "openai-completions.openapi.yaml"]
)
def test_fuzzing_with_openais_spec_finds_no_5xx_and_no_error_outside_the_shape(fuzzed_server, spec):
    """OpenAI's own schemas generate what real clients send; only the operations this server
    serves are fuzzed (the others, graders and stored completions, are 404s by design)."""
    import schemathesis

    served = operations_of(served_document(fuzzed_server))
    schema = schemathesis.openapi.from_path(REFERENCE / spec)
    statuses, problems = fuzz(
        schema, fuzzed_server.base_url, auth(fuzzed_server), served, SPEC_BUDGET_S
    )
    print(f"{spec}: {sorted(statuses.items())}")
    assert statuses.total() >= 30
    assert not problems, report(statuses, problems)
