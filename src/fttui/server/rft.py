"""Reinforcement fine-tuning requests: ``method.type = "reinforcement"`` with a grader.

The body is checked as the official spec shapes it (``FineTuneReinforcementMethod``): the
grader by :mod:`fttui.evals` (the same rules as the graders endpoints and ``fttui eval``),
the RFT hyperparameters with their ranges. The error names the field by its JSON path
(``method.reinforcement.grader.graders.answer.operation``) so the user can find it.
"""

from __future__ import annotations

import math
from typing import Any

from fttui.server.errors import bad_request

REASONING_EFFORTS = ("default", "low", "medium", "high")
#: what "auto" becomes once the data is known (the local server's choices, not OpenAI's)
RFT_AUTO = {"compute_multiplier": 1.0, "eval_samples": 1, "reasoning_effort": "default"}


def parse_grader(raw: Any, path: str = "method.reinforcement.grader") -> dict[str, Any]:
    """The grader, checked by the same rules as the graders endpoints and ``fttui eval``
    (:func:`fttui.evals.validate`); a 400 whose ``param`` is the first bad field's path."""
    from fttui.evals import validate

    errors = validate(raw, path=path)
    if errors:
        param = errors[0].split(":", 1)[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise bad_request(f"Invalid grader: {errors[0]}{more}.", param=param, code="invalid_grader")
    return raw


def sub_grader_names(grader: dict[str, Any]) -> list[str]:
    """The names a multi grader's formula uses for its graders (none for other graders)."""
    graders = grader.get("graders") if grader.get("type") == "multi" else None
    if not isinstance(graders, dict):
        return []
    if "type" in graders:
        return [str(graders.get("name") or graders["type"])]
    return [str(name) for name in graders]


def unsupported_grader(grader: dict[str, Any]) -> str | None:
    """Why the local trainer cannot run ``grader`` (None when it can)."""
    kinds: list[str] = []

    def walk(g: Any) -> None:
        if not isinstance(g, dict):
            return
        kinds.append(str(g.get("type")))
        if g.get("type") == "text_similarity" and g.get("evaluation_metric") == "cosine":
            kinds.append("cosine")
        subs = g.get("graders") if g.get("type") == "multi" else None
        if isinstance(subs, dict):
            for sub in [subs] if "type" in subs else subs.values():
                walk(sub)

    walk(grader)
    if "python" in kinds:
        return (
            "a python grader runs code on the training machine; the local trainer does not run one"
        )
    if "score_model" in kinds or "label_model" in kinds:
        return "model graders (score_model, label_model) need a judge model; the local trainer has none yet"
    if "cosine" in kinds:
        # every reward would be 0 with an error flag: refused, not trained on silently
        return (
            "cosine text_similarity needs an embedding model; the local trainer has none "
            "(fuzzy_match, bleu, rouge_l … run here)"
        )
    return None


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise bad_request(
            f"Invalid {name} {value!r}: use one of {', '.join(choices)}.",
            param=name,
            code="invalid_hyperparameter",
        )
    return str(value)


def _number(value: Any, name: str, low: float, high: float | None, *, integer: bool) -> Any:
    if value == "auto":
        return "auto"
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and value > low and (high is None or value <= high)
    if not ok:
        what = "an integer" if integer else "a number"
        top = f" and at most {high:g}" if high is not None else ""
        raise bad_request(
            f'Invalid {name} {value!r}: use "auto" or {what} above {low:g}{top}.',
            param=name,
            code="invalid_hyperparameter",
        )
    return value


def parse_rft_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """The RFT-only hyperparameters (the shared three are parsed with the others)."""
    return {
        "reasoning_effort": _choice(
            raw.get("reasoning_effort", "default"), "reasoning_effort", REASONING_EFFORTS
        ),
        "compute_multiplier": _number(
            raw.get("compute_multiplier", "auto"), "compute_multiplier", 0, 10, integer=False
        ),
        "eval_interval": _number(
            raw.get("eval_interval", "auto"), "eval_interval", 0, None, integer=True
        ),
        "eval_samples": _number(
            raw.get("eval_samples", "auto"), "eval_samples", 0, None, integer=True
        ),
    }


def resolve_rft(hp: dict[str, Any], steps_per_epoch: int) -> dict[str, Any]:
    """Replace "auto": evaluate once per epoch, one sample per prompt, compute ×1."""
    out = dict(hp)
    for key, value in RFT_AUTO.items():
        if out.get(key) == "auto":
            out[key] = value
    if out.get("eval_interval") == "auto":
        out["eval_interval"] = max(1, steps_per_epoch)
    return out


__all__ = [
    "parse_grader",
    "parse_rft_hyperparameters",
    "resolve_rft",
    "sub_grader_names",
    "unsupported_grader",
]
