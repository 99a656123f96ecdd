"""Reinforcement fine-tuning requests: ``method.type = "reinforcement"`` with a grader.

The body is checked as the official spec shapes it (``FineTuneReinforcementMethod``): a
grader of one of the known types with the fields that type needs, and the RFT
hyperparameters with their ranges. The error names the field by its JSON path
(``method.reinforcement.grader.graders.answer.operation``) so the user can find it.
"""

from __future__ import annotations

import math
from typing import Any

from fttui.server.errors import ApiError, bad_request

GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "label_model", "multi")
STRING_CHECK_OPS = ("eq", "ne", "like", "ilike")
SIMILARITY_METRICS = (
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)
REASONING_EFFORTS = ("default", "low", "medium", "high")
#: what "auto" becomes once the data is known (the local server's choices, not OpenAI's)
RFT_AUTO = {"compute_multiplier": 1.0, "eval_samples": 1, "reasoning_effort": "default"}
MAX_GRADER_DEPTH = 4  #: multi graders nest; a deeper grader is surely a mistake


def _invalid(path: str, message: str) -> ApiError:
    return bad_request(f"Invalid grader: {path} {message}.", param=path, code="invalid_grader")


def _string(grader: dict[str, Any], key: str, path: str, *, required: bool = True) -> None:
    value = grader.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        raise _invalid(f"{path}.{key}", "must be a non-empty string")


def parse_grader(
    raw: Any, path: str = "method.reinforcement.grader", depth: int = 0
) -> dict[str, Any]:
    """The grader, checked; an :class:`ApiError` (400) naming the bad field otherwise."""
    if not isinstance(raw, dict):
        raise _invalid(path, "must be an object")
    kind = raw.get("type")
    if kind not in GRADER_TYPES:
        raise _invalid(f"{path}.type", f"must be one of {', '.join(GRADER_TYPES)} (got {kind!r})")
    _string(raw, "name", path)
    if kind == "string_check":
        _string(raw, "input", path)
        _string(raw, "reference", path)
        if raw.get("operation") not in STRING_CHECK_OPS:
            raise _invalid(f"{path}.operation", f"must be one of {', '.join(STRING_CHECK_OPS)}")
    elif kind == "text_similarity":
        _string(raw, "input", path)
        _string(raw, "reference", path)
        if raw.get("evaluation_metric") not in SIMILARITY_METRICS:
            raise _invalid(
                f"{path}.evaluation_metric", f"must be one of {', '.join(SIMILARITY_METRICS)}"
            )
    elif kind == "python":
        _string(raw, "source", path)
    elif kind in ("score_model", "label_model"):
        _string(raw, "model", path)
        messages = raw.get("input")
        if not isinstance(messages, list) or not messages:
            raise _invalid(f"{path}.input", "must be a non-empty list of messages")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise _invalid(f"{path}.input[{i}]", "must be a message with a `role`")
        if kind == "label_model":
            for key in ("labels", "passing_labels"):
                labels = raw.get(key)
                if (
                    not isinstance(labels, list)
                    or not labels
                    or not all(isinstance(x, str) for x in labels)
                ):
                    raise _invalid(f"{path}.{key}", "must be a non-empty list of strings")
    else:  # multi
        if depth >= MAX_GRADER_DEPTH:
            raise _invalid(path, f"nests multi graders more than {MAX_GRADER_DEPTH} deep")
        graders = raw.get("graders")
        if not isinstance(graders, dict) or not graders:
            raise _invalid(f"{path}.graders", "must be an object of named graders")
        if "type" in graders:  # the spec's (and the SDK's) form: one grader
            parse_grader(graders, f"{path}.graders", depth + 1)
        else:  # the graders guide's form: {"name": grader, ...}, named in the formula
            for name, sub in graders.items():
                parse_grader(sub, f"{path}.graders.{name}", depth + 1)
        _string(raw, "calculate_output", path)
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
    "GRADER_TYPES",
    "parse_grader",
    "parse_rft_hyperparameters",
    "resolve_rft",
    "sub_grader_names",
    "unsupported_grader",
]
