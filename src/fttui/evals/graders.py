"""Graders in OpenAI's JSON shape: validate one, and run it on an item and a model sample.

``validate(grader)`` returns every problem as ``"grader.<path>: <what is wrong>"`` so the
user sees which field to fix. ``run(grader, item, output_text, ...)`` returns the reward
and the per-grader details in the shape of ``/v1/fine_tuning/alpha/graders/run``.

Model graders (``score_model``, ``label_model``) and ``cosine`` similarity call a model
through callables the caller passes in: this package imports no client or server, so the
CLI (over the SDK) and the local server (its own executor) plug their own in.
"""

from __future__ import annotations

import ast
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fttui.evals import expr, templates
from fttui.evals.metrics import (
    TEXT_METRICS,
    MetricUnavailable,
    cosine,
    require,
    text_similarity,
)

GRADER_TYPES = ("string_check", "text_similarity", "score_model", "label_model", "python", "multi")
STRING_OPERATIONS = ("eq", "ne", "like", "ilike")
ROLES = ("user", "assistant", "system", "developer")
_COMMON = {"type", "name"}
FIELDS = {
    "string_check": _COMMON | {"input", "reference", "operation"},
    "text_similarity": _COMMON | {"input", "reference", "evaluation_metric", "pass_threshold"},
    "score_model": _COMMON | {"model", "input", "range", "sampling_params", "pass_threshold"},
    "label_model": _COMMON | {"model", "input", "labels", "passing_labels"},
    "python": _COMMON | {"source", "image_tag", "pass_threshold"},
    "multi": _COMMON | {"graders", "calculate_output"},
}
REQUIRED = {
    "string_check": ("input", "reference", "operation"),
    "text_similarity": ("input", "reference", "evaluation_metric"),
    "score_model": ("model", "input"),
    "label_model": ("model", "input", "labels", "passing_labels"),
    "python": ("source",),
    "multi": ("graders", "calculate_output"),
}
SAMPLING_PARAMS = ("seed", "top_p", "temperature", "max_completions_tokens", "reasoning_effort")
PYTHON_TIMEOUT = 10.0

#: ``model_client(model, messages, sampling_params) -> (text, total_tokens or None)``
ModelClient = Callable[[str, list[dict[str, Any]], dict[str, Any]], tuple[str, int | None]]
#: ``embed(texts) -> vectors``
Embedder = Callable[[list[str]], list[list[float]]]


class GraderError(ValueError):
    """A grader that does not validate; ``errors`` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# -- validation ---------------------------------------------------------------------------
def validate(grader: Any, *, path: str = "grader") -> list[str]:
    """Every problem with ``grader``, each naming the JSON path of the bad field."""
    errors: list[str] = []
    _validate(grader, path, errors, top=True)
    return errors


def check(grader: Any) -> dict[str, Any]:
    """``grader`` if it validates, else GraderError."""
    errors = validate(grader)
    if errors:
        raise GraderError(errors)
    return grader


def _validate(g: Any, path: str, errors: list[str], *, top: bool) -> None:
    if not isinstance(g, Mapping):
        errors.append(f"{path}: a grader must be a JSON object, not {_json_type(g)}")
        return
    kind = g.get("type")
    if kind not in GRADER_TYPES:
        what = "is missing" if kind is None else f"is {kind!r}"
        errors.append(f"{path}.type: {what}; use one of {', '.join(GRADER_TYPES)}")
        return
    name = g.get("name")
    if (top or "name" in g) and (not isinstance(name, str) or not name.strip()):
        errors.append(f"{path}.name: the grader needs a name (a non-empty string)")
    for key in g:
        if key not in FIELDS[kind]:
            errors.append(
                f"{path}.{key}: unknown field for a {kind} grader "
                f"(it takes {', '.join(sorted(FIELDS[kind]))})"
            )
    for key in REQUIRED[kind]:
        if key not in g:
            errors.append(f"{path}.{key}: missing (a {kind} grader needs it)")
    for key in ("input", "reference"):
        if kind in ("string_check", "text_similarity") and key in g:
            _template_string(g[key], f"{path}.{key}", errors)
    if kind == "string_check" and "operation" in g and g["operation"] not in STRING_OPERATIONS:
        errors.append(
            f"{path}.operation: {g['operation']!r} is not one of {', '.join(STRING_OPERATIONS)}"
        )
    metric = g.get("evaluation_metric")
    if kind == "text_similarity" and "evaluation_metric" in g and metric not in TEXT_METRICS:
        errors.append(
            f"{path}.evaluation_metric: {metric!r} is not one of {', '.join(TEXT_METRICS)}"
        )
    if "pass_threshold" in g and not _is_number(g["pass_threshold"]):
        errors.append(f"{path}.pass_threshold: must be a number")
    if kind in ("score_model", "label_model"):
        _validate_model_grader(g, kind, path, errors)
    if kind == "python" and "source" in g:
        _validate_python(g["source"], f"{path}.source", errors)
    if kind == "multi":
        _validate_multi(g, path, errors)


def _validate_model_grader(g: Mapping[str, Any], kind: str, path: str, errors: list[str]) -> None:
    if "model" in g and (not isinstance(g["model"], str) or not g["model"].strip()):
        errors.append(f"{path}.model: must be a model name (a non-empty string)")
    if "input" in g:
        msgs = g["input"]
        if not isinstance(msgs, list) or not msgs:
            errors.append(f"{path}.input: must be a non-empty list of messages")
        else:
            for i, m in enumerate(msgs):
                _validate_message(m, f"{path}.input[{i}]", errors)
    if kind == "score_model":
        rng = g.get("range")
        if "range" in g and not (
            isinstance(rng, list)
            and len(rng) == 2
            and all(_is_number(v) for v in rng)
            and rng[0] < rng[1]
        ):
            errors.append(f"{path}.range: must be two numbers [low, high] with low < high")
        params = g.get("sampling_params")
        if "sampling_params" in g:
            if not isinstance(params, Mapping):
                errors.append(f"{path}.sampling_params: must be an object")
            else:
                for key in params:
                    if key not in SAMPLING_PARAMS:
                        errors.append(
                            f"{path}.sampling_params.{key}: unknown "
                            f"(use {', '.join(SAMPLING_PARAMS)})"
                        )
    if kind == "label_model":
        labels = g.get("labels")
        ok = isinstance(labels, list) and labels and all(isinstance(v, str) for v in labels)
        if "labels" in g and not ok:
            errors.append(f"{path}.labels: must be a non-empty list of strings")
        passing = g.get("passing_labels")
        if "passing_labels" in g:
            if not isinstance(passing, list) or not all(isinstance(v, str) for v in passing):
                errors.append(f"{path}.passing_labels: must be a list of strings")
            elif ok and isinstance(labels, list):  # ok: labels is a list
                for i, v in enumerate(passing):
                    if v not in labels:
                        errors.append(f"{path}.passing_labels[{i}]: {v!r} is not in labels")


def _validate_message(m: Any, path: str, errors: list[str]) -> None:
    if not isinstance(m, Mapping):
        errors.append(f"{path}: a message must be an object with role and content")
        return
    if m.get("role") not in ROLES:
        errors.append(f"{path}.role: {m.get('role')!r} is not one of {', '.join(ROLES)}")
    content = m.get("content")
    if isinstance(content, str):
        _template_string(content, f"{path}.content", errors)
    elif isinstance(content, Mapping):
        _validate_part(content, f"{path}.content", errors)
    elif isinstance(content, list):
        for i, part in enumerate(content):
            _validate_part(part, f"{path}.content[{i}]", errors)
    else:
        errors.append(f"{path}.content: must be a string or text content parts")


def _validate_part(part: Any, path: str, errors: list[str]) -> None:
    if isinstance(part, str):
        _template_string(part, path, errors)
    elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
        _template_string(part["text"], f"{path}.text", errors)
    else:
        errors.append(f"{path}: a content part needs a text string (input_text, output_text)")


def _validate_python(source: Any, path: str, errors: list[str]) -> None:
    if not isinstance(source, str) or not source.strip():
        errors.append(f"{path}: must be Python source (a non-empty string)")
        return
    try:
        tree = ast.parse(source)  # parsed, never executed, here
    except SyntaxError as exc:
        errors.append(f"{path}: line {exc.lineno}: {exc.msg}")
        return
    if not any(isinstance(n, ast.FunctionDef) and n.name == "grade" for n in tree.body):
        errors.append(f"{path}: must define grade(sample, item) returning a number")


def sub_graders(g: Mapping[str, Any]) -> dict[str, Any] | None:
    """A multi grader's graders by name. OpenAI's guide writes them as an object of named
    graders; its OpenAPI file types ``graders`` as one grader, named by its ``name``:
    both are taken."""
    subs = g.get("graders")
    if not isinstance(subs, Mapping) or not subs:
        return None
    if isinstance(subs.get("type"), str):
        return {str(subs.get("name") or subs["type"]): subs}
    return dict(subs)


def _validate_multi(g: Mapping[str, Any], path: str, errors: list[str]) -> None:
    subs = sub_graders(g)
    single = subs is not None and isinstance(g["graders"].get("type"), str)
    names: set[str] = set()
    if "graders" in g:
        if subs is not None:
            for key, sub in subs.items():
                where = f"{path}.graders" if single else f"{path}.graders.{key}"
                if not key.isidentifier():
                    errors.append(
                        f"{where}: the name {key!r} must be an identifier to be used "
                        "in calculate_output"
                    )
                if isinstance(sub, Mapping) and sub.get("type") == "multi":
                    errors.append(f"{where}: a multi grader cannot nest another")
                    continue
                _validate(sub, where, errors, top=False)
                names.add(key)
        else:
            errors.append(f"{path}.graders: must be a grader or an object of named graders")
    formula = g.get("calculate_output")
    if "calculate_output" in g:
        try:
            used = expr.names(formula)
        except expr.FormulaError as exc:
            errors.append(f"{path}.calculate_output: {exc}")
        else:
            for unknown in sorted(used - names):
                errors.append(
                    f"{path}.calculate_output: {unknown!r} is not one of the graders "
                    f"({', '.join(sorted(names)) or 'none'})"
                )


def _template_string(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, str):
        errors.append(f"{path}: must be a string, not {_json_type(value)}")
        return
    for problem in templates.check(value):
        errors.append(f"{path}: {problem}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(v), type(v).__name__)


# -- running ------------------------------------------------------------------------------
ERROR_FLAGS = (
    "formula_parse_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
    "invalid_variable_error",
    "other_error",
    "python_grader_server_error",
    "python_grader_runtime_error",
    "model_grader_server_error",
    "model_grader_refusal_error",
    "model_grader_parse_error",
)
ERROR_DETAILS = (
    "python_grader_server_error_type",
    "python_grader_runtime_error_details",
    "model_grader_server_error_details",
)


@dataclass
class GradeResult:
    """One grading: ``reward``, and ``errors`` flags as OpenAI's run endpoint reports them."""

    name: str
    type: str
    reward: float = 0.0
    sub_rewards: dict[str, float] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    execution_time: float = 0.0
    token_usage: int | None = None
    sampled_model_name: str | None = None
    passed: bool | None = None
    message: str | None = None

    @property
    def failed(self) -> bool:
        return any(self.errors.get(k) for k in ERROR_FLAGS)

    def to_run_response(self) -> dict[str, Any]:
        """The body of ``POST /v1/fine_tuning/alpha/graders/run``."""
        errors: dict[str, Any] = {k: bool(self.errors.get(k)) for k in ERROR_FLAGS}
        errors.update({k: self.errors.get(k) for k in ERROR_DETAILS})
        usage = {self.sampled_model_name: self.token_usage} if self.sampled_model_name else {}
        return {
            "reward": self.reward,
            "metadata": {
                "name": self.name,
                "type": self.type,
                "errors": errors,
                "execution_time": self.execution_time,
                "scores": dict(self.sub_rewards),
                "token_usage": self.token_usage,
                "sampled_model_name": self.sampled_model_name,
            },
            "sub_rewards": dict(self.sub_rewards),
            "model_grader_token_usage_per_model": usage,
        }


@dataclass
class Runner:
    """What a run may call on: a model client, an embedder, and whether python may run."""

    model_client: ModelClient | None = None
    embed: Embedder | None = None
    allow_python: bool = False
    python_timeout: float = PYTHON_TIMEOUT


class PythonRefused(PermissionError):
    """A python grader where the user did not allow python (``--allow-python``)."""


def has_python(grader: Mapping[str, Any]) -> bool:
    if grader.get("type") == "python":
        return True
    subs = sub_graders(grader) if grader.get("type") == "multi" else None
    return subs is not None and any(isinstance(s, Mapping) and has_python(s) for s in subs.values())


def metrics_used(grader: Mapping[str, Any], path: str = "grader") -> list[tuple[str, str]]:
    """(the JSON path of its ``evaluation_metric``, the metric) of every text_similarity
    grader in ``grader`` (a multi grader's too)."""
    if grader.get("type") == "text_similarity":
        return [(f"{path}.evaluation_metric", str(grader.get("evaluation_metric")))]
    subs = sub_graders(grader) if grader.get("type") == "multi" else None
    if subs is None:
        return []
    single = isinstance(grader["graders"].get("type"), str)
    found: list[tuple[str, str]] = []
    for key, sub in subs.items():
        if isinstance(sub, Mapping):
            found += metrics_used(sub, f"{path}.graders" if single else f"{path}.graders.{key}")
    return found


def require_libraries(grader: Mapping[str, Any]) -> None:
    """MetricUnavailable naming the grader's field and ``pip install 'fttui[eval]'`` when a
    metric it uses has no library installed (checked before anything is graded)."""
    for where, metric in metrics_used(grader):
        require(metric, f"{where} {metric!r}")


def run(
    grader: Mapping[str, Any],
    item: Mapping[str, Any] | None,
    output_text: str,
    runner: Runner | None = None,
) -> GradeResult:
    """Grade ``output_text`` for ``item``. The grader must validate (GraderError if not);
    a python grader without ``runner.allow_python`` raises PythonRefused. Failures while
    grading (a missing item field, a model judge that errs) are flags on the result."""
    check(grader)
    runner = runner or Runner()
    if has_python(grader) and not runner.allow_python:
        raise PythonRefused(
            "a python grader runs code on this machine: allow it with --allow-python"
        )
    context = {"item": dict(item or {}), "sample": templates.sample_namespace(output_text)}
    started = time.perf_counter()
    result = _run_one(grader, context, runner, str(grader.get("name", grader["type"])))
    result.execution_time = time.perf_counter() - started
    return result


def _run_one(
    g: Mapping[str, Any], context: dict[str, Any], runner: Runner, name: str
) -> GradeResult:
    kind = g["type"]
    res = GradeResult(name=str(g.get("name", name)), type=kind)
    try:
        if kind == "string_check":
            res.reward = _string_check(g, context)
        elif kind == "text_similarity":
            res.reward = _similarity(g, context, runner)
        elif kind == "python":
            res.reward = _python(g, context, runner, res)
        elif kind in ("score_model", "label_model"):
            res.reward = _model_grade(g, context, runner, res)
        elif kind == "multi":
            _multi(g, context, runner, res)
    except templates.TemplateError as exc:
        res.errors["invalid_variable_error"] = True
        res.message = str(exc)
    except MetricUnavailable as exc:
        res.errors["other_error"] = True
        res.message = str(exc)
    if "pass_threshold" in g and not res.failed:
        res.passed = res.reward >= float(g["pass_threshold"])
    return res


def _string_check(g: Mapping[str, Any], context: dict[str, Any]) -> float:
    a = templates.render(g["input"], context)
    b = templates.render(g["reference"], context)
    op = g["operation"]
    if op == "eq":
        return float(a == b)
    if op == "ne":
        return float(a != b)
    if op == "like":
        return float(b in a)
    return float(b.lower() in a.lower())  # ilike


def _similarity(g: Mapping[str, Any], context: dict[str, Any], runner: Runner) -> float:
    a = templates.render(g["input"], context)
    b = templates.render(g["reference"], context)
    metric = g["evaluation_metric"]
    if metric == "cosine":
        if runner.embed is None:
            raise MetricUnavailable("cosine similarity needs a provider with embeddings")
        try:
            vectors = runner.embed([a, b])
        except Exception as exc:  # the provider has no embeddings, or they failed: this item
            raise MetricUnavailable(f"cosine similarity: the embeddings failed: {exc}") from None
        if len(vectors) != 2 or len(vectors[0]) != len(vectors[1]) or not vectors[0]:
            raise MetricUnavailable("cosine similarity: the provider's embeddings do not match")
        return cosine(vectors[0], vectors[1])
    return text_similarity(metric, a, b)


def _multi(g: Mapping[str, Any], context: dict[str, Any], runner: Runner, res: GradeResult) -> None:
    values: dict[str, float] = {}
    tokens = 0
    for key, sub in (sub_graders(g) or {}).items():
        r = _run_one(sub, context, runner, key)
        values[key] = r.reward
        res.sub_rewards[key] = r.reward
        for flag, v in r.errors.items():
            if v:
                res.errors[flag] = v
        if r.token_usage:
            tokens += r.token_usage
            res.sampled_model_name = r.sampled_model_name
        res.message = res.message or r.message
    res.token_usage = tokens or None
    try:
        res.reward = expr.evaluate(g["calculate_output"], values)
    except expr.FormulaError as exc:
        res.errors["formula_parse_error"] = True
        res.message = str(exc)
        res.reward = 0.0


def _render_messages(msgs: Sequence[Mapping[str, Any]], context: dict[str, Any]) -> list[dict]:
    out = []
    for m in msgs:
        content = m["content"]
        if isinstance(content, Mapping):
            content = [content]
        if isinstance(content, list):
            text = "".join(
                templates.render(p if isinstance(p, str) else p["text"], context) for p in content
            )
        else:
            text = templates.render(content, context)
        out.append({"role": "system" if m["role"] == "developer" else m["role"], "content": text})
    return out


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _model_grade(
    g: Mapping[str, Any], context: dict[str, Any], runner: Runner, res: GradeResult
) -> float:
    if runner.model_client is None:
        res.errors["model_grader_server_error"] = True
        res.errors["model_grader_server_error_details"] = "no model client to run a model grader"
        return 0.0
    messages = _render_messages(g["input"], context)
    if g["type"] == "score_model":
        lo, hi = g.get("range") or [0, 1]
        messages.append(
            {
                "role": "system",
                "content": f'Answer with JSON only: {{"result": <a number from {lo} to {hi}>}}',
            }
        )
    else:
        labels = g["labels"]
        messages.append(
            {
                "role": "system",
                "content": f'Answer with JSON only: {{"result": <one of {json.dumps(labels)}>}}',
            }
        )
    params = dict(g.get("sampling_params") or {})
    res.sampled_model_name = g["model"]
    try:
        text, tokens = runner.model_client(g["model"], messages, params)
    except Exception as exc:  # the judge's provider failed: reported, not raised
        res.errors["model_grader_server_error"] = True
        res.errors["model_grader_server_error_details"] = str(exc)[:500]
        return 0.0
    res.token_usage = tokens
    answer = _answer(text)
    if g["type"] == "score_model":
        # A number, or JSON holding one — not any digit in prose (a judge that talks about
        # "gpt-4o" has not scored 4).
        if _is_number(answer):
            value = float(answer)
        elif isinstance(answer, str) and _NUMBER.fullmatch(answer.strip()):
            value = float(answer.strip())
        else:
            res.errors["model_grader_parse_error"] = True
            res.message = f"the judge's answer is not a score: {text[:200]!r}"
            return 0.0
        return min(max(value, float(lo)), float(hi))
    label = str(answer).strip().strip('"').strip()
    match = next((v for v in g["labels"] if v.lower() == label.lower()), None)
    if match is None:
        res.errors["model_grader_parse_error"] = True
        res.message = f"the judge's answer is none of the labels: {text[:200]!r}"
        return 0.0
    res.sub_rewards["label"] = float(match in g["passing_labels"])
    return float(match in g["passing_labels"])


def _answer(text: str) -> Any:
    """A judge's answer: ``{"result": x}`` (or ``score``/``label``), else the text itself."""
    m = re.search(r"\{.*\}", text, re.S)
    if m:
        try:
            obj = json.loads(m.group())
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            for key in ("result", "score", "label", "steps"):
                if key in obj:
                    return obj[key]
    return text


_PY_RUNNER = r"""
import json, sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
except Exception:
    pass
data = json.loads(sys.stdin.read())
ns = {"__name__": "grader"}
exec(compile(data["source"], "<grader>", "exec"), ns)
value = float(ns["grade"](data["sample"], data["item"]))
sys.stdout.write("\n@@FTTUI_RESULT@@" + json.dumps(value) + "\n")
"""


def _python(
    g: Mapping[str, Any], context: dict[str, Any], runner: Runner, res: GradeResult
) -> float:
    """The user's grade(sample, item) in a fresh, isolated interpreter with a time limit
    and 1 GB of memory, so a bad grader can neither hang nor take down the caller."""
    import subprocess
    import sys

    payload = json.dumps({"source": g["source"], **context}, default=str)
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _PY_RUNNER],
            input=payload,
            capture_output=True,
            text=True,
            timeout=runner.python_timeout,
        )
    except subprocess.TimeoutExpired:
        res.errors["unresponsive_reward_error"] = True
        res.message = f"the python grader ran over {runner.python_timeout:g} s"
        return 0.0
    marker = proc.stdout.rfind("@@FTTUI_RESULT@@")
    if proc.returncode != 0 or marker < 0:
        res.errors["python_grader_runtime_error"] = True
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        res.errors["python_grader_runtime_error_details"] = tail[0][:500]
        res.message = tail[0][:500]
        return 0.0
    return float(json.loads(proc.stdout[marker + len("@@FTTUI_RESULT@@") :]))
