"""``POST /v1/fine_tuning/alpha/graders/run`` and ``/validate``, with fttui's graders.

The graders are ``fttui.evals``' (the same code as ``fttui eval``); a model grader
(``score_model``, ``label_model``) is answered by this server's own models. A python grader
validates but does not run here: it would run a remote caller's code on this machine, so
it runs only where the user asks for it (``fttui eval --allow-python``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from fttui.server.errors import ApiError, bad_request, json_response
from fttui.server.routes.deps import json_body, services


def _grader(body: dict[str, Any]) -> dict[str, Any]:
    from fttui.evals import validate

    if "grader" not in body:
        raise bad_request(
            "Missing required parameter: 'grader'.",
            param="grader",
            code="missing_required_parameter",
        )
    grader = body["grader"]
    errors = validate(grader)
    if errors:
        # param names the first bad field as a JSON path; the message lists them all
        param = errors[0].split(":", 1)[0]
        raise bad_request(
            "Invalid grader: " + "; ".join(errors), param=param, code="invalid_grader"
        )
    return grader


router = APIRouter(prefix="/fine_tuning/alpha/graders", tags=["graders"])


def _model_client(s: Any):
    """A model grader's judge: one of this server's own models, through its chat path."""

    def call(model: str, messages: list[dict[str, Any]], params: dict[str, Any]):
        from fttui.server.generation import chat_completion, chat_request

        body: dict[str, Any] = {"model": model, "messages": messages}
        for key in ("temperature", "top_p", "seed"):
            if params.get(key) is not None:
                body[key] = params[key]
        if params.get("max_completions_tokens"):
            body["max_tokens"] = params["max_completions_tokens"]
        req, stops, _, _ = chat_request(body, s.models, s.executor)
        out = chat_completion(s.executor, req, stops)
        return out["choices"][0]["message"]["content"] or "", out["usage"]["total_tokens"]

    return call


def _run_grader(s: Any, grader: dict[str, Any], item: Any, sample: str) -> dict[str, Any]:
    from fttui.evals import Runner, has_python, run

    if has_python(grader):
        raise ApiError(
            400,
            "python graders do not run on fttui serve (they would run the caller's code "
            "on this machine); run them locally with fttui eval --allow-python.",
            param="grader",
            code="python_grader_disabled",
        )
    from fttui.server.generation import embedder

    runner = Runner(model_client=_model_client(s), embed=embedder(s.models, s.executor))
    return run(grader, item, sample, runner).to_run_response()


@router.post("/validate")
async def validate_grader(request: Request) -> Response:
    return json_response({"grader": _grader(await json_body(request))})


@router.post("/run")
async def run_grader_route(request: Request) -> Response:
    body = await json_body(request)
    grader = _grader(body)
    sample = body.get("model_sample")
    if not isinstance(sample, str):
        raise bad_request(
            "'model_sample' must be a string (the model's answer).",
            param="model_sample",
            code="invalid_value",
        )
    item = body.get("item")
    if item is not None and not isinstance(item, dict):
        raise bad_request("'item' must be an object.", param="item", code="invalid_value")
    return json_response(
        await run_in_threadpool(_run_grader, services(request), grader, item, sample)
    )
