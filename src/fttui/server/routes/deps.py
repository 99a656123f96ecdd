"""What the routers share: the services, the capped JSON body parsed into a typed model,
the ``limit`` query parameter, and the OpenAPI fragments of what the routes read by hand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from fttui.server.errors import ApiError, bad_request

if TYPE_CHECKING:
    from fttui.server.app import ServerConfig, Services

M = TypeVar("M", bound=BaseModel)


def services(request: Request) -> Services:
    """The services ``create_app`` put on the app."""
    return cast("Services", request.app.state.services)


def config(request: Request) -> ServerConfig:
    return cast("ServerConfig", request.app.state.config)


async def json_body(request: Request) -> dict[str, Any]:
    # the size cap is BodyLimit's (fttui.server.limits): it counts chunked bodies too
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("The JSON body must be an object.")
    return body


def typed_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency: the JSON body (capped, as :func:`json_body` reads it) as ``model``.

    FastAPI's own body parsing is not used: it would read an uncapped body and answer its
    errors in its own shape. The OpenAPI document still describes the body, through
    :func:`body_doc`.
    """

    async def parse(request: Request) -> M:
        raw = await json_body(request)
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise invalid_body(exc) from None

    return parse


def param_name(loc: Sequence[str | int]) -> str:
    """``("messages", 0, "content")`` → ``messages[0].content``, as OpenAI names params.
    A segment is cut to 64 characters: a key of the body may be any size."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part[:64]
    return out


def is_type_tag(segment: str | int) -> bool:
    """Whether a segment of an error's location names a union's branch (``str``,
    ``list[str]``, ``literal['auto']``, a model), not a field (fields are snake_case)."""
    return isinstance(segment, str) and (
        segment in ("str", "int", "float", "bool") or "[" in segment or segment[:1].isupper()
    )


def invalid_body(exc: ValidationError) -> ApiError:
    """The first field's errors as one 400 naming it. The input is not echoed (it may be
    megabytes); the errors of one union field (``stop``: a string or a list) are joined."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]["loc"][:1]
    group = [e for e in errors if e["loc"][:1] == first]
    prefix = list(group[0]["loc"])
    for e in group[1:]:
        common = 0
        while common < min(len(prefix), len(e["loc"])) and prefix[common] == e["loc"][common]:
            common += 1
        prefix = prefix[:common]
    param = param_name(prefix) or None
    kind = group[0]["type"]
    if kind == "missing":
        return bad_request(
            f"'{param}' is required.", param=param, code="missing_required_parameter"
        )
    # one field's errors with a further string segment each are the branches of a union
    branches = [e["loc"][len(prefix)] for e in group if len(e["loc"]) > len(prefix)]
    if len(group) > 1 and all(is_type_tag(b) for b in branches):
        messages = [f"expected {' or '.join(dict.fromkeys(str(b) for b in branches))}"]
    else:
        messages = [
            "Input should be an object" if e["type"] in ("model_type", "dict_type") else e["msg"]
            for e in group
        ]
    code = "invalid_type" if all(e["type"].endswith("_type") for e in group) else "invalid_value"
    return bad_request(
        f"Invalid '{param}': {'; '.join(dict.fromkeys(messages[:3]))}.", param=param, code=code
    )


def query_limit(request: Request, default: int, high: int = 10_000) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= high:
        raise bad_request(
            f"Invalid limit {raw!r}: use an integer from 1 to {high}.",
            param="limit",
            code="invalid_value",
        )
    return value


# -- OpenAPI fragments --------------------------------------------------------------------
def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads ``model`` through :func:`typed_body`."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def query_doc(*params: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """``openapi_extra`` of query parameters a route reads from the request itself."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in params
        ]
    }


def limit_doc(high: int = 10_000) -> tuple[str, dict[str, Any]]:
    return ("limit", {"type": "integer", "minimum": 1, "maximum": high})


AFTER = ("after", {"type": "string"})


def multipart_doc(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """``openapi_extra`` of a multipart upload (the file service streams it itself)."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }
