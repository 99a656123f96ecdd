"""Models: list, get, delete; which endpoint a model answers on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

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
    return any(_in_family(model_id, b) for b in COMPLETIONS_ONLY)


#: The fine-tuning methods OpenAI runs on a few models only, and the model families that take
#: each (a snapshot, ``o4-mini-2025-04-16``, is its family's; an ``ft:`` model its base's).
#: OpenAI's ``/v1/models`` says nothing of fine-tuning, so this is its fine-tuning guide's
#: word (reinforcement fine-tuning: o4-mini); a method not listed here is left to its answer.
OPENAI_METHOD_MODELS: dict[str, tuple[str, ...]] = {"reinforcement": ("o4-mini",)}
OPENAI_HOST = "api.openai.com"
#: the field ``fttui serve`` adds to its model objects: the methods a job on the model may use
METHODS_FIELD = "fine_tuning_methods"
#: how many of the models that take a method a refusal names
MAX_NAMED = 8
#: seconds the pre-create method check waits for the model list
MODELS_CHECK_TIMEOUT = 5.0


def _in_family(model_id: str, family: str) -> bool:
    base = base_of(model_id)
    return base == family or base.startswith(family + "-")


def openai_method_refusal(model_id: str, method: str) -> str | None:
    """Why OpenAI would refuse a ``method`` job on ``model_id`` (``OPENAI_METHOD_MODELS``),
    or None when it takes it or the table does not say."""
    families = OPENAI_METHOD_MODELS.get(method)
    if families is None or any(_in_family(model_id, f) for f in families):
        return None
    named = ", ".join(f"{f} (and its snapshots)" for f in families)
    return f"OpenAI runs {method} fine-tuning on {named} only, not on {model_id}"


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def listed_methods(obj: Any) -> list[str] | None:
    """The fine-tuning methods a model object lists (``fine_tuning_methods``), or None when
    it says nothing of them (OpenAI's objects, most providers')."""
    methods = _field(obj, METHODS_FIELD)
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        return None
    return list(methods)


def listed_method_refusal(models: Iterable[Any], model_id: str, method: str) -> str | None:
    """Why the provider whose model list is ``models`` would refuse a ``method`` job on
    ``model_id``, naming the models that take it; None when it takes it, or when the list
    does not say (the model is not in it, or its object lists no methods)."""
    listed: dict[str, list[str] | None] = {}
    for obj in models:
        model = _field(obj, "id")
        if isinstance(model, str):
            listed[model] = listed_methods(obj)
    methods = listed.get(model_id)
    if methods is None or method in methods:
        return None
    able = [m for m, ms in listed.items() if ms and method in ms and not is_fine_tuned(m)]
    if len(able) > MAX_NAMED:
        able = [*able[:MAX_NAMED], f"{len(able) - MAX_NAMED} more (`fttui models`)"]
    takes = f"it takes {', '.join(methods)}" if methods else "it takes no fine-tuning"
    which = f"models that take {method}: {', '.join(able)}" if able else f"no model takes {method}"
    return f"{model_id} cannot be fine-tuned with {method} at this provider ({takes}); {which}"


def is_openai(client: Any) -> bool:
    """Whether ``client`` talks to OpenAI's own API."""
    try:
        host = urlsplit(str(client.base_url)).hostname
    except (AttributeError, ValueError):
        return False
    return host == OPENAI_HOST


def method_refusal(client: Any, model_id: str, method: str) -> str | None:
    """Why the provider would refuse a ``method`` job on ``model_id`` (the models that take
    it named), found before anything is uploaded; None when it takes it or nothing says.

    OpenAI: ``OPENAI_METHOD_MODELS``. Elsewhere: the model list, where its objects list
    their ``fine_tuning_methods`` (``fttui serve``'s do); a provider whose objects do not,
    or a list that cannot be read, is left to refuse the job itself.
    """
    if is_openai(client):
        why = openai_method_refusal(model_id, method)
        return f"{why} (--force sends it anyway)" if why else None
    try:
        # one quick try: a slow or failing list must not hold the create up (nor keep a
        # cancel waiting): the provider's own answer to the create says the same
        page = client.with_options(timeout=MODELS_CHECK_TIMEOUT, max_retries=0).models.list()
        models = list(getattr(page, "data", None) or [])
    except Exception:
        return None
    return listed_method_refusal(models, model_id, method)
