"""`fttui lint` — check a training file, count its tokens and estimate the job.

Exit status: 0 when there is no error finding, 1 when there is, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from fttui.text import plural

SHOW_PER_CODE = 3  #: findings printed in full per code in text output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lint",
        help="check a training file: findings, token counts, epochs and cost",
        description=(
            "Check a fine-tuning file (JSONL, JSON, CSV, TSV, XLSX): every problem as a finding "
            "with a code, line and hint; exact token counts; default epochs, billed tokens and "
            "cost. Exit 0 when there is no error, 1 when there is, 2 when a file cannot be read."
        ),
    )
    p.add_argument("file", help="training file")
    p.add_argument(
        "--validation", metavar="FILE", help="validation file: same checks, plus overlap"
    )
    p.add_argument(
        "--model",
        default="gpt-4o-mini-2024-07-18",
        help="target model: its tokenizer and token limit (default: %(default)s)",
    )
    p.add_argument(
        "--method",
        choices=("supervised", "dpo", "reinforcement"),
        help="the fine-tuning method the file is for; `reinforcement` checks the RFT shape "
        "(default: worked out from the data)",
    )
    p.add_argument(
        "--grader",
        metavar="GRADER.json",
        help="RFT: the grader (OpenAI's JSON shape); every {{item.…}} field it reads must be "
        "in every example",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--max-findings", type=int, metavar="N", help="report at most N findings")
    p.add_argument(
        "--price",
        type=float,
        metavar="USD",
        help="price per 1M training tokens, for a cost estimate "
        "(default: the config's [prices] entry for the model)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="text output: print every finding, not the first few per code",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fttui.cli.common import CliError, print_json, read_grader
    from fttui.datasets import lint_path
    from fttui.datasets.read import DatasetReadError
    from fttui.datasets.tokens import TokenizerUnavailable

    if args.max_findings is not None and args.max_findings < 0:
        raise CliError("--max-findings must be 0 or more", exit_code=2)
    if args.price is not None and not (math.isfinite(args.price) and args.price >= 0):
        raise CliError(
            f"--price must be a number of dollars, 0 or more (got {args.price})", exit_code=2
        )
    from fttui.config import price_for
    from fttui.datasets.model_limits import model_typo

    price = args.price
    if price is None:  # the config's [prices] table, when it names this model
        price = price_for(args.model)
    # a mistyped model would be linted with a guessed tokenizer and limit: say so before
    # reading the file; a name the config prices, or one close to no known model (a local
    # model), is taken as it is
    close = model_typo(args.model) if price_for(args.model) is None else []
    if close:
        raise CliError(
            f"unknown model {args.model!r} (did you mean {' or '.join(close)}?)", exit_code=2
        )
    grader = read_grader(args.grader) if args.grader else None
    if grader is not None and args.method is None:
        args.method = "reinforcement"  # only RFT jobs take a grader
    elif grader is not None and args.method != "reinforcement":
        raise CliError(
            f"--grader is for reinforcement fine-tuning, not --method {args.method}", exit_code=2
        )
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        report = lint_path(
            args.file,
            model=args.model,
            validation=args.validation,
            max_findings=args.max_findings,
            price_per_million=price,
            progress=progress,
            method=args.method,
            grader=grader,
        )
    except DatasetReadError as exc:
        raise CliError(str(exc), exit_code=2) from None
    except TokenizerUnavailable as exc:
        raise CliError(f"cannot count tokens offline: {exc}", exit_code=2) from None
    finally:
        if progress is not None:
            progress.clear()
    if args.json or args.format == "json":
        print_json(report.to_dict())
    else:
        sys.stdout.write(render_text(report, show_all=args.all))
    return 1 if report.has_errors else 0


class _Progress:
    """A one-line progress indicator on a terminal's stderr, for large files."""

    def __init__(self) -> None:
        self.shown = False
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        if total < 32 * 2**20:
            return
        pct = int(done * 100 / total) if total else 100
        if pct != self.last:
            self.last = pct
            self.shown = True
            sys.stderr.write(f"\rlinting… {pct:3d}% of {total / 2**20:,.0f} MB")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _num(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _render_findings(report: Any, out: list[str], show_all: bool) -> None:
    from fttui.datasets.findings import CHECKS, SEVERITY_ORDER

    groups: dict[str, list[Any]] = {}
    for f in report.findings:
        groups.setdefault(f.code, []).append(f)
    counts = dict(report.finding_counts) or {c: len(v) for c, v in groups.items()}
    for code in counts:
        groups.setdefault(code, [])

    def order(code: str) -> tuple[int, int]:
        sev = CHECKS[code].severity if code in CHECKS else "info"
        items = groups[code]
        first = min((f.line or 0 for f in items), default=0)
        return SEVERITY_ORDER.get(sev, 3), first

    for code in sorted(groups, key=order):
        items = groups[code]
        check = CHECKS.get(code)
        sev = check.severity if check else (items[0].severity if items else "info")
        count = counts.get(code, len(items))
        title = check.summary if check else ""
        out.append(f"  {sev:<8} {code} ×{count}" + (f" — {title}" if title else ""))
        shown = items if show_all else items[:SHOW_PER_CODE]
        for f in shown:
            out.append(f"           {f.message}")
        rest = [f.line for f in items[len(shown) :] if f.line is not None]
        hidden = count - len(shown)
        if hidden > 0:
            lines = ", ".join(str(n) for n in rest[:8])
            more = "…" if len(rest) > 8 or hidden > len(rest) else ""
            where = f" (lines {lines}{more})" if lines else ""
            out.append(f"           … and {hidden:,} more{where}")
        hint = items[0].hint if items else (check.hint if check else "")
        if hint:
            out.append(f"           hint: {hint}")


def _render_one(report: Any, out: list[str], show_all: bool, title: str = "") -> None:
    fmt = report.format.replace("_", "/")
    out.append(f"{title}{report.file} — {fmt}, {plural(report.examples, 'example')}")
    if report.stopped:
        out.append("  (stopped early: the figures below cover only the part read)")
    if report.findings or report.finding_counts:
        _render_findings(report, out, show_all)
    else:
        out.append("  no findings")
    stats = report.stats
    if stats and report.examples:
        exact = "exact" if stats.get("tokens_exact") else "estimate"
        out.append("")
        out.append(
            f"  tokens ({stats.get('encoding')}, {exact})     min      mean       p10       p90       max"
        )
        for key, label in (("total_tokens", "per example"), ("assistant_tokens", "assistant  ")):
            d = stats.get(key) or {}
            out.append(
                f"    {label}           "
                + " ".join(f"{_num(d.get(k, 0)):>9}" for k in ("min", "mean", "p10", "p90", "max"))
            )
        extras = []
        if stats.get("images"):
            extras.append(f"{plural(stats['images'], 'image')} (85 tokens each)")
        for kind, n in (stats.get("kinds") or {}).items():
            extras.append(f"{n:,} with {kind}")
        if extras:
            out.append("    " + " · ".join(extras))
        if stats.get("note"):
            out.append(f"    note: {stats['note']}")


def render_text(report: Any, *, show_all: bool = False) -> str:
    """The human-readable ``fttui lint`` output for a :class:`LintReport`."""
    out: list[str] = []
    _render_one(report, out, show_all)
    est = report.estimate
    if est and report.examples:
        out.append("")
        billed_per_epoch = est["billed_tokens"] // max(1, est["n_epochs"])
        line = (
            f"  estimate for {est['model']}: {est['n_epochs']} epochs × {billed_per_epoch:,} tokens "
            f"= {est['billed_tokens']:,} billed training tokens"
        )
        out.append(line)
        if est.get("note"):
            out.append(f"    ({est['note']})")
        if est.get("examples_over_limit"):
            out.append(
                f"    {plural(est['examples_over_limit'], 'example')} over the {est['token_limit']:,}-token "
                "limit count as truncated"
            )
        if est.get("cost") is not None:
            cost = est["cost"]
            shown = f"{cost:,.2f}" if cost >= 1 or cost == 0 else f"{cost:.4f}"
            out.append(f"    cost ≈ ${shown} at ${est['price_per_million']:,.2f} per 1M tokens")
        else:
            out.append(
                "    (add --price USD-per-1M-tokens, or a [prices] entry in the config, for a cost)"
            )
    if report.validation is not None:
        out.append("")
        _render_one(report.validation, out, show_all, title="validation: ")
    out.append("")
    totals: dict[str, int] = {"error": 0, "warning": 0, "info": 0}
    from fttui.datasets.findings import CHECKS

    for rep in (report, report.validation):
        if rep is None:
            continue
        for code, n in (rep.finding_counts or {}).items():
            sev = CHECKS[code].severity if code in CHECKS else "info"
            totals[sev] = totals.get(sev, 0) + n
    verdict = "not ready: fix the errors" if report.has_errors else "ready to train"
    out.append(
        f"{plural(totals['error'], 'error')}, {plural(totals['warning'], 'warning')}, "
        f"{totals['info']:,} info — {verdict}"
    )
    return "\n".join(out) + "\n"
