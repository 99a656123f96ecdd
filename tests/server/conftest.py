"""Fixtures for the local server's tests: a response-shape checker built from OpenAI's own
OpenAPI files, a finished sim job on the shared server, and a job waiter."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# OpenAI's OpenAPI subsets, copied into the repo (MIT; see tests/reference/NOTICE.md) so the
# shape tests run on every clone.
REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SPEC_FILES = ("openai-fine-tuning.openapi.yaml", "openai-completions.openapi.yaml")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TERMINAL = {"succeeded", "failed", "cancelled"}
#: metadata that makes a sim job run fast
FAST = {"sim_seconds_per_step": "0.002"}


class OpenAPIShapes:
    """Validates JSON values against the components of OpenAI's OpenAPI files.

    A small validator for what those files use: ``$ref``, ``allOf/anyOf/oneOf``, ``type``
    (with the 3.0 ``nullable``), ``enum``, ``required``, ``properties``,
    ``additionalProperties`` and ``items``. ``exclusiveMinimum: true`` (a 3.0-ism) and
    formats are not checked.
    """

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas

    def errors(self, value: Any, schema: dict[str, Any] | str, path: str = "$") -> list[str]:
        if isinstance(schema, str):
            schema = {"$ref": f"#/components/schemas/{schema}"}
        if "$ref" in schema:
            return self.errors(value, self.schemas[schema["$ref"].rsplit("/", 1)[-1]], path)
        out: list[str] = []
        if value is None and schema.get("nullable"):
            return out
        for sub in schema.get("allOf", []):
            out += self.errors(value, sub, path)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.errors(value, sub, path) for sub in schema[key]]
                if all(options):
                    out.append(f"{path}: matches none of {key}: {min(options, key=len)}")
        kind = schema.get("type")
        if kind is not None:
            checks = {
                "string": lambda v: isinstance(v, str),
                "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
                "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
                "boolean": lambda v: isinstance(v, bool),
                "object": lambda v: isinstance(v, dict),
                "array": lambda v: isinstance(v, list),
                "null": lambda v: v is None,
            }
            if not checks[kind](value):
                return [*out, f"{path}: expected {kind}, got {value!r:.80}"]
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{path}: {value!r} not in {schema['enum']}")
        if isinstance(value, dict):
            for name in schema.get("required", []):
                if name not in value:
                    out.append(f"{path}: missing required {name!r}")
            props = schema.get("properties", {})
            for name, item in value.items():
                if name in props:
                    out += self.errors(item, props[name], f"{path}.{name}")
                elif isinstance(schema.get("additionalProperties"), dict):
                    out += self.errors(item, schema["additionalProperties"], f"{path}.{name}")
                elif schema.get("additionalProperties") is False:
                    out.append(f"{path}: unexpected property {name!r}")
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                out += self.errors(item, schema["items"], f"{path}[{i}]")
        return out

    def check(self, value: Any, name: str) -> None:
        """Assert that ``value`` (a JSON value or an SDK object) is a valid ``name``."""
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json", exclude_unset=True)
        problems = self.errors(value, name)
        assert not problems, f"{name} does not match OpenAI's schema:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def make_server() -> Callable[..., Any]:
    """The live-server factory of ``livekit`` (a fixture, so tests take it as an argument)."""
    from livekit import make_server as factory

    return factory


@pytest.fixture(scope="session")
def openapi() -> OpenAPIShapes:
    import yaml  # a test dependency: a missing one is an error, never a skip

    schemas: dict[str, Any] = {}
    for name in SPEC_FILES:
        path = REFERENCE / name
        # A missing spec fails the shape tests: a skip would hide that they no longer run.
        assert path.exists(), f"the reference spec {path} is missing from the repo"
        schemas.update(yaml.safe_load(path.read_text())["components"]["schemas"])
    return OpenAPIShapes(schemas)


@pytest.fixture(scope="session")
def wait_job() -> Callable[..., Any]:
    """``wait_job(client, job_id, until=TERMINAL, timeout=30)`` → the job once its status
    is in ``until`` (polls the real API)."""

    def wait(
        client: Any,
        job_id: str,
        until: set[str] | None = None,
        timeout: float = 30,
        check: Callable[[Any], bool] | None = None,
    ) -> Any:
        until = until or TERMINAL
        deadline = time.monotonic() + timeout
        while True:
            job = client.fine_tuning.jobs.retrieve(job_id)
            if job.status in until and (check is None or check(job)):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {job.status}, waited for {until}")
            time.sleep(0.05)

    return wait


@pytest.fixture(scope="session")
def chat_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 20-example chat training file (the shared fixture when present)."""
    shared = FIXTURES / "chat_valid.jsonl"
    if shared.exists():
        return shared
    import json

    path = tmp_path_factory.mktemp("data") / "chat.jsonl"
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": f"What is {i} plus {i}?"},
                    {"role": "assistant", "content": f"{2 * i}."},
                ]
            }
        )
        for i in range(20)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def shared_client(shared_sim_server: Any) -> Any:
    return shared_sim_server.client()


@pytest.fixture(scope="session")
def train_file(shared_client: Any, chat_jsonl: Path) -> Any:
    """``chat_jsonl`` uploaded to the shared server."""
    with chat_jsonl.open("rb") as fh:
        return shared_client.files.create(file=fh, purpose="fine-tune")


@pytest.fixture(scope="session")
def finished_job(shared_client: Any, train_file: Any, wait_job: Callable[..., Any]) -> Any:
    """A sim job that succeeded on the shared server (suffix ``shared``)."""
    job = shared_client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=train_file.id, suffix="shared", metadata=FAST
    )
    job = wait_job(shared_client, job.id)
    assert job.status == "succeeded", job
    return job
