"""Models: list, get, delete; which endpoint a model answers on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fttui.api.errors import friendly
from fttui.api.paging import read_call

#: Base models trained on prompt/completion data; they (and their ``ft:`` descendants)
#: answer on the legacy completions endpoint.
LEGACY_COMPLETION_BASES = ("babbage-002", "davinci-002")
#: Models that answer only on the completions endpoint (not fine-tunable themselves).
COMPLETIONS_ONLY = (*LEGACY_COMPLETION_BASES, "gpt-3.5-turbo-instruct")


def iter_models(client: Any) -> Iterator[Any]:
    """Every model (the models list is one page in the API)."""
    page = read_call(lambda: client.models.list())
    yield from (getattr(page, "data", None) or [])


def get_model(client: Any, model_id: str) -> Any:
    return read_call(lambda: client.models.retrieve(model_id))


def delete_model(client: Any, model_id: str) -> bool:
    try:
        return bool(client.models.delete(model_id).deleted)
    except Exception as exc:
        raise friendly(exc) from None


def is_fine_tuned(model_id: str) -> bool:
    return model_id.startswith("ft:")


def base_of(model_id: str) -> str:
    """``ft:davinci-002:org:suffix:id`` → ``davinci-002``; other ids unchanged."""
    if model_id.startswith("ft:"):
        parts = model_id.split(":")
        if len(parts) > 1 and parts[1]:
            return parts[1]
    return model_id


def is_legacy_completion_model(model_id: str) -> bool:
    """Whether ``model_id`` answers on the legacy completions endpoint, not chat."""
    base = base_of(model_id)
    return any(base == b or base.startswith(b + "-") for b in COMPLETIONS_ONLY)
