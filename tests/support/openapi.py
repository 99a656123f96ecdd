"""A response-shape checker built from OpenAI's own OpenAPI files.

The subsets are copied into the repo (MIT; see ``tests/reference/NOTICE.md``) so the shape
tests run on every clone. ``load_shapes()`` reads them; the server tests' ``openapi`` fixture
and any other test take it from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SPEC_FILES = ("openai-fine-tuning.openapi.yaml", "openai-completions.openapi.yaml")


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


def load_shapes() -> OpenAPIShapes:
    """The components of every spec file in ``tests/reference``, as one validator."""
    import yaml  # a test dependency: a missing one is an error, never a skip

    schemas: dict[str, Any] = {}
    for name in SPEC_FILES:
        path = REFERENCE / name
        # A missing spec fails the shape tests: a skip would hide that they no longer run.
        assert path.exists(), f"the reference spec {path} is missing from the repo"
        schemas.update(yaml.safe_load(path.read_text())["components"]["schemas"])
    return OpenAPIShapes(schemas)
