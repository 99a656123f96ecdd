"""`fttui jobs wait|compare` and the clone/sweep half of `fttui jobs create`.

``jobs wait ID…`` exit status (several jobs: the worst outcome wins, in this order):
1 a job failed (or an ID is unknown) · 124 a job was still running at ``--timeout`` ·
2 a job was cancelled · 0 every job succeeded · 64 (EX_USAGE) a usage error. Cancelled is
2 here, as issue 15 asks, so a usage error — 2 everywhere else in fttui — is 64 for this
command: a script must be able to tell an outcome from a mistake in its own command line.
(``follow`` and ``create --wait`` keep 3 for cancelled: 2 is their usage error.)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fttui.cli.apicommon import (
    EXIT_CANCELLED,
    add_json,
    add_provider_options,
    client_from_args,
    confirm,
    fmt_num,
    handles_api_errors,
    job_exit_code,
    warn,
)
from fttui.cli.common import CliError, print_json

#: ``jobs wait`` when a job is still running at ``--timeout`` (as coreutils' timeout(1))
EXIT_TIMEOUT = 124
#: ``jobs wait`` when a job was cancelled (issue 15), and its usage errors (sysexits' EX_USAGE)
EXIT_WAIT_CANCELLED = 2
EXIT_USAGE = 64

WAIT_CODES = (
    "Exit status, the worst outcome winning: 1 a job failed (or an ID is unknown), 124 a job "
    "still running at --timeout, 2 a job cancelled, 0 all succeeded; 64 a usage error."
)

#: create options that may hold a comma-separated list (a sweep axis): dest → (flag, type)
SWEEP_AXES: dict[str, tuple[str, type]] = {
    "n_epochs": ("--epochs", int),
    "batch_size": ("--batch-size", int),
    "learning_rate_multiplier": ("--lr-multiplier", float),
    "seed": ("--seed", int),
}


def register(jsub: argparse._SubParsersAction) -> None:
    q = jsub.add_parser(
        "wait",
        help="wait until jobs end; exit 0 all succeeded, 1 one failed, 2 cancelled, 124 timeout",
        description=f"Wait until every job has ended. {WAIT_CODES}",
        usage_exit=EXIT_USAGE,
    )
    add_provider_options(q)
    q.add_argument("job_ids", metavar="ID", nargs="+")
    q.add_argument("--timeout", type=float, help="give up after this many seconds (exit 124)")
    q.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    add_json(q)
    q.set_defaults(func=cmd_wait)

    q = jsub.add_parser(
        "compare",
        help="the fields that differ between jobs, and each job's final and best metrics",
    )
    add_provider_options(q)
    q.add_argument("job_ids", metavar="ID", nargs="+")
    add_json(q)
    q.set_defaults(func=cmd_compare)


def outcome_code(statuses: list[str | None], *, cancelled: int = EXIT_CANCELLED) -> int:
    """The exit status of several outcomes (None: still running): see the module doc.
    ``cancelled``: 2 for ``jobs wait``, 3 where 2 is a usage error (``create --wait``)."""
    if any(s is not None and s != "cancelled" and job_exit_code(s) == 1 for s in statuses):
        return 1
    if any(s is None for s in statuses):
        return EXIT_TIMEOUT
    if "cancelled" in statuses:
        return cancelled
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    try:
        return _wait(args)
    except CliError as exc:
        if exc.exit_code == 2:  # a usage or configuration error: 2 is "cancelled" here
            raise CliError(str(exc), exit_code=EXIT_USAGE) from None
        raise


@handles_api_errors
def _wait(args: argparse.Namespace) -> int:
    from fttui.api.compare import wait_jobs
    from fttui.api.jobs import get_job, is_terminal, job_summary

    if args.timeout is not None and not args.timeout >= 0:
        raise CliError("--timeout must be >= 0 seconds", exit_code=EXIT_USAGE)
    if not args.interval > 0:
        raise CliError("--interval must be > 0 seconds", exit_code=EXIT_USAGE)
    _, client = client_from_args(args)
    ids = list(dict.fromkeys(args.job_ids))
    for jid in ids:  # an unknown ID is an error now, not after the others have ended
        get_job(client, jid)

    def on_end(job: Any) -> None:
        if not args.json:
            tail = f" {job.fine_tuned_model}" if job.fine_tuned_model else ""
            print(f"{job.id} {job.status}{tail}", flush=True)

    last = wait_jobs(
        client,
        ids,
        timeout=args.timeout,
        interval=args.interval,
        on_end=on_end,
        on_retry=lambda err, delay: warn(f"{err} — retrying in {delay:.1f}s"),
    )
    statuses = [last[j].status if is_terminal(last[j].status) else None for j in ids]
    if args.json:
        print_json([job_summary(last[j]) for j in ids])
    else:
        for jid, status in zip(ids, statuses, strict=True):
            if status is None:
                warn(f"{jid} still {last[jid].status} after {args.timeout:g}s")
    return outcome_code(statuses, cancelled=EXIT_WAIT_CANCELLED)


@handles_api_errors
def cmd_compare(args: argparse.Namespace) -> int:
    from fttui.api.compare import compare_jobs

    ids = list(dict.fromkeys(args.job_ids))
    if len(ids) < 2:
        raise CliError("compare takes two or more different job IDs", exit_code=2)
    _, client = client_from_args(args)
    result = compare_jobs(client, ids)
    if args.json:
        print_json(result)
        return 0
    print_comparison(result)
    return 0


def print_comparison(result: dict[str, Any]) -> None:
    from fttui.api.compare import comparison_cells

    cells: list[list[str]] = [["", *(j["id"] for j in result["jobs"])]]
    cells.extend([label, *values] for label, values in comparison_cells(result))
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not result["differ"]:
        print("(no differences in model, files, method, hyperparameters, seed or metadata)")


# ----------------------------------------------------------------------------- create


def add_create_options(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--from",
        dest="from_job",
        metavar="JOB_ID",
        help="start from this job's settings (files by id: nothing is uploaded again); "
        "any other option overrides",
    )
    q.add_argument("--yes", "-y", action="store_true", help="create a sweep's jobs without asking")


def sweep_axes(args: argparse.Namespace) -> dict[str, list[Any]]:
    """Each sweepable option parsed to its list of values (a usage error if malformed)."""
    from fttui.api.compare import parse_values

    axes: dict[str, list[Any]] = {}
    for dest, (flag, cast) in SWEEP_AXES.items():
        raw = getattr(args, dest, None)
        if raw is None:
            continue
        try:
            axes[dest] = parse_values(raw, cast, name=flag)
        except ValueError as exc:
            raise CliError(str(exc), exit_code=2) from None
    return axes


def settings_from(
    source: Any | None, args: argparse.Namespace, metadata: dict | None
) -> dict[str, Any]:
    """The job's settings: the ``--from`` job's, overridden by every option given."""
    from fttui.api.compare import clone_settings

    base: dict[str, Any] = clone_settings(source) if source is not None else {}
    for key in ("model", "training_file", "validation_file", "method", "beta", "suffix"):
        value = getattr(args, key, None)
        if value is not None:
            base[key] = value
    if metadata:
        base["metadata"] = {**(base.get("metadata") or {}), **metadata}
    return base


def plan_line(n: int, axes: dict[str, list[Any]], tokens: int | None, price: float | None) -> str:
    dims = " × ".join(
        f"{SWEEP_AXES[k][0].lstrip('-')} {','.join(map(str, v))}" for k, v in axes.items()
    )
    if tokens is None:
        cost = "billed tokens unknown"
    else:
        cost = f"{fmt_num(tokens)} billed tokens"
        if price is not None:
            cost += f" (≈ ${tokens / 1e6 * price:.2f})"
    return f"{n} jobs ({dims}): {cost}"


def create_sweep(
    client: Any,
    args: argparse.Namespace,
    settings: dict[str, Any],
    axes: dict[str, list[Any]],
    *,
    source: Any | None,
    create: Any,
) -> int:
    """Show the grid's job count and billed tokens, ask (or ``--yes``), then create every
    job with a shared ``metadata.sweep``. ``create(**settings)`` creates one job."""
    from fttui.api.compare import (
        SweepError,
        create_sweep_jobs,
        epoch_tokens,
        grid,
        new_sweep_id,
        plan_sweep,
    )
    from fttui.api.jobs import job_summary

    per = epoch_tokens(
        client, settings["model"], settings["training_file"], source=source, force=args.force
    )
    plan = plan_sweep(grid(axes), per, settings["model"])
    points, tokens, price = plan.points, plan.tokens, plan.price
    sweep = new_sweep_id()
    line = plan_line(len(points), axes, tokens, price)
    print(f"{sweep}: {line}", file=sys.stderr if args.json else sys.stdout, flush=True)
    if not confirm(f"Create {len(points)} jobs?", assume_yes=args.yes):
        warn("nothing created")
        return 1

    def on_created(job: Any, point: dict[str, Any]) -> None:
        if not args.json:
            hp = ", ".join(f"{k}={v}" for k, v in point.items())
            print(f"created {job.id} ({hp})", flush=True)

    try:
        created = create_sweep_jobs(create, settings, points, sweep=sweep, on_created=on_created)
    except SweepError as err:
        raise CliError(str(err), exit_code=1) from None
    if args.wait:
        from fttui.api.compare import wait_jobs

        last = wait_jobs(client, [j.id for j in created])
        created = [last[j.id] for j in created]
    if args.json:
        print_json(
            {
                "sweep": sweep,
                "billed_tokens": tokens,
                "cost": round(plan.cost, 4) if plan.cost is not None else None,
                "jobs": [job_summary(j) for j in created],
            }
        )
    elif args.wait:
        for job in created:
            print(f"{job.id} {job.status}")
    else:
        print(f"wait for them with: fttui jobs wait {' '.join(j.id for j in created)}")
    return outcome_code([j.status for j in created]) if args.wait else 0
