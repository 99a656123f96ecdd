"""Quick-test a model: streamed chat completions, or legacy completions for
prompt/completion models (babbage-002, davinci-002 and their fine-tunes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from fttui.api.errors import ApiError, friendly
from fttui.api.models import is_legacy_completion_model

#: ``max_tokens`` for legacy completions when none is given: that endpoint defaults to 16
#: tokens, which cuts a quick test off mid-sentence (chat completions have no such default).
LEGACY_DEFAULT_MAX_TOKENS = 256


@dataclass
class ChatResult:
    """What a finished (or stopped) answer came to."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    legacy: bool = False
    stopped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "model": self.model,
            "legacy": self.legacy,
            "stopped": self.stopped,
        }


def _usage(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return cast("dict[str, Any]", obj.model_dump(exclude_none=True))
    return dict(obj) if isinstance(obj, dict) else None


def _mentions(err: ApiError, *words: str) -> bool:
    text = err.message.lower()
    return any(w in text for w in words)


@dataclass
class ChatStream:
    """Iterate for text deltas; ``result`` is filled as it goes and final at the end."""

    client: Any
    model: str
    request: dict[str, Any]
    legacy: bool
    should_stop: Callable[[], bool] | None = None
    result: ChatResult = field(default_factory=ChatResult)
    _stream: Any = None
    _closed: bool = False

    def __post_init__(self) -> None:
        self.result = ChatResult(model=self.model, legacy=self.legacy)

    def _open(self) -> Any:
        req = dict(self.request)
        fn = self.client.completions.create if self.legacy else self.client.chat.completions.create
        for _ in range(3):
            try:
                return fn(**req)
            except Exception as exc:
                err = friendly(exc)
                if err.kind != "bad_request":
                    raise err from None
                # Providers differ: drop what they refuse and try once more.
                if "stream_options" in req and _mentions(err, "stream_options", "include_usage"):
                    req.pop("stream_options")
                    continue
                if (
                    not self.legacy
                    and "max_tokens" in req
                    and _mentions(err, "max_tokens", "max_completion_tokens")
                ):
                    req["max_completion_tokens"] = req.pop("max_tokens")
                    continue
                raise err from None
        raise ApiError("bad_request", "the provider refused the request")

    def __iter__(self) -> Iterator[str]:
        if self._closed:
            return
        self._stream = self._open()
        parts: list[str] = []
        try:
            for chunk in self._stream:
                if self.should_stop is not None and self.should_stop():
                    self.result.stopped = True
                    self.result.finish_reason = self.result.finish_reason or "stopped"
                    break
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    self.result.usage = _usage(usage)
                if getattr(chunk, "model", None):
                    self.result.model = chunk.model
                for choice in getattr(chunk, "choices", None) or []:
                    if getattr(choice, "index", 0) not in (0, None):
                        continue
                    if self.legacy:
                        delta = getattr(choice, "text", None)
                    else:
                        d = getattr(choice, "delta", None)
                        delta = getattr(d, "content", None) if d is not None else None
                    if getattr(choice, "finish_reason", None):
                        self.result.finish_reason = choice.finish_reason
                    if delta:
                        parts.append(delta)
                        self.result.text += delta
                        yield delta
        except ApiError:
            raise
        except GeneratorExit:
            raise
        except Exception as exc:
            raise friendly(exc) from None
        finally:
            self.result.text = "".join(parts)
            self.close()

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._closed = True
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass

    def collect(self) -> ChatResult:
        for _ in self:
            pass
        return self.result


def build_messages(
    prompt: str, *, system: str | None = None, messages: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    out.extend(messages or [])
    if prompt:
        out.append({"role": "user", "content": prompt})
    return out


def stream_chat(
    client: Any,
    model: str,
    prompt: str,
    *,
    system: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    stop: Sequence[str] | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    legacy: bool | None = None,
    should_stop: Callable[[], bool] | None = None,
    seed: int | None = None,
) -> ChatStream:
    """A streamed answer. ``legacy=None`` picks completions for prompt/completion models
    (the system prompt is then prepended to the prompt, and ``max_tokens`` defaults to
    ``LEGACY_DEFAULT_MAX_TOKENS``)."""
    if stop:
        stop = [s for s in stop if s]
        if len(stop) > 4:
            raise ApiError("bad_request", "at most 4 stop sequences")
    if temperature is not None and not (0 <= temperature <= 2):
        raise ApiError("bad_request", "temperature must be between 0 and 2")
    if max_tokens is not None and max_tokens < 1:
        raise ApiError("bad_request", "max tokens must be at least 1")
    use_legacy = is_legacy_completion_model(model) if legacy is None else legacy
    req: dict[str, Any] = {
        "model": model,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if use_legacy:
        text = f"{system}\n\n{prompt}" if system else prompt
        req["prompt"] = text
        if max_tokens is None:
            max_tokens = LEGACY_DEFAULT_MAX_TOKENS
    else:
        req["messages"] = build_messages(prompt, system=system, messages=messages)
    if stop:
        req["stop"] = list(stop)
    if temperature is not None:
        req["temperature"] = temperature
    if max_tokens is not None:
        req["max_tokens"] = max_tokens
    if seed is not None:
        req["seed"] = seed
    return ChatStream(
        client=client, model=model, request=req, legacy=use_legacy, should_stop=should_stop
    )


def complete(client: Any, model: str, prompt: str, **kwargs: Any) -> ChatResult:
    """The whole answer at once (streams underneath)."""
    return stream_chat(client, model, prompt, **kwargs).collect()
