"""One answer per request, for evaluation: not streamed, greedy, with the first token's
log-probabilities when asked (the legacy classification metrics need them), and transient
provider errors retried with backoff that honours ``Retry-After``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fttui.api.chat import LEGACY_DEFAULT_MAX_TOKENS
from fttui.api.errors import ApiError, friendly
from fttui.api.models import is_legacy_completion_model

#: Attempts per request on top of the client's own retries: an evaluation of thousands of
#: items meets every transient 429/5xx/dropped connection a provider has, and one lost item
#: is reported, not the run.
ATTEMPTS = 4
MAX_BACKOFF = 8.0


@dataclass
class Sample:
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency: float = 0.0
    attempts: int = 1
    #: the first generated token's top alternatives, ``{token text: probability}``
    first_token: dict[str, float] | None = None
    finish_reason: str | None = None


def sample(
    client: Any,
    model: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    prompt: str | None = None,
    legacy: bool | None = None,
    stop: Sequence[str] | None = None,
    max_tokens: int | None = None,
    temperature: float = 0.0,
    logprobs: bool = False,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> Sample:
    """Ask ``model`` once (``legacy=None``: completions for prompt/completion models)."""
    use_legacy = is_legacy_completion_model(model) if legacy is None else legacy
    req: dict[str, Any] = {"model": model, "temperature": temperature}
    if stop:
        req["stop"] = [s for s in stop if s][:4]
    if use_legacy:
        req["prompt"] = prompt if prompt is not None else _flatten(messages or [])
        req["max_tokens"] = max_tokens or LEGACY_DEFAULT_MAX_TOKENS
        if logprobs:
            req["logprobs"] = 5
        fn = client.completions.create
    else:
        req["messages"] = (
            messages if messages is not None else [{"role": "user", "content": prompt or ""}]
        )
        if max_tokens:
            req["max_tokens"] = max_tokens
        if logprobs:
            req["logprobs"], req["top_logprobs"] = True, 5
        fn = client.chat.completions.create
    for attempt in range(1, attempts + 1):
        started = time.perf_counter()
        try:
            resp = fn(**req)
        except Exception as exc:
            err = exc if isinstance(exc, ApiError) else friendly(exc)
            if not err.transient or attempt == attempts:
                raise err from None
            sleep(min(MAX_BACKOFF, err.retry_after or 0.25 * 2**attempt))
            continue
        out = _read(resp, use_legacy)
        out.latency, out.attempts = time.perf_counter() - started, attempt
        return out
    raise ApiError("provider", "no answer")  # not reached: the loop returns or raises


def embed(
    client: Any,
    model: str,
    texts: list[str],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[list[float]]:
    """``texts`` through the provider's ``/v1/embeddings``, one vector each, in order;
    transient errors retried as :func:`sample` retries them."""
    for attempt in range(1, attempts + 1):
        try:
            resp = client.embeddings.create(model=model, input=texts)
        except Exception as exc:
            err = exc if isinstance(exc, ApiError) else friendly(exc)
            if not err.transient or attempt == attempts:
                raise err from None
            sleep(min(MAX_BACKOFF, err.retry_after or 0.25 * 2**attempt))
            continue
        data = sorted(resp.data, key=lambda d: d.index)
        return [list(map(float, d.embedding)) for d in data]
    raise ApiError("provider", "no answer")  # not reached: the loop returns or raises


def _flatten(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(str(m.get("content") or "") for m in messages)


def _read(resp: Any, legacy: bool) -> Sample:
    choice = resp.choices[0] if resp.choices else None
    usage = getattr(resp, "usage", None)
    out = Sample(
        text="",
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
    )
    if choice is None:
        return out
    out.finish_reason = getattr(choice, "finish_reason", None)
    lp = getattr(choice, "logprobs", None)
    if legacy:
        out.text = choice.text or ""
        tops = getattr(lp, "top_logprobs", None) if lp is not None else None
        if tops:
            out.first_token = {t: math.exp(v) for t, v in (tops[0] or {}).items()}
    else:
        out.text = (choice.message.content or "") if choice.message else ""
        content = getattr(lp, "content", None) if lp is not None else None
        if content:
            first = content[0]
            alts = getattr(first, "top_logprobs", None) or []
            out.first_token = {a.token: math.exp(a.logprob) for a in alts} or {
                first.token: math.exp(first.logprob)
            }
    return out
