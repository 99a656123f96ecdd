"""Chat completions and legacy completions on top of ``Executor.generate``.

The executor streams token deltas; this module validates the request, applies the stop
sequences (cutting the text before the first one, holding back just enough text to see a
stop that spans deltas, and closing the executor's iterator once every choice is done),
counts usage and shapes the answer as a JSON body or as SSE chunks the SDKs expect.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, get_args

import orjson

from fttui.server.errors import ApiError, bad_request
from fttui.server.executors.base import (
    Embeddings,
    EmbedRequest,
    Executor,
    ExecutorError,
    GenerationRequest,
    TokenDelta,
)
from fttui.server.model_registry import ModelRegistry
from fttui.server.schemas import Role
from fttui.server.store import new_id

MAX_N = 128
MAX_TOKENS_CAP = 32768
#: ``max_tokens`` when the request gives none: what OpenAI's endpoints default to here
CHAT_DEFAULT_MAX_TOKENS = 256
COMPLETION_DEFAULT_MAX_TOKENS = 16
CHAT_ROLES = set(get_args(Role))


@dataclass
class Piece:
    """Text released for one choice, with the tokens it is made of."""

    index: int
    text: str
    tokens: list[TokenDelta] = field(default_factory=list)
    finish_reason: str | None = None


class StopCutter:
    """Applies stop sequences to one choice's stream of token deltas.

    Text is released token by token, except the last ``max(len(stop)) - 1`` characters,
    which could be the start of a stop sequence completed by the next delta.
    """

    def __init__(self, index: int, stops: list[str]) -> None:
        self.index, self.stops = index, stops
        self.hold = max((len(s) for s in stops), default=1) - 1
        self.pending: list[TokenDelta] = []
        self.done = False
        self.tokens = 0  #: completion tokens consumed

    def feed(self, delta: TokenDelta) -> Piece | None:
        if delta.finish_reason is None:
            # a token, even one that completes no character yet (half of an emoji or a CJK
            # character): it is generated, billed and has a logprob
            self.tokens += 1
            self.pending.append(delta)
        elif delta.text:  # the decoder's last characters, not a token of its own
            self.pending.append(delta)
        text = "".join(t.text for t in self.pending)
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            return self._release(cut, "stop")
        if delta.finish_reason is not None:
            return self._release(len(text), delta.finish_reason)
        return self._release(len(text) - self.hold, None)

    def _release(self, upto: int, finish: str | None) -> Piece | None:
        """Release whole tokens ending at or before ``upto`` (all of them, cut at ``upto``,
        when ``finish`` is set)."""
        out, used, pos = [], 0, 0
        for token in self.pending:
            end = pos + len(token.text)
            if finish is None and end > upto:
                break
            if finish is not None and pos >= upto:
                break
            if end > upto:
                token = TokenDelta(
                    token.index, token.text[: upto - pos], token.logprob, token.top_logprobs
                )
            out.append(token)
            used += 1
            pos = end
        self.pending = self.pending[used:] if finish is None else []
        if finish is not None:
            self.done = True
        if not out and finish is None:
            return None
        return Piece(self.index, "".join(t.text for t in out), out, finish)


def run(
    executor: Executor, request: GenerationRequest, stops: list[str]
) -> tuple[int, Iterator[Piece], dict[int, StopCutter]]:
    """Start generation: (prompt tokens, the released pieces, the per-choice cutters)."""
    try:
        generation = executor.generate(request)
    except ExecutorError as exc:
        raise bad_request(exc.message, param=exc.param, code=exc.code) from exc
    cutters = {i: StopCutter(i, stops) for i in range(request.n)}

    def pieces() -> Iterator[Piece]:
        deltas = generation.deltas
        try:
            for delta in deltas:
                cutter = cutters.get(delta.index)
                if cutter is None or cutter.done:
                    continue
                piece = cutter.feed(delta)
                if piece is not None:
                    yield piece
                if all(c.done for c in cutters.values()):
                    break
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()
        for cutter in cutters.values():  # the executor ended a choice without saying why
            if not cutter.done:
                piece = cutter.feed(TokenDelta(cutter.index, "", finish_reason="stop"))
                if piece is not None:
                    yield piece

    return generation.prompt_tokens, pieces(), cutters


# -- request parsing ------------------------------------------------------------------------
def _number(body: dict, name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise bad_request(
            f"Invalid '{name}': {value!r}; expected a number from {low:g} to {high:g}.",
            param=name,
            code="invalid_value",
        )
    return float(value)


def _integer(body: dict, name: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(
            f"Invalid '{name}': {value!r}; expected an integer from {low} to {high}.",
            param=name,
            code="invalid_value",
        )
    return value


def parse_stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise bad_request("'stop' must be a string or a list of strings.", param="stop")
    if len(value) > 4:
        raise bad_request(
            f"'stop' takes at most 4 sequences, got {len(value)}.",
            param="stop",
            code="invalid_value",
        )
    return [s for s in value if s]


def _common(
    body: dict[str, Any],
    models: ModelRegistry,
    executor: Executor,
    default_max: int,
    max_names: tuple[str, ...],
) -> tuple[GenerationRequest, list[str]]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required.", param="model")
    resolved = models.resolve(model)
    if resolved.executor != executor.name:
        raise bad_request(
            f"Model {model} was trained by the {resolved.executor} executor; this "
            f"server runs {executor.name}.",
            param="model",
            code="model_not_available",
        )
    max_tokens = default_max
    for name in max_names:
        if body.get(name) is not None:
            max_tokens = _integer(body, name, default_max, 1, MAX_TOKENS_CAP) or default_max
            break
    request = GenerationRequest(
        model=model,
        base_model=resolved.base_model,
        model_path=resolved.model_path,
        adapter_path=resolved.adapter_path,
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        n=_integer(body, "n", 1, 1, MAX_N) or 1,
        seed=_integer(body, "seed", None, -(2**63), 2**63 - 1),
    )
    return request, parse_stop(body.get("stop"))


def _stream_options(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be a boolean.", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", param="stream_options")
    return stream, bool(options.get("include_usage"))


def _usage(prompt: int, cutters: dict[int, StopCutter]) -> dict[str, int]:
    completion = sum(c.tokens for c in cutters.values())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _stream_error(exc: Exception) -> bytes:
    message = exc.message if isinstance(exc, ApiError | ExecutorError) else str(exc)
    return _sse(
        {
            "error": {
                "message": message,
                "type": "server_error",
                "param": None,
                "code": "generation_failed",
            }
        }
    )


# -- chat completions -----------------------------------------------------------------------
def _chat_logprob(token: TokenDelta) -> dict[str, Any]:
    return {
        "token": token.text,
        "logprob": token.logprob if token.logprob is not None else 0.0,
        "bytes": list(token.text.encode()),
        "top_logprobs": [
            {"token": t, "logprob": lp, "bytes": list(t.encode())}
            for t, lp in (token.top_logprobs or [])
        ],
    }


def chat_request(
    body: dict[str, Any], models: ModelRegistry, executor: Executor
) -> tuple[GenerationRequest, list[str], bool, bool]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list.", param="messages")
    for i, message in enumerate(messages):
        # a role that is an object or a list is unhashable: test the type before the set
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(role, str) or role not in CHAT_ROLES:
            raise bad_request(
                f"Invalid message at messages[{i}]: each needs a role among "
                f"{', '.join(sorted(CHAT_ROLES))}.",
                param=f"messages[{i}]",
            )
        content = message.get("content")
        # only an assistant turn (one that called tools) may come without content
        if not (
            isinstance(content, str | list)
            or (content is None and message["role"] in ("assistant", "function"))
        ):
            raise bad_request(
                f"Invalid 'messages[{i}].content': expected a string or a list of content parts.",
                param=f"messages[{i}].content",
            )
    request, stops = _common(
        body, models, executor, CHAT_DEFAULT_MAX_TOKENS, ("max_completion_tokens", "max_tokens")
    )
    request.messages = messages
    logprobs = body.get("logprobs") or False
    if not isinstance(logprobs, bool):
        raise bad_request("'logprobs' must be a boolean.", param="logprobs")
    top = _integer(body, "top_logprobs", 0, 0, 20) or 0
    if top and not logprobs:
        raise bad_request("'top_logprobs' needs 'logprobs' set to true.", param="top_logprobs")
    request.logprobs, request.top_logprobs = logprobs, top
    stream, include_usage = _stream_options(body)
    return request, stops, stream, include_usage


def chat_completion(
    executor: Executor, request: GenerationRequest, stops: list[str]
) -> dict[str, Any]:
    prompt_tokens, pieces, cutters = run(executor, request, stops)
    texts: dict[int, list[str]] = {i: [] for i in range(request.n)}
    logprobs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(request.n)}
    finish: dict[int, str] = {}
    for piece in pieces:
        texts[piece.index].append(piece.text)
        if request.logprobs:
            logprobs[piece.index] += [_chat_logprob(t) for t in piece.tokens]
        if piece.finish_reason:
            finish[piece.index] = piece.finish_reason
    choices: list[dict[str, Any]] = [
        {
            "index": i,
            "message": {
                "role": "assistant",
                "content": "".join(texts[i]),
                "refusal": None,
                "annotations": [],
            },
            "logprobs": {"content": logprobs[i], "refusal": None} if request.logprobs else None,
            "finish_reason": finish.get(i, "stop"),
        }
        for i in range(request.n)
    ]
    return {
        **_envelope("chat.completion", executor, request),
        "choices": choices,
        "usage": _usage(prompt_tokens, cutters),
    }


def _envelope(kind: str, executor: Executor, request: GenerationRequest) -> dict[str, Any]:
    """The fields every completion body and stream chunk of ``kind`` starts with."""
    chat = kind.startswith("chat.")
    out = {
        "id": new_id("chatcmpl-" if chat else "cmpl-"),
        "object": kind,
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": f"fp_fttui_{executor.name}",
    }
    if chat:
        out["service_tier"] = "default"
    return out


Started = tuple[int, Iterator[Piece], dict[int, StopCutter]]


def chat_stream(
    executor: Executor, request: GenerationRequest, started: Started, include_usage: bool
) -> Iterator[bytes]:
    """The SSE frames of a chat completion already ``started`` with :func:`run` — started
    before the response, so a bad model or a prompt too long is a 400 the SDK raises as
    such, not an error frame inside a 200 stream."""
    base = _envelope("chat.completion.chunk", executor, request)

    def chunk(
        index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None
    ) -> bytes:
        return _sse(
            {
                **base,
                "choices": [
                    {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
                ],
            }
        )

    def frames() -> Iterator[bytes]:
        try:
            prompt_tokens, pieces, cutters = started
            for i in range(request.n):
                yield chunk(i, {"role": "assistant", "content": "", "refusal": None})
            for piece in pieces:
                if piece.text or piece.tokens:
                    lp = (
                        {"content": [_chat_logprob(t) for t in piece.tokens], "refusal": None}
                        if request.logprobs
                        else None
                    )
                    yield chunk(piece.index, {"content": piece.text}, None, lp)
                if piece.finish_reason:
                    yield chunk(piece.index, {}, piece.finish_reason)
            if include_usage:
                yield _sse({**base, "choices": [], "usage": _usage(prompt_tokens, cutters)})
        except Exception as exc:
            yield _stream_error(exc)
        yield b"data: [DONE]\n\n"

    return frames()


# -- legacy completions ---------------------------------------------------------------------
def completion_request(
    body: dict[str, Any], models: ModelRegistry, executor: Executor
) -> tuple[GenerationRequest, list[str], list[str], bool, bool, bool]:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise bad_request("'prompt' must be a string or a list of strings.", param="prompt")
    request, stops = _common(body, models, executor, COMPLETION_DEFAULT_MAX_TOKENS, ("max_tokens",))
    logprobs = _integer(body, "logprobs", None, 0, 5)
    request.logprobs = logprobs is not None
    request.top_logprobs = logprobs or 0
    echo = body.get("echo") or False
    stream, include_usage = _stream_options(body)
    if echo and stream:
        raise bad_request("'echo' is not supported with 'stream' here.", param="echo")
    return request, stops, prompts, bool(echo), stream, include_usage


def _legacy_logprobs(tokens: list[TokenDelta], offset: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tokens": [],
        "token_logprobs": [],
        "top_logprobs": [],
        "text_offset": [],
    }
    for t in tokens:
        out["tokens"].append(t.text)
        out["token_logprobs"].append(t.logprob if t.logprob is not None else 0.0)
        out["top_logprobs"].append(dict(t.top_logprobs or []))
        out["text_offset"].append(offset)
        offset += len(t.text)
    return out


def per_prompt(request: GenerationRequest, prompt: str) -> GenerationRequest:
    return GenerationRequest(**{**request.__dict__, "prompt": prompt, "messages": None})


def completion(
    executor: Executor, request: GenerationRequest, stops: list[str], prompts: list[str], echo: bool
) -> dict[str, Any]:
    choices: list[dict[str, Any]] = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for p, prompt in enumerate(prompts):
        prompt_tokens, pieces, cutters = run(executor, per_prompt(request, prompt), stops)
        texts: dict[int, list[TokenDelta]] = {i: [] for i in range(request.n)}
        finish: dict[int, str] = {}
        for piece in pieces:
            texts[piece.index] += piece.tokens
            if piece.finish_reason:
                finish[piece.index] = piece.finish_reason
        for i in range(request.n):
            text = "".join(t.text for t in texts[i])
            lead = prompt if echo else ""
            choices.append(
                {
                    "text": lead + text,
                    "index": p * request.n + i,
                    "logprobs": _legacy_logprobs(texts[i], len(lead)) if request.logprobs else None,
                    "finish_reason": finish.get(i, "stop"),
                }
            )
        part = _usage(prompt_tokens, cutters)
        usage = {k: usage[k] + part[k] for k in usage}
    return {**_envelope("text_completion", executor, request), "choices": choices, "usage": usage}


def completion_stream(
    executor: Executor,
    request: GenerationRequest,
    stops: list[str],
    prompts: list[str],
    include_usage: bool,
    started: Started,
) -> Iterator[bytes]:
    """The SSE frames of a legacy completion; the first prompt's generation is ``started``
    before the response (see :func:`chat_stream`), the others as the stream reaches them."""
    base = _envelope("text_completion", executor, request)

    def frames() -> Iterator[bytes]:
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        try:
            for p, prompt in enumerate(prompts):
                prompt_tokens, pieces, cutters = (
                    started if p == 0 else run(executor, per_prompt(request, prompt), stops)
                )
                offsets = dict.fromkeys(range(request.n), 0)
                for piece in pieces:
                    lp = (
                        _legacy_logprobs(piece.tokens, offsets[piece.index])
                        if request.logprobs
                        else None
                    )
                    offsets[piece.index] += len(piece.text)
                    yield _sse(
                        {
                            **base,
                            "choices": [
                                {
                                    "text": piece.text,
                                    "index": p * request.n + piece.index,
                                    "logprobs": lp,
                                    "finish_reason": piece.finish_reason,
                                }
                            ],
                        }
                    )
                part = _usage(prompt_tokens, cutters)
                usage = {k: usage[k] + part[k] for k in usage}
            if include_usage:
                yield _sse({**base, "choices": [], "usage": usage})
        except Exception as exc:
            yield _stream_error(exc)
        yield b"data: [DONE]\n\n"

    return frames()


# -- embeddings -----------------------------------------------------------------------------
def embed_texts(
    models: ModelRegistry, executor: Executor, model: str, texts: list[str]
) -> Embeddings:
    """``texts`` embedded by ``model`` (a 404 when there is no such model, a 400 when the
    executor cannot embed with it). Also the embedder of this server's own graders."""
    resolved = models.resolve(model)
    if resolved.executor != executor.name:
        raise bad_request(
            f"Model {model} was trained by the {resolved.executor} executor; this "
            f"server runs {executor.name}.",
            param="model",
            code="model_not_available",
        )
    req = EmbedRequest(
        model=model,
        base_model=resolved.base_model,
        texts=texts,
        model_path=resolved.model_path,
        adapter_path=resolved.adapter_path,
    )
    try:
        return executor.embed(req)
    except ExecutorError as exc:
        raise bad_request(exc.message, param=exc.param, code=exc.code) from exc


def embedder(
    models: ModelRegistry, executor: Executor, model: str | None = None
) -> Callable[[list[str]], list[list[float]]]:
    """A cosine grader's ``embed`` on this server: ``model``'s embeddings, else the
    executor's first base model's (a grader names no embedding model of its own)."""

    def embed(texts: list[str]) -> list[list[float]]:
        name = model or next((m.id for m in executor.base_models()), None)
        if name is None:
            raise ExecutorError(f"the {executor.name} executor has no model to embed with")
        return embed_texts(models, executor, name, texts).vectors

    return embed
