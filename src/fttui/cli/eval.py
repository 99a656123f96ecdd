"""`fttui eval FILE --model A --model B …` — score models on a held-out file.

Each item's reference is its last assistant message (chat) or its completion (legacy);
the rest is sent to every model, on the chat or the completions endpoint as ``fttui ask``
chooses, with the stop sequence the data ends with. Prints a scoreboard per model (mean
and pass rate with a 95% bootstrap interval, tokens, their cost where the config's
``[inference_prices]`` prices the model, latency p50/p95), the items where the models
disagree, and appends one JSONL line per item × model to ``-o`` as it goes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fttui.cli.apicommon import (
    ProgressBar,
    add_endpoint_options,
    add_json,
    add_provider_options,
    client_from_args,
    handles_api_errors,
    warn,
)
from fttui.cli.common import CliError, print_json, read_grader

#: As fttui.api.evaluate.METRICS (spelled out: the parser is built without importing the
#: API layer; tests/tui/test_evals_pane.py checks the two agree).
METRICS = ("exact", "contains", "fuzzy", "bleu", "rouge", "classification")
#: OpenAI's; a local or other provider names one of its own with --embedding-model
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score models on a held-out file (graders, metrics, a scoreboard)",
        description="Score one or more models on a file in training format: the last "
        "assistant message (or the completion) is the reference, the rest is sent.",
    )
    add_provider_options(p)
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--model",
        "-m",
        action="append",
        required=True,
        metavar="MODEL",
        help="a model, a checkpoint, or job:ftjob-… (its model and every checkpoint); repeat",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument("--grader", metavar="GRADER.json", help="an OpenAI grader (JSON file)")
    how.add_argument("--metric", choices=METRICS, help="a built-in metric (default: exact)")
    p.add_argument(
        "--positive-class", metavar="X", help="binary classification: the positive label"
    )
    p.add_argument("--pass-threshold", type=float, metavar="X", help="a score at or above passes")
    p.add_argument(
        "--embedding-model",
        default=DEFAULT_EMBEDDING_MODEL,
        metavar="MODEL",
        help="the provider's embedding model for a cosine text_similarity grader "
        f"(default {DEFAULT_EMBEDDING_MODEL})",
    )
    p.add_argument(
        "--stop",
        action="append",
        metavar="S",
        help="stop sequence (default: the one the file's completions end with)",
    )
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--concurrency", "-j", type=int, default=4)
    p.add_argument("--limit", type=int, metavar="N", help="only the first N examples")
    p.add_argument("-o", "--output", metavar="RESULTS.jsonl", help="append results here")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in -o (made with the same options)"
    )
    p.add_argument("--allow-python", action="store_true", help="let a python grader run here")
    add_endpoint_options(p)
    add_json(p)
    p.set_defaults(func=run)


def expand_models(client: Any, names: list[str]) -> list[str]:
    """``job:ftjob-…`` → its fine-tuned model and every checkpoint (oldest first)."""
    from fttui.api.evaluate import EvalSetupError
    from fttui.api.evaluate import expand_models as expand

    try:
        return expand(client, names)
    except EvalSetupError as exc:
        raise CliError(str(exc)) from None


@handles_api_errors
def run(args: argparse.Namespace) -> int:
    from fttui.api.evaluate import (
        EvalSetupError,
        add_costs,
        file_stops,
        make_call,
        make_scorer,
    )
    from fttui.evals.graders import metrics_used
    from fttui.evals.items import iter_items, nothing_to_score
    from fttui.evals.metrics import MetricUnavailable
    from fttui.evals.session import Evaluation, ResumeMismatch, data_digest
    from fttui.text import unescape

    if args.concurrency < 1 or args.max_tokens < 1 or (args.limit is not None and args.limit < 1):
        raise CliError("--concurrency, --max-tokens and --limit must be at least 1", exit_code=2)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {args.file}", exit_code=2)
    results = Path(args.output) if args.output else None
    if args.resume and results is None:
        raise CliError("--resume continues the results file: give it with -o", exit_code=2)
    if results is not None and not args.resume and results.exists() and results.stat().st_size:
        raise CliError(
            f"{results} already holds results: --resume continues it, or choose another -o",
            exit_code=2,
        )
    grader = read_grader(args.grader) if args.grader else None
    try:
        stops = file_stops(args.file, [unescape(s) for s in args.stop] if args.stop else None)
    except EvalSetupError as exc:
        raise CliError(str(exc), exit_code=2) from None
    stop = stops[0] if stops else None
    empty = nothing_to_score(path, stop=stop, limit=args.limit, by_grader=grader is not None)
    if empty:  # an empty file, or no example with a reference: an error, not "0 items"
        raise CliError(empty, exit_code=2)
    _, client = client_from_args(args)
    models = expand_models(client, args.model)
    try:
        scorer = make_scorer(
            client,
            metric=args.metric,
            grader=grader,
            pass_threshold=args.pass_threshold,
            allow_python=args.allow_python,
            embedding_model=args.embedding_model,
        )
    except EvalSetupError as exc:
        raise CliError(str(exc), exit_code=2) from None
    call = make_call(
        client,
        legacy=args.legacy,
        stops=stops,
        max_tokens=args.max_tokens,
        logprobs=args.positive_class is not None,
    )

    bar = ProgressBar()
    # what else decides the answers: a resume with other values is refused, not mixed in
    setup: dict[str, Any] = {"stop": stops, "max_tokens": args.max_tokens, "legacy": args.legacy}
    if results is not None:  # the data too: a resume on an edited or other file would mix
        setup["data"] = data_digest(path)
    if grader is not None and any(m == "cosine" for _, m in metrics_used(grader)):
        setup["embedding_model"] = args.embedding_model
    try:
        ev = Evaluation(
            iter_items(path, stop=stop, limit=args.limit),
            models,
            call,
            scorer,
            file=args.file,
            concurrency=args.concurrency,
            results_path=results,
            resume=args.resume,
            positive_class=args.positive_class,
            progress=lambda done, _total: bar("eval", done, max(done, 1)),
            setup=setup,
        )
    except MetricUnavailable as exc:  # the classification metrics' library
        raise CliError(str(exc), exit_code=2) from None
    try:
        report = ev.run()
    except ResumeMismatch as exc:
        bar.finish()
        raise CliError(str(exc), exit_code=2) from None
    except KeyboardInterrupt:
        bar.finish()
        if results is not None:
            warn(f"interrupted: the finished results are in {results}; --resume continues")
        raise
    bar.finish()
    add_costs(report.models)
    if args.json:
        print_json(report.to_json() | {"stop": stops})
    else:
        print_report(report, stops)
    return 1 if report.errors else 0


def _num(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v * 100:.1f}%" if pct else f"{v:.3f}"


def print_report(report: Any, stops: list[str] | None) -> None:
    from fttui.api.evaluate import cost_text
    from fttui.cli.apicommon import print_rows

    models = report.models
    n = max((m["n"] + m["errors"] for m in models), default=0)
    stop = f", stop {stops[0]!r}" if stops else ""
    print(
        f"{report.file}: {n} items × {len(models)} models, {report.scorer}{stop}"
        + (f" ({report.resumed} results resumed)" if report.resumed else "")
    )
    rows = []
    for m in models:
        ci = m["ci95"]
        rows.append(
            [
                m["model"],
                _num(m["mean"]),
                f"[{_num(ci[0])}, {_num(ci[1])}]" if ci else "-",
                _num(m["pass_rate"], pct=True),
                m["n"],
                m["errors"],
                f"{m['prompt_tokens'] + m['completion_tokens']:,}",
                cost_text(m.get("cost")),
                m["latency_p50_ms"],
                m["latency_p95_ms"],
            ]
        )
    print_rows(
        rows,
        ["model", "mean", "95% CI", "pass", "n", "errors", "tokens", "cost", "p50 ms", "p95 ms"],
    )
    for m in models:
        cls = m.get("classification")
        if cls:
            figures = " · ".join(f"{k} {_num(v)}" for k, v in cls.items() if k != "from")
            print(f"{m['model']}: {figures} (from the {cls['from']})")
    if report.disagreement_count:
        print(f"\nmodels disagree on {report.disagreement_count} items (the widest first):")
        for d in report.disagreements[:10]:
            print(f"  line {d['line']}: reference {_short(d['reference'])}")
            for model, a in d["answers"].items():
                if a["passed"] is not None:
                    mark = "pass " if a["passed"] else "fail "
                else:  # a continuous score: the score itself
                    mark = _num(a["score"])
                print(f"    {mark}  {model}: {_short(a['output'])}")
    if report.no_reference_count:
        lines = ", ".join(str(x["line"]) for x in report.no_reference[:10])
        more = "…" if report.no_reference_count > 10 else ""
        print(
            f"\n{report.no_reference_count} examples without a reference, not scored "
            f"(lines {lines}{more}): {report.no_reference[0]['problem']}"
        )
    graded_not = sum(m["grading_problems"] for m in models)
    if graded_not:
        # scored 0 without a verdict on the answer: say why, or the zeros read as failures
        print(f"\n{graded_not} answers could not be graded (scored 0):", file=sys.stderr)
        for g in report.grading_problems[:10]:
            print(f"  line {g['line']} {g['model']}: {g['problem']}", file=sys.stderr)
    if report.errors:
        print(f"\n{len(report.errors)} answers failed after retries:", file=sys.stderr)
        for e in report.errors[:10]:
            print(f"  line {e['line']} {e['model']}: {e['error']}", file=sys.stderr)
    if report.results:
        print(f"\nresults: {report.results}")


def _short(text: Any, width: int = 70) -> str:
    s = repr(text if text is not None else "")
    return s if len(s) <= width else s[: width - 1] + "…"
