"""``/v1/chat/completions`` and ``/v1/completions``, and the cap on the tokens one request
may ask the executor to generate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from fttui.server.errors import bad_request, json_response
from fttui.server.generation import (
    CHAT_DEFAULT_MAX_TOKENS,
    COMPLETION_DEFAULT_MAX_TOKENS,
    chat_completion,
    chat_request,
    chat_stream,
    completion,
    completion_request,
    completion_stream,
    per_prompt,
    run,
)
from fttui.server.routes.deps import body_doc, config, services, typed_body
from fttui.server.schemas import ChatCompletionRequest, CompletionRequest

#: the default of ``fttui serve --max-request-tokens``: one choice at the longest output a
#: request may ask for. ``n: 128`` × ``max_tokens: 32768`` would be hours of CPU on the torch
#: executor, holding a worker thread all along.
DEFAULT_MAX_REQUEST_TOKENS = 32768
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

router = APIRouter(tags=["completions"])


def check_request_tokens(request: Request, total: int, how: str, param: str) -> None:
    """Refuse a request that may generate more than ``--max-request-tokens`` in all."""
    limit = config(request).max_request_tokens
    if total > limit:
        raise bad_request(
            f"This request may generate up to {total:,} tokens ({how}); this server allows "
            f"{limit:,} per request. Ask for fewer, or restart it with "
            f"`fttui serve --max-request-tokens N` to raise the limit.",
            param=param,
            code="too_many_tokens",
        )


@router.post("/chat/completions", openapi_extra=body_doc(ChatCompletionRequest))
async def chat(
    request: Request,
    body: Annotated[ChatCompletionRequest, Depends(typed_body(ChatCompletionRequest))],
) -> Response:
    n, per = body.n or 1, body.max_output() or CHAT_DEFAULT_MAX_TOKENS
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    check_request_tokens(request, n * per, f"n {n} × {param} {per}", param)
    s = services(request)
    req, stops, stream, include_usage = chat_request(
        body.model_dump(exclude_unset=True), s.models, s.executor
    )
    if stream:  # started here: its errors are a 400, not an error frame in a 200 stream
        started = await run_in_threadpool(run, s.executor, req, stops)
        frames = chat_stream(s.executor, req, started, include_usage)
        return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)
    return json_response(await run_in_threadpool(chat_completion, s.executor, req, stops))


@router.post("/completions", openapi_extra=body_doc(CompletionRequest))
async def completions(
    request: Request,
    body: Annotated[CompletionRequest, Depends(typed_body(CompletionRequest))],
) -> Response:
    n = body.n or 1
    if body.best_of is not None and body.best_of < n:
        raise bad_request(
            f"best_of ({body.best_of}) must be at least n ({n}).",
            param="best_of",
            code="invalid_value",
        )
    prompts = 1 if isinstance(body.prompt, str) else len(body.prompt)
    candidates = max(n, body.best_of or 1)  # best_of candidates are generated, n returned
    per = body.max_tokens or COMPLETION_DEFAULT_MAX_TOKENS
    how = f"{prompts} prompt(s) × {'best_of' if candidates > n else 'n'} {candidates} × max_tokens {per}"
    check_request_tokens(request, prompts * candidates * per, how, "max_tokens")
    s = services(request)
    req, stops, prompt_list, echo, stream, include_usage = completion_request(
        body.model_dump(exclude_unset=True), s.models, s.executor
    )
    if stream:
        started = await run_in_threadpool(run, s.executor, per_prompt(req, prompt_list[0]), stops)
        frames = completion_stream(s.executor, req, stops, prompt_list, include_usage, started)
        return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)
    return json_response(
        await run_in_threadpool(completion, s.executor, req, stops, prompt_list, echo)
    )
