"""`fttui jobs` — list, show, follow, create, cancel, pause and resume fine-tuning jobs."""

from __future__ import annotations

import argparse
import functools
import sys

from fttui.cli import jobs_iterate
from fttui.cli.apicommon import (
    ProgressBar,
    add_json,
    add_provider_options,
    client_from_args,
    command_group,
    confirm,
    dump,
    fmt_num,
    fmt_time,
    follow_events,
    handles_api_errors,
    is_tty,
    job_exit_code,
    json_line,
    parse_metadata,
    print_rows,
    warn,
)
from fttui.cli.common import CliError, print_json, read_grader


def register(sub: argparse._SubParsersAction) -> None:
    jsub = command_group(
        sub,
        "jobs",
        help="list, follow, create and manage fine-tuning jobs",
        description="Fine-tuning jobs on the current provider.",
    )

    q = jsub.add_parser("list", help="list jobs, newest first")
    add_provider_options(q)
    q.add_argument("--status", help="only jobs in this status (comma-separated list allowed)")
    q.add_argument("--limit", type=int, default=None, help="at most N jobs (default: all)")
    add_json(q)
    q.set_defaults(func=cmd_list)

    q = jsub.add_parser("show", help="status, model, files, hyperparameters, checkpoints")
    add_provider_options(q)
    q.add_argument("job_id", metavar="ID")
    add_json(q)
    q.set_defaults(func=cmd_show)

    for name, helptext, follow in (
        ("events", "a job's events, oldest first (--follow: live)", False),
        ("follow", "follow a job live until it ends (= events --follow)", True),
    ):
        q = jsub.add_parser(name, help=helptext)
        add_provider_options(q)
        q.add_argument("job_id", metavar="ID")
        if not follow:
            q.add_argument(
                "--follow",
                "-f",
                action="store_true",
                help="keep printing new events until the job ends; exit with its outcome",
            )
        q.add_argument("--limit", type=int, default=None, help="only the newest N events")
        q.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
        add_json(q)
        q.set_defaults(func=cmd_events, **({"follow": True} if follow else {}))

    q = jsub.add_parser(
        "logs",
        help="the trainer's raw log (fttui serve only; --follow: live)",
        description="The raw output of a job's trainer (on --executor ray, its Ray job's "
        "log), through fttui serve's GET /v1/fine_tuning/jobs/ID/logs, an extension: "
        "other providers have none (use `fttui jobs events`).",
    )
    add_provider_options(q)
    q.add_argument("job_id", metavar="ID")
    q.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing the log until the job ends; exit with its outcome",
    )
    q.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    q.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    q.set_defaults(func=cmd_logs)

    q = jsub.add_parser(
        "create",
        help="lint, upload and start a fine-tuning job (--from: a changed copy; lists: a sweep)",
        description=(
            "Lint, upload and start a fine-tuning job. --from JOB_ID starts from that job's "
            "settings (its files by id). --epochs, --batch-size, --lr-multiplier and --seed "
            "take a comma-separated list: every combination is a job (a sweep, sharing "
            "metadata.sweep), created after showing the count and billed tokens."
        ),
    )
    add_provider_options(q)
    q.add_argument("--model", help="base model, ft:... or ft:...:ckpt-step-N to continue from")
    q.add_argument("--training-file", metavar="PATH|FILE_ID")
    q.add_argument("--validation-file", metavar="PATH|FILE_ID")
    q.add_argument("--epochs", dest="n_epochs", metavar="N[,N...]")
    q.add_argument("--batch-size", metavar="N[,N...]")
    q.add_argument("--lr-multiplier", dest="learning_rate_multiplier", metavar="X[,X...]")
    q.add_argument("--method", choices=["supervised", "dpo", "reinforcement"])
    q.add_argument("--beta", type=float, help="DPO beta")
    rft = q.add_argument_group("reinforcement fine-tuning (--method reinforcement)")
    rft.add_argument(
        "--grader",
        metavar="GRADER.json",
        help="the grader (OpenAI's JSON shape); implies --method reinforcement",
    )
    rft.add_argument("--reasoning-effort", choices=["default", "low", "medium", "high"])
    rft.add_argument("--compute-multiplier", type=float, metavar="X")
    rft.add_argument("--eval-interval", type=int, metavar="STEPS")
    rft.add_argument("--eval-samples", type=int, metavar="N")
    q.add_argument(
        "--extra-body",
        metavar="JSON",
        help="a JSON object merged into the request as it is: fields a provider defines "
        "itself (a Bedrock Lambda grader, say)",
    )
    q.add_argument("--suffix")
    q.add_argument("--seed", metavar="N[,N...]")
    q.add_argument("--metadata", action="append", metavar="KEY=VALUE", help="repeatable")
    q.add_argument("--wandb-project", help="report to Weights & Biases (provider-side)")
    q.add_argument("--force", action="store_true", help="create even if the linter finds errors")
    q.add_argument(
        "--wait",
        action="store_true",
        help="follow the job's events until it ends; exit with its outcome",
    )
    jobs_iterate.add_create_options(q)
    add_json(q)
    q.set_defaults(func=cmd_create)
    jobs_iterate.register(jsub)

    for name, helptext in (
        ("cancel", "cancel a job"),
        ("pause", "pause a running job"),
        ("resume", "resume a paused job"),
    ):
        q = jsub.add_parser(name, help=helptext)
        add_provider_options(q)
        q.add_argument("job_id", metavar="ID")
        if name == "cancel":
            q.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        add_json(q)
        q.set_defaults(func=cmd_action, action=name)

    q = jsub.add_parser("checkpoints", help="a job's checkpoints (usable model ids)")
    add_provider_options(q)
    q.add_argument("job_id", metavar="ID")
    add_json(q)
    q.set_defaults(func=cmd_checkpoints)

    q = jsub.add_parser("metrics", help="training metrics (sparklines; --csv for data)")
    add_provider_options(q)
    q.add_argument("job_id", metavar="ID")
    q.add_argument("--csv", action="store_true", help="print the metrics as CSV")
    q.add_argument(
        "--source",
        choices=["auto", "events", "result_file"],
        default="auto",
        help="events, the result CSV, or the CSV when there is one (default)",
    )
    add_json(q)
    q.set_defaults(func=cmd_metrics)


@handles_api_errors
def cmd_list(args: argparse.Namespace) -> int:
    from fttui.api.jobs import iter_jobs, job_summary

    if args.limit is not None and args.limit < 0:
        raise CliError("--limit must be >= 0", exit_code=2)
    _check_statuses(args.status)
    _, client = client_from_args(args)
    jobs = iter_jobs(client, status=args.status, limit=args.limit)
    if args.json:
        print_json([job_summary(j) for j in jobs])
        return 0
    header = ("ID", "STATUS", "MODEL", "FINE-TUNED MODEL", "CREATED")
    fmt = "{:<32}  {:<16}  {:<28}  {:<40}  {}"
    n = 0
    for job in jobs:
        if n == 0:
            print(fmt.format(*header))
        s = job_summary(job)
        print(
            fmt.format(
                s["id"],
                s["status"],
                s["model"] or "-",
                s["fine_tuned_model"] or "-",
                fmt_time(s["created_at"]),
            )
        )
        n += 1
    if n == 0:
        warn("no jobs" + (f" with status {args.status}" if args.status else ""))
    return 0


def _check_statuses(status: str | None) -> None:
    """A usage error (exit 2, before any request) for a status no job can have: the filter
    runs here, on the listed jobs, so a typo would otherwise print "no jobs" and exit 0."""
    from fttui.api.jobs import ACTIVE_STATUSES, TERMINAL_STATUSES

    if status is None:
        return
    known = ACTIVE_STATUSES | TERMINAL_STATUSES
    asked = [s.strip() for s in status.split(",") if s.strip()]
    if not asked:
        raise CliError("--status needs at least one status", exit_code=2)
    unknown = [s for s in asked if s not in known]
    if unknown:
        raise CliError(
            f"unknown status {', '.join(map(repr, unknown))}: "
            f"one of {', '.join(sorted(known))} (comma-separated)",
            exit_code=2,
        )


@handles_api_errors
def cmd_show(args: argparse.Namespace) -> int:
    from fttui.api.jobs import get_job, iter_checkpoints, job_summary

    _, client = client_from_args(args)
    job = get_job(client, args.job_id)
    summary = job_summary(job)
    checkpoints = [dump(c) for c in iter_checkpoints(client, args.job_id)]
    checkpoints.sort(key=lambda c: c.get("step_number") or 0)
    if args.json:
        print_json({**summary, "checkpoints": checkpoints})
        return 0
    rows = [
        ("id", summary["id"]),
        ("status", summary["status"]),
        ("model", summary["model"]),
        ("fine-tuned model", summary["fine_tuned_model"] or "-"),
        ("method", summary["method"] or "supervised"),
        ("training file", summary["training_file"] or "-"),
        ("validation file", summary["validation_file"] or "-"),
        (
            "hyperparameters",
            ", ".join(f"{k}={v}" for k, v in summary["hyperparameters"].items()) or "-",
        ),
        ("trained tokens", fmt_num(summary["trained_tokens"])),
        ("suffix", summary["suffix"] or "-"),
        ("seed", str(summary["seed"]) if summary["seed"] is not None else "-"),
        ("created", fmt_time(summary["created_at"])),
        ("finished", fmt_time(summary["finished_at"])),
    ]
    if summary["estimated_finish"] and not summary["finished_at"]:
        rows.append(("estimated finish", fmt_time(summary["estimated_finish"])))
    if summary["metadata"]:
        rows.append(("metadata", ", ".join(f"{k}={v}" for k, v in summary["metadata"].items())))
    if summary["error"]:
        err = summary["error"]
        rows.append(("error", f"{err.get('code')}: {err.get('message')}"))
    rows.append(("result files", ", ".join(summary["result_files"]) or "-"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if checkpoints:
        print(f"checkpoints ({len(checkpoints)}):")
        for cp in checkpoints:
            m = cp.get("metrics") or {}
            loss = m.get("train_loss")
            vloss = m.get("valid_loss") or m.get("full_valid_loss")
            bits = [f"step {cp.get('step_number')}", cp.get("fine_tuned_model_checkpoint", "?")]
            if loss is not None:
                bits.append(f"train_loss={loss:.4g}")
            if vloss is not None:
                bits.append(f"valid_loss={vloss:.4g}")
            print("  " + "  ".join(str(b) for b in bits))
    else:
        print("checkpoints: -")
    return 0


@handles_api_errors
def cmd_events(args: argparse.Namespace) -> int:
    from fttui.api.events import EventFollower, event_line

    if args.limit is not None and args.limit < 0:
        raise CliError("--limit must be >= 0", exit_code=2)
    if not args.interval > 0:
        raise CliError("--interval must be > 0 seconds", exit_code=2)
    _, client = client_from_args(args)
    if args.follow:
        if args.limit is not None:
            follower = EventFollower(client, args.job_id)
            for ev in follower.iter_new(limit=args.limit):
                json_line(ev) if args.json else print(event_line(ev), flush=True)
            return _follow_rest(client, args, follower)
        return follow_events(client, args.job_id, as_json=args.json, interval=args.interval)
    follower = EventFollower(client, args.job_id)
    n = 0
    for ev in follower.iter_new(limit=args.limit):
        if args.json:
            json_line(ev)
        else:
            print(event_line(ev))
        n += 1
    if n == 0 and not args.json:
        warn(f"no events for {args.job_id}")
    return 0


def _follow_rest(client, args: argparse.Namespace, follower) -> int:
    from fttui.api.events import event_line

    def on_error(err, delay: float) -> None:
        warn(f"{err} — retrying in {delay:.1f}s")

    for ev in follower.follow(interval=args.interval, on_error=on_error):
        json_line(ev) if args.json else print(event_line(ev), flush=True)
    status = getattr(follower, "final_status", None)
    if not args.json:
        warn(f"job {args.job_id} {status}")
    return job_exit_code(status)


@handles_api_errors
def cmd_create(args: argparse.Namespace) -> int:
    from fttui.api.errors import ApiError
    from fttui.api.jobs import create_job, get_job, job_summary, local_file_problem

    metadata = parse_metadata(args.metadata)
    grader = None
    if args.grader:
        grader = read_grader(args.grader)
    extra_body = _json_object(args.extra_body, "--extra-body") if args.extra_body else None
    axes = jobs_iterate.sweep_axes(args)
    if not args.from_job and not (args.model and args.training_file):
        raise CliError("--model and --training-file are needed (or --from JOB_ID)", exit_code=2)
    # A usage error, like `fttui lint` on a missing file: exit 2 before any request (and
    # before the local server is started for nothing).
    for value, role in ((args.training_file, "training"), (args.validation_file, "validation")):
        problem = local_file_problem(value, role=role) if value else None
        if problem:
            raise CliError(problem, exit_code=2)
    provider, client = client_from_args(args)
    if args.suffix and provider.kind == "bedrock":
        warn("Bedrock does not take a suffix; it is ignored")
        args.suffix = None
    source = get_job(client, args.from_job) if args.from_job else None
    settings = jobs_iterate.settings_from(source, args, metadata)
    settings.update({k: v[0] for k, v in axes.items() if len(v) == 1})
    sweep = {k: v for k, v in axes.items() if len(v) > 1}
    bar = ProgressBar()
    if grader is not None:
        settings["grader"] = grader
    rft_hp = {
        k: getattr(args, k)
        for k in ("reasoning_effort", "compute_multiplier", "eval_interval", "eval_samples")
        if getattr(args, k) is not None
    }
    if rft_hp:
        settings["rft_hyperparameters"] = {**(settings.get("rft_hyperparameters") or {}), **rft_hp}
    create = functools.partial(
        create_job,
        client,
        wandb_project=args.wandb_project,
        extra_body=extra_body,
        force=args.force,
        progress=bar,
    )
    if sweep:
        try:
            return jobs_iterate.create_sweep(
                client, args, settings, sweep, source=source, create=create
            )
        finally:
            bar.finish()
    try:
        job = create(**settings)
    except ApiError:
        bar.finish()  # the error line (lint: count, first finding, what to run) goes below
        raise
    bar.finish()
    if args.json:
        # One JSON object either way: the job as created, or (--wait) as it ended.
        if args.wait:
            job = _wait_quietly(client, job.id)
        print_json(job_summary(job))
        return job_exit_code(job.status) if args.wait else 0
    print(f"created {job.id} ({job.status}) on {job.model}")
    if job.training_file:
        print(
            f"training file {job.training_file}"
            + (f", validation file {job.validation_file}" if job.validation_file else "")
        )
    if args.wait:
        from fttui.api.jobs import get_job

        code = follow_events(client, job.id, as_json=False)
        final = get_job(client, job.id)
        if final.fine_tuned_model:
            print(f"fine-tuned model: {final.fine_tuned_model}")
        return code
    print(f"follow it with: fttui jobs events {job.id} --follow")
    return 0


def _json_object(text: str, flag: str) -> dict:
    """``text`` parsed as a JSON object, or a usage error (exit 2) naming the flag."""
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{flag} is not valid JSON: {exc}", exit_code=2) from None
    if not isinstance(value, dict):
        raise CliError(f"{flag} must be a JSON object", exit_code=2)
    return value


def _wait_quietly(client, job_id: str, *, interval: float = 1.0):
    """Poll the job until it ends (``create --wait --json``), riding out transient errors."""
    from fttui.api.compare import wait_jobs

    def on_retry(err, delay: float) -> None:
        warn(f"{err} — retrying in {delay:.1f}s")

    return wait_jobs(client, [job_id], interval=interval, on_retry=on_retry)[job_id]


@handles_api_errors
def cmd_action(args: argparse.Namespace) -> int:
    from fttui.api import jobs as J

    _, client = client_from_args(args)
    if args.action == "cancel":
        if not confirm_cancel(client, args):
            warn("not cancelled")
            return 1
        job = J.cancel_job(client, args.job_id)
    elif args.action == "pause":
        job = J.pause_job(client, args.job_id)
    else:
        job = J.resume_job(client, args.job_id)
    if args.json:
        print_json(J.job_summary(job))
    else:
        print(f"{job.id} {job.status}")
    return 0


def confirm_cancel(client, args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not (is_tty(sys.stdin) and is_tty(sys.stderr)):
        return confirm(f"Cancel {args.job_id}?", assume_yes=False)  # refuses: no terminal
    from fttui.api.jobs import get_job

    job = get_job(client, args.job_id)
    return confirm(f"Cancel {job.id} ({job.model}, {job.status})?", assume_yes=False)


@handles_api_errors
def cmd_logs(args: argparse.Namespace) -> int:
    import time

    from fttui.api.jobs import is_terminal, job_logs

    if args.tail is not None and args.tail < 0:
        raise CliError("--tail must be >= 0", exit_code=2)
    if not args.interval > 0:
        raise CliError("--interval must be > 0 seconds", exit_code=2)
    _, client = client_from_args(args)
    page = job_logs(client, args.job_id, tail=args.tail)
    sys.stdout.write(page["text"])
    sys.stdout.flush()
    if not args.follow:
        return 0
    offset, status = page.get("offset"), page.get("status")
    while True:
        ended = is_terminal(status)
        if not ended:
            time.sleep(args.interval)
        # once more after the end: the last lines may land after the final status
        page = job_logs(client, args.job_id, offset=offset)
        sys.stdout.write(page["text"])
        sys.stdout.flush()
        offset, status = page.get("offset"), page.get("status")
        if ended:
            break
    warn(f"job {args.job_id} {status}")
    return job_exit_code(status)


@handles_api_errors
def cmd_checkpoints(args: argparse.Namespace) -> int:
    from fttui.api.jobs import iter_checkpoints

    _, client = client_from_args(args)
    cps = [dump(c) for c in iter_checkpoints(client, args.job_id)]
    cps.sort(key=lambda c: c.get("step_number") or 0)
    if args.json:
        print_json(cps)
        return 0
    if not cps:
        warn(f"no checkpoints for {args.job_id}")
        return 0
    rows = []
    for cp in cps:
        m = cp.get("metrics") or {}
        rows.append(
            (
                cp.get("step_number"),
                cp.get("fine_tuned_model_checkpoint"),
                fmt_num(m.get("train_loss")),
                fmt_num(
                    m.get("valid_loss")
                    if m.get("valid_loss") is not None
                    else m.get("full_valid_loss")
                ),
                fmt_time(cp.get("created_at")),
            )
        )
    print_rows(rows, ("STEP", "MODEL", "TRAIN LOSS", "VALID LOSS", "CREATED"))
    return 0


@handles_api_errors
def cmd_metrics(args: argparse.Namespace) -> int:
    from fttui.api.metrics import fetch_job_metrics, sparkline

    _, client = client_from_args(args)
    ms = fetch_job_metrics(client, args.job_id, prefer=args.source)
    if args.csv:
        sys.stdout.write(ms.to_csv())
        return 0
    if args.json:
        print_json(ms.to_dict())
        return 0
    if not ms:
        warn(f"no metrics yet for {args.job_id}")
        return 0
    names = ms.names()
    width = max(len(n) for n in names)
    tty = is_tty()
    total = f" of {ms.total_steps}" if ms.total_steps else ""
    print(
        f"{args.job_id}: metrics from {ms.source.replace('_', ' ')}, "
        f"last step {ms.last_step()}{total}"
    )
    for name in names:
        last, low, steps = ms.last(name), ms.min(name), ms.steps(name)
        agg = "min" if "loss" in name else "max"
        best = low if agg == "min" else ms.max(name)
        line = f"{name:<{width}}  last {last:.4g}  {agg} {best:.4g}  ({steps} points)"
        if tty:
            line = f"{name:<{width}}  {sparkline(ms.values(name), 40):<40}  " + line[width + 2 :]
        print(line)
    return 0
