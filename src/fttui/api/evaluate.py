"""An evaluation set up against a provider: what ``fttui eval`` and the app's Evals pane
both run, so they read graders, expand ``job:`` names, ask the models and score the
answers the same way.

The engine (items, scoring, resume, the report) is :mod:`fttui.evals.session`; this module
adds what needs a client: the model call (chat or completions, the data's stop sequence,
a missing model asked once), the model graders' judge, and the job's models. Errors are
:class:`EvalSetupError` with a message meant for the user; the CLI turns them into its
usage errors, the app shows them in the pane.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fttui.api.errors import ApiError, friendly

if TYPE_CHECKING:  # imported where used: `fttui lint --grader` only reads the grader
    from fttui.api.sample import Sample
    from fttui.evals.items import Item

#: The built-in metrics (``--metric``), as the CLI offers them.
METRICS = ("exact", "contains", "fuzzy", "bleu", "rouge", "classification")


class EvalSetupError(ValueError):
    """An evaluation that cannot start: ``errors`` lists every problem (a grader may have
    several, each naming its JSON path); the message is the first one."""

    def __init__(self, message: str, errors: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors) if errors else [message]


def read_grader(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The grader JSON at ``path`` (or the ``{"grader": …}`` body of the graders
    endpoints), validated by :mod:`fttui.evals`."""
    import orjson

    from fttui.evals import validate

    try:
        with open(path, "rb") as fh:
            grader = orjson.loads(fh.read())
    except OSError as exc:
        raise EvalSetupError(f"cannot read the grader {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise EvalSetupError(f"the grader {path} is not valid JSON: {exc}") from None
    if isinstance(grader, dict) and isinstance(grader.get("grader"), dict):
        grader = grader["grader"]  # the body of /graders/run or /validate
    if not isinstance(grader, dict) or not isinstance(grader.get("type"), str):
        raise EvalSetupError(
            f"the grader {path} must be a JSON object with a `type` (string_check, "
            "text_similarity, score_model, label_model, python or multi)"
        )
    # the same rules as the graders endpoints: a bad grader is refused before any call
    errors = validate(grader)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise EvalSetupError(f"the grader {path} is invalid: {errors[0]}{more}", errors)
    return grader


def job_models(client: Any, job_id: str) -> list[str]:
    """A job's checkpoints (oldest first), then its fine-tuned model."""
    try:
        job = client.fine_tuning.jobs.retrieve(job_id)
        cps = list(client.fine_tuning.jobs.checkpoints.list(job_id, limit=100))
    except Exception as exc:
        raise EvalSetupError(f"job:{job_id}: {friendly(exc)}") from None
    cps.sort(key=lambda c: c.step_number or 0)
    found = [str(c.fine_tuned_model_checkpoint) for c in cps if c.fine_tuned_model_checkpoint]
    if job.fine_tuned_model:
        found.append(str(job.fine_tuned_model))
    if not found:
        raise EvalSetupError(
            f"job:{job_id}: the job ({job.status}) has no fine-tuned model or checkpoint yet"
        )
    return list(dict.fromkeys(found))


def expand_models(client: Any, names: Iterable[str]) -> list[str]:
    """``job:ftjob-…`` → its fine-tuned model and every checkpoint (oldest first)."""
    out: list[str] = []
    for name in names:
        if name.startswith("job:"):
            out.extend(job_models(client, name[4:]))
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def file_stops(path: str | os.PathLike[str], stop: Sequence[str] | None = None) -> list[str] | None:
    """The stop sequences to send: ``stop`` when given, else the one the file's
    completions end with (None when they end with none)."""
    from fttui.datasets.read import DatasetReadError
    from fttui.evals.items import detect_stop

    if stop:
        return list(stop)
    try:
        found = detect_stop(path)
    except DatasetReadError as exc:
        raise EvalSetupError(f"cannot read {os.fspath(path)}: {exc}") from None
    return [found] if found else None


def judge_for(client: Any) -> Callable[[str, list[dict[str, Any]], dict[str, Any]], Any]:
    """The model graders' call (score_model, label_model): greedy unless they say."""

    from fttui.api.sample import sample

    def judge(
        model: str, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> tuple[str, int]:
        ans = sample(
            client,
            model,
            messages=messages,
            max_tokens=params.get("max_completions_tokens"),
            temperature=params.get("temperature") or 0.0,
        )
        return ans.text, (ans.prompt_tokens or 0) + (ans.completion_tokens or 0)

    return judge


def embed_for(client: Any, model: str) -> Callable[[list[str]], list[list[float]]]:
    """The cosine graders' call: the provider's embeddings of ``model``.

    A provider without embeddings (or without that model) fails every cosine item the same
    way: after its first refusal the rest are graded with that error, not asked."""
    from fttui.api.sample import embed

    refused: list[Exception] = []

    def embed_texts(texts: list[str]) -> list[list[float]]:
        if refused:
            raise refused[0]
        try:
            return embed(client, model, texts)
        except ApiError as err:
            # not the texts' fault: no such endpoint or model, or no embeddings here
            whole = err.kind in ("not_found", "permission") or err.param == "model"
            if whole or err.code == "embeddings_unsupported":
                refused.append(err)
            raise

    return embed_texts


#: The embedding model of cosine graders when none is given (``--embedding-model``).
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


def make_scorer(
    client: Any,
    *,
    metric: str | None = None,
    grader: dict[str, Any] | None = None,
    pass_threshold: float | None = None,
    allow_python: bool = False,
    embedding_model: str = DEFAULT_EMBEDDING_MODEL,
    **runner_options: Any,
) -> Any:
    """The ``Scorer`` of ``--metric`` or ``--grader`` (a python grader only if allowed;
    cosine similarity through ``embedding_model``); ``runner_options`` go to the graders'
    ``Runner`` as they are (its other hooks)."""
    from fttui.evals import PythonRefused, Runner
    from fttui.evals.metrics import MetricUnavailable
    from fttui.evals.session import Scorer

    try:
        return Scorer(
            metric=metric or (None if grader else "exact"),
            grader=grader,
            runner=Runner(
                model_client=judge_for(client),
                embed=embed_for(client, embedding_model),
                allow_python=allow_python,
                **runner_options,
            ),
            pass_threshold=pass_threshold,
        )
    except (PythonRefused, ValueError, MetricUnavailable) as exc:
        raise EvalSetupError(str(exc)) from None


def make_call(
    client: Any,
    *,
    legacy: bool | None = None,
    stops: Sequence[str] | None = None,
    max_tokens: int = 256,
    logprobs: bool = False,
) -> Callable[[str, Item], Sample]:
    """``call(model, item)`` for ``Evaluation``: a prompt/completion item goes to the
    completions endpoint as it trained (unless ``legacy`` says), chat to chat."""
    # A model the provider does not have (a typo) fails every item the same way: after
    # its first 404 the rest are reported with that error without asking again.
    from fttui.api.sample import sample

    missing: dict[str, ApiError] = {}

    def ask(model: str, item: Item) -> Sample:
        use_legacy = legacy
        if use_legacy is None and item.kind == "completion":
            use_legacy = True
        return sample(
            client,
            model,
            messages=item.messages,
            prompt=item.prompt,
            legacy=use_legacy,
            stop=stops,
            max_tokens=max_tokens,
            logprobs=logprobs,
        )

    def call(model: str, item: Item) -> Sample:
        if model in missing:
            raise missing[model]
        try:
            return ask(model, item)
        except ApiError as err:
            if err.kind == "not_found":
                missing[model] = err
            raise

    return call


@dataclass(frozen=True)
class Checkpointed:
    """A model name read as a job's checkpoint (``…:ckpt-step-N``) or its final model."""

    base: str  # the name without the checkpoint part: the same for one job's models
    step: int | None  # None: the job's fine-tuned model (after every checkpoint)


def checkpoint_of(model: str) -> Checkpointed:
    head, sep, tail = model.rpartition(":ckpt-step-")
    if sep and tail.isdigit():
        return Checkpointed(head, int(tail))
    return Checkpointed(model, None)


def score_by_checkpoint(models: Sequence[dict[str, Any]]) -> list[tuple[str, float]]:
    """(label, mean) of one job's checkpoints then its model, in training order, when a
    run scored a checkpoint of the job and at least one more of its models; else []."""
    groups: dict[str, list[tuple[float, str, float]]] = {}
    for m in models:
        if m.get("mean") is None:
            continue
        cp = checkpoint_of(str(m["model"]))
        order = float("inf") if cp.step is None else float(cp.step)
        label = "final" if cp.step is None else f"step {cp.step}"
        groups.setdefault(cp.base, []).append((order, label, float(m["mean"])))
    best: list[tuple[float, str, float]] = []
    for points in groups.values():
        has_checkpoint = any(p[0] != float("inf") for p in points)
        if has_checkpoint and len(points) >= 2 and len(points) > len(best):
            best = points
    return [(label, mean) for _, label, mean in sorted(best)]


def add_costs(models: list[dict[str, Any]]) -> None:
    """Each model's ``price`` (the config's [inference_prices] entry, $ per 1M tokens) and
    ``cost`` of its answers; both None where no price is known. The CLI's scoreboard and
    the Evals pane's both fill theirs here."""
    from fttui.config import inference_price_for
    from fttui.evals.session import cost_of

    for m in models:
        price = inference_price_for(m["model"])
        m["price"] = None if price is None else {"input": price[0], "output": price[1]}
        m["cost"] = cost_of(m, price)


def cost_text(v: float | None) -> str:
    """A scoreboard's cost cell: ``$0.0012`` / ``$3.50``; ``—`` where it is unknown."""
    if v is None:
        return "—"  # no price known, or usage missing: never a guess
    return f"${v:,.4f}" if v < 1 else f"${v:,.2f}"
