"""Compare and iterate: what differs between jobs, their final and best metrics, waiting for
several jobs, and hyperparameter sweeps (a grid of jobs sharing ``metadata.sweep``).

Shared by ``fttui jobs wait|compare|create --from`` and the app, so both say the same thing.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fttui.api.errors import ApiError, backoff_delay
from fttui.api.jobs import get_job, hyperparameters_of, is_terminal, job_summary

#: metadata key the jobs of one sweep share (its value: ``sweep-<8 hex>``)
SWEEP_KEY = "sweep"

#: the fields a comparison looks at, in the order it lists them; hyperparameters and
#: metadata are flattened to ``hyperparameters.n_epochs``, ``metadata.sweep`` ...
_FIELDS = ("model", "training_file", "validation_file", "method", "seed", "suffix")


def job_fields(job: Any) -> dict[str, Any]:
    """A job's configuration as flat ``field: value`` pairs (a summary dict or an SDK job)."""
    s = job if isinstance(job, dict) else job_summary(job)
    out: dict[str, Any] = {f: s.get(f) for f in _FIELDS}
    # supervised is what a job without a method trains: the same thing, not a difference
    out["method"] = out["method"] or "supervised"
    for k, v in sorted((s.get("hyperparameters") or {}).items()):
        out[f"hyperparameters.{k}"] = v
    for k, v in sorted((s.get("metadata") or {}).items()):
        out[f"metadata.{k}"] = v
    return out


def differing_fields(jobs: Sequence[Any]) -> dict[str, list[Any]]:
    """Only the fields whose values are not all equal: ``field → [value per job]`` (None
    where a job lacks the field), in ``job_fields`` order."""
    flat = [job_fields(j) for j in jobs]
    names: list[str] = []
    for f in flat:
        names.extend(n for n in f if n not in names)
    ordered = [n for n in names if "." not in n] + [n for n in names if "." in n]
    out: dict[str, list[Any]] = {}
    for name in ordered:
        values = [f.get(name) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out[name] = values
    return out


def metric_figures(ms: Any) -> dict[str, dict[str, Any]]:
    """Each series' final value and best value (the lowest loss, the highest accuracy) with
    the step it was reached at."""
    out: dict[str, dict[str, Any]] = {}
    for name in ms.names():
        points = ms.series[name]
        pick = min if "loss" in name else max
        best_step, best = pick(points, key=lambda p: p[1])
        out[name] = {
            "final": points[-1][1],
            "final_step": points[-1][0],
            "best": best,
            "best_step": best_step,
        }
    return out


def compare_jobs(client: Any, job_ids: Sequence[str]) -> dict[str, Any]:
    """The comparison ``fttui jobs compare --json`` prints: each job (id, status, fine-tuned
    model, metrics), and only the fields that differ, each as ``{job id: value}``."""
    from fttui.api.metrics import fetch_job_metrics

    jobs = [get_job(client, jid) for jid in job_ids]
    return comparison(
        [job_summary(j) for j in jobs], [fetch_job_metrics(client, job) for job in jobs]
    )


def comparison(summaries: Sequence[Mapping[str, Any]], series: Sequence[Any]) -> dict[str, Any]:
    """``compare_jobs``' result from jobs already read: their summaries (or the app's job
    rows: the same keys) and their ``MetricSeries``, in the same order."""
    differ = differing_fields(summaries)
    return {
        "jobs": [
            {
                "id": s["id"],
                "status": s.get("status"),
                "fine_tuned_model": s.get("fine_tuned_model"),
                "trained_tokens": s.get("trained_tokens"),
                "metrics": metric_figures(ms),
            }
            for s, ms in zip(summaries, series, strict=True)
        ],
        "differ": {
            name: {s["id"]: v for s, v in zip(summaries, values, strict=True)}
            for name, values in differ.items()
        },
    }


def comparison_cells(result: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """A comparison as the rows of a table, one cell per job: the status, each differing
    field, then each series' final and best value (``0.4123 @48``: the value and its step).
    What ``fttui jobs compare`` prints and the app's diff table shows; the labels are
    unique (the app keys its rows on them)."""
    jobs = result["jobs"]
    ids = [j["id"] for j in jobs]
    rows: list[tuple[str, list[str]]] = [("status", [_cell(j["status"]) for j in jobs])]
    for name, by_id in result["differ"].items():
        rows.append((name, [_cell(by_id.get(i)) for i in ids]))
    names: list[str] = []
    for j in jobs:
        names.extend(n for n in j["metrics"] if n not in names)
    for name in names:
        figs = [j["metrics"].get(name) for j in jobs]
        rows.append((f"{name} final", [_figure(f, "final") for f in figs]))
        rows.append((f"{name} best", [_figure(f, "best") for f in figs]))
    return rows


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _figure(fig: Mapping[str, Any] | None, key: str) -> str:
    if fig is None:
        return "-"
    return f"{fig[key]:.4g} @{fig[f'{key}_step']}"


def wait_jobs(
    client: Any,
    job_ids: Sequence[str],
    *,
    timeout: float | None = None,
    interval: float = 1.0,
    on_end: Callable[[Any], None] | None = None,
    on_retry: Callable[[ApiError, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until every job has ended or ``timeout`` seconds passed: ``{id: job}`` as last
    seen. ``on_end(job)`` is called once per job, when it is first seen ended. Transient
    errors are ridden out with backoff; any other (a job that does not exist) is raised."""
    last: dict[str, Any] = {}
    pending = list(dict.fromkeys(job_ids))
    deadline = None if timeout is None else clock() + timeout
    failures = 0
    while True:
        still: list[str] = []
        for jid in pending:
            try:
                job = get_job(client, jid)
            except ApiError as err:
                if not err.transient:
                    raise
                delay = backoff_delay(failures, err)
                failures += 1
                if on_retry is not None:
                    on_retry(err, delay)
                time.sleep(delay)
                still.append(jid)
                continue
            failures = 0
            last[jid] = job
            if is_terminal(job.status):
                if on_end is not None:
                    on_end(job)
            else:
                still.append(jid)
        pending = still
        if not pending or (deadline is not None and clock() >= deadline):
            return last
        pause = interval if deadline is None else max(0.0, min(interval, deadline - clock()))
        time.sleep(pause)


# ----------------------------------------------------------------------------- sweeps


def parse_values(text: str, cast: Callable[[str], Any], *, name: str) -> list[Any]:
    """``"2,3,4"`` → ``[2, 3, 4]``; one value → a list of one. Repeats are dropped (a grid
    with the same point twice would train the same job twice)."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p for p in parts):
        raise ValueError(f"{name} takes a value or a comma-separated list, got {text!r}")
    try:
        values = [cast(p) for p in parts]
    except ValueError:
        what = "whole number" if cast is int else "number"
        raise ValueError(f"{name}: {text!r} is not a {what} or a list of them") from None
    return list(dict.fromkeys(values))


def grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    names = list(axes)
    return [dict(zip(names, point, strict=True)) for point in itertools.product(*axes.values())]


def new_sweep_id() -> str:
    return f"sweep-{secrets.token_hex(4)}"


def clone_settings(job: Any) -> dict[str, Any]:
    """``create_job`` keyword arguments that re-create ``job``: its model, its files by id
    (nothing is uploaded again), method, hyperparameters, suffix, seed and metadata. The
    sweep id is left out: a clone is a run of its own unless it is part of a new sweep."""
    s = job_summary(job)
    hp = hyperparameters_of(job)

    def num(key: str, cast: Callable[[Any], Any]) -> Any:
        value = hp.get(key)
        # "auto" (or a value the provider left unresolved) is the default: leave it unset
        if value is None or isinstance(value, str):
            return None
        return cast(value)

    metadata = {k: v for k, v in s["metadata"].items() if k != SWEEP_KEY}
    rft: dict[str, Any] = {}
    if s["method"] == "reinforcement":
        # an RFT job is re-created with its grader and its RFT hyperparameters
        conf = getattr(getattr(job, "method", None), "reinforcement", None)
        grader = getattr(conf, "grader", None)
        if grader is not None and hasattr(grader, "model_dump"):
            grader = grader.model_dump(mode="json", exclude_none=True)
        rft["grader"] = grader
        rft["rft_hyperparameters"] = {
            k: hp[k]
            for k in ("reasoning_effort", "compute_multiplier", "eval_interval", "eval_samples")
            if hp.get(k) is not None and hp.get(k) != "auto"
        }
    return {
        **rft,
        "model": s["model"],
        "training_file": s["training_file"],
        "validation_file": s["validation_file"],
        "n_epochs": num("n_epochs", int),
        "batch_size": num("batch_size", int),
        "learning_rate_multiplier": num("learning_rate_multiplier", float),
        "method": s["method"],
        "beta": num("beta", float) if s["method"] == "dpo" else None,
        "suffix": s["suffix"],
        "seed": s["seed"],
        "metadata": metadata or None,
    }


def epoch_tokens(
    client: Any, model: str, training_file: str, *, source: Any | None = None, force: bool = False
) -> tuple[int, int] | None:
    """(billed tokens of one epoch, the default epochs) of a training file, or None when it
    cannot be counted (the provider does not let its file be read). The ``source`` job's
    ``trained_tokens`` is the provider's own count of the same file; else the file is linted
    as ``create_job`` lints it (downloaded first when it is a file id), and lint errors
    refuse unless ``force``, as creating would."""
    import tempfile
    from pathlib import Path

    from fttui.api.files import read_file_content
    from fttui.api.jobs import _lint_summary, _looks_like_path, lint_training_file

    if source is not None and source.trained_tokens and source.training_file == training_file:
        epochs = hyperparameters_of(source).get("n_epochs")
        if isinstance(epochs, int) and epochs > 0:
            return source.trained_tokens // epochs, epochs
    if _looks_like_path(training_file):
        report = lint_training_file(Path(training_file).expanduser(), model=model)
    else:
        try:
            data = read_file_content(client, training_file)
        except ApiError:
            return None
        with tempfile.TemporaryDirectory(prefix="fttui-sweep-") as tmp:
            path = Path(tmp) / "training.jsonl"
            path.write_bytes(data)
            report = lint_training_file(path, model=model)
    if report is None:
        return None
    if getattr(report, "has_errors", False) and not force:
        raise ApiError("lint", _lint_summary(report, training_file), report=report)
    return tokens_per_epoch(report)


def tokens_per_epoch(report: Any) -> tuple[int, int]:
    """(billed tokens of one epoch, the default epochs) from a lint report's estimate."""
    est = getattr(report, "estimate", None) or {}
    n_epochs = int(est.get("n_epochs") or 1)
    return int(est.get("billed_tokens") or 0) // max(1, n_epochs), n_epochs


def sweep_billed_tokens(
    points: Iterable[dict[str, Any]], per_epoch: int, default_epochs: int
) -> list[int]:
    """Billed tokens of each point: one epoch's tokens times its epochs (the default where
    the point does not set them)."""
    return [per_epoch * int(p.get("n_epochs") or default_epochs) for p in points]


# ----------------------------------------------------------------------------- sweep plan
# What a grid costs and creating its jobs: one code path for ``jobs create --epochs 2,3``
# and the app's create form, so the two show the same count and tokens and create alike.


@dataclass(frozen=True)
class SweepPlan:
    """A grid's jobs and what they cost: ``tokens`` is the billed tokens of all of them
    (None when the training file cannot be counted), ``price`` the configured dollars per
    1M training tokens of the base model (None when ``[prices]`` does not cover it)."""

    points: list[dict[str, Any]]
    tokens: int | None
    price: float | None

    @property
    def cost(self) -> float | None:
        if self.tokens is None or self.price is None:
            return None
        return self.tokens / 1e6 * self.price

    def summary(self) -> str:
        """``4 jobs · 123,456 billed tokens · $0.37`` (what the create form shows)."""
        parts = [f"{len(self.points):,} job{'s' if len(self.points) != 1 else ''}"]
        parts.append(
            "billed tokens unknown" if self.tokens is None else f"{self.tokens:,} billed tokens"
        )
        cost = self.cost
        if cost is not None:
            parts.append(f"${cost:,.2f}")
        return " · ".join(parts)


def plan_sweep(
    points: list[dict[str, Any]],
    per_epoch: tuple[int, int] | None,
    model: str,
    *,
    price: float | bool | None = True,
) -> SweepPlan:
    """The plan of ``points`` from one epoch's tokens (``epoch_tokens``); ``price=True``
    reads the configured price of ``model``'s base model, a number or None is taken as is."""
    tokens = sum(sweep_billed_tokens(points, *per_epoch)) if per_epoch is not None else None
    if price is True:
        from fttui.api.models import base_of
        from fttui.config import price_for

        price = price_for(base_of(model))
    return SweepPlan(points, tokens, None if price is False else price)


class SweepError(ApiError):
    """Creating the jobs of a sweep stopped at an error: ``created`` the jobs made before it
    (they stay: each is a job of its own, and the user decides what to do with them)."""

    def __init__(self, err: ApiError, sweep: str, total: int, created: list[Any]) -> None:
        done = ", ".join(j.id for j in created) or "none"
        super().__init__(
            err.kind,
            f"{err} — {len(created)} of {total} jobs of {sweep} created: {done}",
            status=err.status,
            param=err.param,
        )
        self.created = created


def create_sweep_jobs(
    create: Callable[..., Any],
    settings: dict[str, Any],
    points: Sequence[dict[str, Any]],
    *,
    sweep: str,
    on_created: Callable[[Any, dict[str, Any]], None] | None = None,
) -> list[Any]:
    """Create one job per point (``create(**settings, **point)``), all with
    ``metadata.sweep = sweep``. The first job uploads any local file; the rest use its file
    ids, uploading nothing. Raises ``SweepError`` (with the jobs made) at the first error."""
    meta = {**(settings.get("metadata") or {}), SWEEP_KEY: sweep}
    created: list[Any] = []
    for point in points:
        try:
            job = create(**{**settings, **point, "metadata": meta})
        except ApiError as err:
            raise SweepError(err, sweep, len(points), created) from None
        settings = {**settings, "training_file": job.training_file}
        if settings.get("validation_file"):
            settings["validation_file"] = job.validation_file
        created.append(job)
        if on_created is not None:
            on_created(job, point)
    return created


# ----------------------------------------------------------------------------- continue


def continue_candidates(
    client: Any, *, job_ids: Sequence[str] = (), jobs: int = 10, scan: int = 100
) -> list[str]:
    """Models a job can continue from (OpenAI takes a fine-tuned model as the base, and
    ``fttui serve`` a checkpoint too): the fine-tuned model and checkpoints
    (``ft:…:ckpt-step-N``) of ``job_ids`` first, then of the newest ``jobs`` succeeded jobs
    among the latest ``scan``, then the provider's other fine-tuned models. Reads only;
    a job whose checkpoints cannot be listed is left out (suggestions, not a refusal)."""
    from fttui.api.jobs import iter_checkpoints, iter_jobs
    from fttui.api.models import is_fine_tuned, iter_models

    out: dict[str, None] = {}
    sources: list[Any] = []
    for jid in job_ids:
        try:
            sources.append(get_job(client, jid))
        except ApiError:
            continue
    recent = [j for j in itertools.islice(iter_jobs(client), scan) if j.status == "succeeded"]
    for job in [*sources, *recent[:jobs]]:
        if job.fine_tuned_model:
            out[job.fine_tuned_model] = None
        try:
            ckpts = list(itertools.islice(iter_checkpoints(client, job.id), 50))
        except ApiError:
            continue
        # the latest step first: the one most likely wanted
        for ck in sorted(ckpts, key=lambda c: -int(getattr(c, "step_number", 0) or 0)):
            name = getattr(ck, "fine_tuned_model_checkpoint", None)
            if name:
                out[name] = None
    try:
        out.update((m.id, None) for m in iter_models(client) if is_fine_tuned(m.id))
    except ApiError:
        pass
    return list(out)
