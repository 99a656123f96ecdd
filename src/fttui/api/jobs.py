"""Fine-tuning jobs: list, get, cancel/pause/resume, checkpoints, and create (lint →
upload → wait for processing → create)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from fttui.api.errors import ApiError, backoff_delay, friendly, sleep_interruptibly
from fttui.api.files import upload_file, wait_processed
from fttui.api.paging import iter_pages, read_call

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE_STATUSES = frozenset({"validating_files", "queued", "running", "paused"})

PhaseProgress = Callable[[str, int, int], None]


def is_terminal(status: str | None) -> bool:
    return status in TERMINAL_STATUSES


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ApiError:
        raise
    except Exception as exc:
        raise friendly(exc) from None


def iter_jobs(
    client: Any,
    *,
    status: str | Iterable[str] | None = None,
    limit: int | None = None,
    page_size: int = 100,
) -> Iterator[Any]:
    """Jobs newest first in one paginated pass; ``status`` filters, ``limit`` caps."""
    wanted: set[str] | None
    if status is None:
        wanted = None
    elif isinstance(status, str):
        wanted = {s.strip() for s in status.split(",") if s.strip()}
    else:
        wanted = set(status)
    if limit is not None and limit <= 0:
        return
    size = page_size
    if limit is not None and wanted is None:
        size = max(1, min(page_size, limit))
    n = 0

    def fetch(after: str | None) -> Any:
        kwargs: dict[str, Any] = {"limit": size}
        if after:
            kwargs["after"] = after
        return client.fine_tuning.jobs.list(**kwargs)

    for job in iter_pages(fetch):
        if wanted is not None and job.status not in wanted:
            continue
        yield job
        n += 1
        if limit is not None and n >= limit:
            return


def list_jobs(client: Any, **kwargs: Any) -> list[Any]:
    return list(iter_jobs(client, **kwargs))


def get_job(client: Any, job_id: str) -> Any:
    return read_call(lambda: client.fine_tuning.jobs.retrieve(job_id))


NO_RAW_LOGS = "this provider has no raw logs; use `fttui jobs events {job_id}`"


def job_logs(
    client: Any, job_id: str, *, tail: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    """The trainer's raw log through ``GET /fine_tuning/jobs/{id}/logs`` (``fttui serve``'s
    extension: ``text``, ``offset`` to ask from next, the job's ``status``). A provider
    without it (OpenAI's answers 404) is a ``NotFoundError`` saying to use the events."""
    params: dict[str, int] = {}
    if tail is not None:
        params["tail"] = tail
    if offset is not None:
        params["offset"] = offset

    def fetch() -> Any:
        return client.get(
            f"/fine_tuning/jobs/{job_id}/logs", cast_to=object, options={"params": params}
        )

    try:
        raw = read_call(fetch)
    except ApiError as err:
        if err.kind != "not_found" or err.code in ("fine_tuning_job_not_found",):
            raise
        if err.code == "logs_not_available":  # ours: the executor keeps none
            raise
        raise ApiError(
            "not_found", NO_RAW_LOGS.format(job_id=job_id), status=404, code="no_raw_logs"
        ) from None
    if not (isinstance(raw, dict) and isinstance(raw.get("text"), str)):
        raise ApiError("not_found", NO_RAW_LOGS.format(job_id=job_id), code="no_raw_logs")
    return raw


#: Attempts for a write (each with the client's own retries turned off).
WRITE_ATTEMPTS = 4


def _write(
    client: Any,
    do: Callable[[Any], Any],
    *,
    done_already: Callable[[], Any | None],
    attempts: int = WRITE_ATTEMPTS,
    should_stop: Callable[[], bool] | None = None,
) -> Any:
    """Run a non-idempotent write, retrying transient failures safely.

    A 429 (or a 5xx) means the request was not carried out, so it is simply retried. After
    an ambiguous failure (the connection dropped, a timeout) ``done_already()`` looks for
    the effect first and returns it instead of writing twice. A refusal on a retry
    (e.g. "already cancelled") also asks ``done_already()`` before it is reported.
    """
    try:
        quiet = client.with_options(max_retries=0)
    except Exception:
        quiet = client
    ambiguous = False
    for attempt in range(attempts):
        try:
            return do(quiet)
        except Exception as exc:
            err = friendly(exc)
            if attempt and ambiguous and err.kind in ("bad_request", "conflict"):
                found = done_already()
                if found is not None:
                    return found
            if not err.transient or attempt + 1 >= attempts:
                raise err from None
            if err.kind in ("network", "timeout"):
                ambiguous = True
                try:
                    found = done_already()
                except ApiError:
                    found = None
                if found is not None:
                    return found
            if sleep_interruptibly(backoff_delay(attempt, err), should_stop):
                raise ApiError("cancelled", "stopped while waiting to retry") from None
    raise ApiError("provider", "no attempt was made")  # pragma: no cover


def _job_action(client: Any, job_id: str, action: str, reached: set[str]) -> Any:
    def done_already() -> Any | None:
        job = get_job(client, job_id)
        return job if job.status in reached else None

    return _write(
        client, lambda c: getattr(c.fine_tuning.jobs, action)(job_id), done_already=done_already
    )


def cancel_job(client: Any, job_id: str) -> Any:
    return _job_action(client, job_id, "cancel", {"cancelled"})


def pause_job(client: Any, job_id: str) -> Any:
    return _job_action(client, job_id, "pause", {"paused"})


def resume_job(client: Any, job_id: str) -> Any:
    return _job_action(client, job_id, "resume", {"running", "queued", "validating_files"})


def iter_checkpoints(client: Any, job_id: str, *, page_size: int = 100) -> Iterator[Any]:
    def fetch(after: str | None) -> Any:
        kwargs: dict[str, Any] = {"limit": page_size}
        if after:
            kwargs["after"] = after
        return client.fine_tuning.jobs.checkpoints.list(job_id, **kwargs)

    yield from iter_pages(fetch)


def _dump(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", exclude_none=True)
    return obj


def hyperparameters_of(job: Any) -> dict[str, Any]:
    """Hyperparameters wherever the provider put them (job or method.supervised/dpo)."""
    out: dict[str, Any] = {}
    hp = _dump(getattr(job, "hyperparameters", None)) or {}
    out.update({k: v for k, v in hp.items() if v is not None})
    method = getattr(job, "method", None)
    if method is not None:
        mtype = getattr(method, "type", None)
        sub = getattr(method, mtype, None) if mtype else None
        sub_hp = _dump(getattr(sub, "hyperparameters", None)) if sub is not None else None
        if sub_hp:
            out.update({k: v for k, v in sub_hp.items() if v is not None})
    return out


def job_summary(job: Any) -> dict[str, Any]:
    """A JSON-ready view of a job."""
    error = getattr(job, "error", None)
    err = None
    if error is not None and getattr(error, "code", None):
        err = {
            "code": error.code,
            "message": getattr(error, "message", None),
            "param": getattr(error, "param", None),
        }
    method = getattr(job, "method", None)
    return {
        "id": job.id,
        "status": job.status,
        "model": job.model,
        "fine_tuned_model": getattr(job, "fine_tuned_model", None),
        "training_file": getattr(job, "training_file", None),
        "validation_file": getattr(job, "validation_file", None),
        "hyperparameters": hyperparameters_of(job),
        "method": getattr(method, "type", None) if method is not None else None,
        "trained_tokens": getattr(job, "trained_tokens", None),
        "error": err,
        "result_files": list(getattr(job, "result_files", None) or []),
        "created_at": getattr(job, "created_at", None),
        "finished_at": getattr(job, "finished_at", None),
        "estimated_finish": getattr(job, "estimated_finish", None),
        "suffix": getattr(job, "user_provided_suffix", None),
        "seed": getattr(job, "seed", None),
        "metadata": dict(getattr(job, "metadata", None) or {}),
        "organization_id": getattr(job, "organization_id", None),
    }


def lint_training_file(
    path: str | Path,
    *,
    model: str,
    validation: str | Path | None = None,
    method: str | None = None,
    grader: Any = None,
) -> Any:
    """Lint a local file with ``fttui.datasets.lint_path`` (None if the linter is absent).

    With ``method`` the data must suit it (a dpo job on chat data is an error before any
    upload); ``reinforcement`` checks RFT data and the ``grader``'s fields.
    """
    try:
        from fttui.datasets import lint_path
    except ImportError:
        return None
    from fttui.api.models import base_of

    return lint_path(
        str(path),
        model=base_of(model),
        validation=str(validation) if validation else None,
        method=method,
        grader=grader,
    )


def _same_request(job: Any, kwargs: dict[str, Any]) -> bool:
    if job.model != kwargs["model"] or job.training_file != kwargs["training_file"]:
        return False
    if kwargs.get("validation_file") and job.validation_file != kwargs["validation_file"]:
        return False
    if kwargs.get("suffix") and getattr(job, "user_provided_suffix", None) != kwargs["suffix"]:
        return False
    if kwargs.get("seed") is not None and getattr(job, "seed", None) != kwargs["seed"]:
        return False
    meta = kwargs.get("metadata")
    return not meta or dict(getattr(job, "metadata", None) or {}) == meta


def _looks_like_path(value: str) -> bool:
    if value.startswith("file-") and not Path(value).exists():
        return False
    p = Path(value).expanduser()
    return (
        p.exists()
        or "/" in value
        or p.suffix.lower() in (".jsonl", ".json", ".csv", ".tsv", ".xlsx")
    )


def local_file_problem(value: str, *, role: str = "training") -> str | None:
    """Why ``value``, read as a local path, cannot be a ``role`` file (None: it can, or it
    is a file id). Callers check this before any request, so a typo costs no round trip."""
    if not _looks_like_path(value):
        return None
    path = Path(value).expanduser()
    if not path.exists():
        return f"{role} file not found: {value}"
    if path.is_dir():
        return f"{role} file {value} is a folder, not a file"
    return None


def _lint_summary(report: Any, path: str) -> str:
    errors = list(getattr(report, "errors", None) or [])
    first = errors[0] if errors else None
    where = ""
    if first is not None:
        line = getattr(first, "line", None)
        msg = getattr(first, "message", None)
        at = f" at line {line}" if line and f"line {line}" not in (msg or "") else ""
        where = f"; first: {getattr(first, 'code', '?')}{at}"
        if msg:
            where += f": {msg}"
    return (
        f"{path}: {len(errors)} lint error(s){where} — see them all with "
        f"`fttui lint {path}`, fix them, or use --force"
    )


def _check_file(
    value: str,
    *,
    model: str,
    role: str,
    force: bool,
    progress: PhaseProgress | None,
    method: str | None = None,
    grader: Any = None,
) -> Path | None:
    """Lint a local ``value`` (refusing errors unless ``force``); None for a file id."""
    if not _looks_like_path(value):
        return None
    path = Path(value).expanduser()  # create_job checked local_file_problem already
    if path.suffix.lower() != ".jsonl" and not force:
        raise ApiError(
            "bad_request",
            f"{value} is not JSONL, which fine-tuning APIs expect: convert it with "
            f"`fttui prepare {value} -o {path.with_suffix('.jsonl').name}` (or use --force)",
        )
    if progress is not None:
        progress("lint", 0, 1)
    try:
        report = lint_training_file(path, model=model, method=method, grader=grader)
    except OSError as exc:
        raise ApiError("bad_request", f"cannot read {value}: {exc}") from None
    if progress is not None:
        progress("lint", 1, 1)
    if report is not None and getattr(report, "has_errors", False) and not force:
        raise ApiError("lint", _lint_summary(report, value), report=report)
    return path


#: metadata keys fttui records on a job trained on prompt/completion data: the separator
#: its prompts end with and the stop its completions end with, so the playground (and
#: anyone reading the job) can query its model the way it was trained
SEPARATOR_KEY = "fttui_separator"
STOP_KEY = "fttui_stop"
#: the longest metadata value OpenAI accepts
METADATA_VALUE_MAX = 512


def with_data_markers(metadata: dict[str, str] | None, path: Path) -> dict[str, str] | None:
    """``metadata`` plus the separator / stop the training file at ``path`` uses (found as
    ``prepare`` finds them), where the caller set neither and there is room (16 keys)."""
    from fttui.datasets.markers import markers_from_file

    found = markers_from_file(str(path))
    out = dict(metadata or {})
    for key, value in ((SEPARATOR_KEY, found.separator), (STOP_KEY, found.stop)):
        if value and key not in out and len(out) < 16 and len(value) <= METADATA_VALUE_MAX:
            out[key] = value
    return out or None


def recorded_markers(metadata: Any) -> tuple[str | None, str | None] | None:
    """(separator, stop) fttui recorded in a job's metadata, or None when it recorded
    neither (a job created elsewhere, or on chat data)."""
    if not isinstance(metadata, dict):
        return None
    sep, stop = metadata.get(SEPARATOR_KEY), metadata.get(STOP_KEY)
    if not isinstance(sep, str) and not isinstance(stop, str):
        return None
    return (sep if isinstance(sep, str) else None, stop if isinstance(stop, str) else None)


def training_file_markers(client: Any, file_id: str) -> tuple[str | None, str | None]:
    """(separator, stop) of an uploaded training file, found in its head as ``prepare``
    finds them (None, None for chat data)."""
    from fttui.api.files import read_file_head
    from fttui.datasets.markers import HEAD_BYTES, markers_from_jsonl

    data, complete = read_file_head(client, file_id, HEAD_BYTES)
    found = markers_from_jsonl(data, complete=complete)
    return found.separator, found.stop


def _upload_checked(
    client: Any,
    path: Path,
    *,
    progress: PhaseProgress | None,
    should_stop: Callable[[], bool] | None,
    processing_timeout: float,
) -> str:
    def up(done: int, total: int) -> None:
        if progress is not None:
            progress("upload", done, total)

    f = upload_file(client, path, progress=up, should_stop=should_stop)
    if progress is not None:
        progress("processing", 0, 1)
    wait_processed(client, f.id, timeout=processing_timeout, should_stop=should_stop)
    if progress is not None:
        progress("processing", 1, 1)
    file_id: str = f.id
    return file_id


REASONING_EFFORTS = ("default", "low", "medium", "high")


def _check_rft_hyperparameters(hp: dict[str, Any]) -> None:
    """The RFT hyperparameters' ranges (the official spec's), before anything is uploaded."""
    effort = hp.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise ApiError(
            "bad_request", f"reasoning effort must be one of {', '.join(REASONING_EFFORTS)}"
        )
    cm = hp.get("compute_multiplier")
    if cm is not None and not (isinstance(cm, int | float) and 0 < cm <= 10):
        raise ApiError("bad_request", "compute multiplier must be above 0 and at most 10")
    for key in ("eval_interval", "eval_samples"):
        value = hp.get(key)
        if value is not None and not (isinstance(value, int) and value >= 1):
            raise ApiError(
                "bad_request", f"{key.replace('_', ' ')} must be an integer of 1 or more"
            )


def create_job(
    client: Any,
    *,
    model: str,
    training_file: str,
    validation_file: str | None = None,
    n_epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate_multiplier: float | None = None,
    method: str | None = None,
    beta: float | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    metadata: dict[str, str] | None = None,
    wandb_project: str | None = None,
    grader: dict[str, Any] | None = None,
    rft_hyperparameters: dict[str, Any] | None = None,
    extra_body: dict[str, Any] | None = None,
    force: bool = False,
    progress: PhaseProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    processing_timeout: float = 600.0,
    uploads: dict[tuple[str, int, int], str] | None = None,
) -> Any:
    """Create a job; local paths are linted, uploaded and waited on first.

    ``method="reinforcement"`` needs a ``grader`` (OpenAI's JSON shape) and takes the RFT
    hyperparameters (``reasoning_effort``, ``compute_multiplier``, ``eval_interval``,
    ``eval_samples``) in ``rft_hyperparameters``. ``extra_body`` is merged into the request
    as it is, for what a provider defines itself (a Bedrock Lambda grader, say).

    ``uploads`` remembers what was uploaded ((path, size, mtime_ns) → file id): a caller
    that retries after a refused create passes the same dict, and an unchanged file is not
    uploaded again (each retry would leave one more orphan in the file list).
    """
    if method == "reinforcement" and not grader:
        raise ApiError("bad_request", "reinforcement fine-tuning needs a grader (--grader FILE)")
    if grader is not None and method not in (None, "reinforcement"):
        raise ApiError("bad_request", f"a grader is for reinforcement fine-tuning, not {method}")
    if grader is not None:
        method = "reinforcement"
    rft_hp = {k: v for k, v in (rft_hyperparameters or {}).items() if v is not None}
    if rft_hp and method != "reinforcement":
        raise ApiError(
            "bad_request",
            "reasoning effort, compute multiplier and eval settings "
            "are reinforcement fine-tuning hyperparameters (--method reinforcement)",
        )
    _check_rft_hyperparameters(rft_hp)
    if metadata is not None and len(metadata) > 16:
        raise ApiError("bad_request", "metadata takes at most 16 key/value pairs")
    if suffix is not None and not (1 <= len(suffix) <= 64):
        raise ApiError("bad_request", "suffix must be 1-64 characters")
    if seed is not None and not (0 <= seed <= 2_147_483_647):
        raise ApiError("bad_request", "seed must be between 0 and 2147483647")
    if n_epochs is not None and not (1 <= n_epochs <= 50):
        raise ApiError("bad_request", "epochs must be between 1 and 50")
    if batch_size is not None and not (1 <= batch_size <= 256):
        raise ApiError("bad_request", "batch size must be between 1 and 256")
    if learning_rate_multiplier is not None and learning_rate_multiplier <= 0:
        raise ApiError("bad_request", "learning rate multiplier must be > 0")
    for value, role in ((training_file, "training"), (validation_file, "validation")):
        problem = local_file_problem(value, role=role) if value else None
        if problem:  # a typo costs no round trip
            raise ApiError("bad_request", problem)
    checked = method or ("dpo" if beta is not None else None)  # a beta alone means DPO
    if checked not in (None, "supervised") and not force:
        # a model the provider cannot fine-tune this way: said before anything is uploaded
        # (and before the lint, whose findings would be about the wrong model); --force
        # leaves it to the provider (OpenAI's table here may be older than OpenAI)
        from fttui.api.models import method_refusal

        why = method_refusal(client, model, checked)
        if why:
            raise ApiError("bad_request", why, code="unsupported_method", param="model")
    # Both files are linted before either is uploaded: a validation file with errors must
    # not leave an orphan training upload behind.
    check = functools.partial(
        _check_file, model=model, force=force, progress=progress, method=method, grader=grader
    )
    train_path = check(training_file, role="training")
    valid_path = check(validation_file, role="validation") if validation_file else None
    upload_new = functools.partial(
        _upload_checked,
        client,
        progress=progress,
        should_stop=should_stop,
        processing_timeout=processing_timeout,
    )

    def upload(path: Path) -> str:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if uploads is not None and key in uploads:
            return uploads[key]
        file_id = upload_new(path)
        if uploads is not None:
            uploads[key] = file_id
        return file_id

    train_id = upload(train_path) if train_path is not None else training_file
    valid_id = (
        (upload(valid_path) if valid_path is not None else validation_file)
        if validation_file
        else None
    )
    hp: dict[str, Any] = {}
    if n_epochs is not None:
        hp["n_epochs"] = n_epochs
    if batch_size is not None:
        hp["batch_size"] = batch_size
    if learning_rate_multiplier is not None:
        hp["learning_rate_multiplier"] = learning_rate_multiplier
    kwargs: dict[str, Any] = {"model": model, "training_file": train_id}
    if valid_id:
        kwargs["validation_file"] = valid_id
    if method == "reinforcement":
        mhp = {**hp, **rft_hp}
        conf: dict[str, Any] = {"grader": grader}
        if mhp:
            conf["hyperparameters"] = mhp
        kwargs["method"] = {"type": "reinforcement", "reinforcement": conf}
    elif (method and method != "supervised") or beta is not None:
        mtype = checked or "dpo"
        mhp = dict(hp)
        if beta is not None:
            mhp["beta"] = beta
        kwargs["method"] = {"type": mtype, mtype: {"hyperparameters": mhp} if mhp else {}}
    elif method == "supervised":
        kwargs["method"] = {
            "type": "supervised",
            "supervised": {"hyperparameters": hp} if hp else {},
        }
    elif hp:
        kwargs["hyperparameters"] = hp
    if suffix:
        kwargs["suffix"] = suffix
    if seed is not None:
        kwargs["seed"] = seed
    if train_path is not None and method in (None, "supervised"):
        metadata = with_data_markers(metadata, train_path)
    if metadata:
        kwargs["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    if wandb_project:
        kwargs["integrations"] = [{"type": "wandb", "wandb": {"project": wandb_project}}]
    if progress is not None:
        progress("create", 0, 1)
    since = int(time.time()) - 2

    def done_already() -> Any | None:
        # After a dropped connection: did the provider create it anyway?
        for job in iter_jobs(client, limit=20):
            if (job.created_at or 0) >= since and _same_request(job, kwargs):
                return job
        return None

    extra = {"extra_body": dict(extra_body)} if extra_body else {}
    job = _write(
        client,
        lambda c: c.fine_tuning.jobs.create(**kwargs, **extra),
        done_already=done_already,
        should_stop=should_stop,
    )
    if progress is not None:
        progress("create", 1, 1)
    return job
