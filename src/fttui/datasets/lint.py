"""``lint_path``: check a training file, count its tokens, estimate the job.

One streaming pass: the main thread reads and parses each line (orjson), runs the
per-example checks and hands the strings to encode to a pool of worker threads in batches
(tiktoken releases the GIL, so both cores encode). Only small per-example numbers are kept
(token counts, a 64-bit hash for duplicates, the line number), so memory stays flat on a
1 GB file.
"""

from __future__ import annotations

import dataclasses
import os
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson

from fttui.datasets.checks import ExampleChecker, Tokens
from fttui.datasets.estimate import default_n_epochs
from fttui.datasets.findings import (
    SEVERITY_ORDER,
    Finding,
    LintReport,
    finding_sort_key,
    make_finding,
)
from fttui.datasets.model_limits import DEFAULT_MODEL, is_legacy_completion_model, model_limits
from fttui.datasets.read import Source, json_error_finding, parse_line
from fttui.datasets.rft import grader_item_fields
from fttui.datasets.tokens import TokenCounter, count_long, get_counter

MIN_EXAMPLES = 10
RECOMMENDED_EXAMPLES = 50
#: Without ``max_findings``, at most this many findings of one code are kept (all are counted).
PER_CODE_CAP = 1000
BATCH_BYTES = 512 * 1024  #: raw bytes of examples per encoding batch
MAX_PENDING = 4  #: batches in flight
WORKERS = 2
CACHE_MAX_ENTRIES = 4096  #: token counts kept for repeated strings (system prompts, tools)
CACHE_MAX_CHARS = 64 * 1024

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class _Collector:
    """Keeps findings (bounded per code) and counts them all."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.items: list[Finding] = []
        self.counts: dict[str, int] = {}

    def add(self, finding: Finding) -> None:
        n = self.counts.get(finding.code, 0) + 1
        self.counts[finding.code] = n
        if n <= self.cap:
            self.items.append(finding)

    def room(self, code: str) -> int:
        """How many more findings of ``code`` would be kept."""
        return max(0, self.cap - self.counts.get(code, 0))

    def count_only(self, code: str, n: int) -> None:
        """Count ``n`` findings of ``code`` that are not kept (beyond the cap)."""
        if n > 0:
            self.counts[code] = self.counts.get(code, 0) + n


def _count_batch(
    batch: list[Tokens],
    encode: Callable[[str], Any],
    cache: dict[str, int],
    safe_encode: Callable[[str], Any],
) -> tuple[array[int], array[int]]:
    """Token counts (total, assistant) of a batch of examples; runs in a worker thread."""
    try:
        return _count(batch, encode, cache)
    except UnicodeEncodeError:  # a lone surrogate: the slower wrapper copes
        return _count(batch, safe_encode, cache)


def _count(
    batch: list[Tokens], encode: Callable[[str], Any], cache: dict[str, int]
) -> tuple[array[int], array[int]]:
    totals = array("I")
    assistants = array("I")
    cget = cache.get
    for t in batch:
        n = t.base
        for s in t.other:
            n += len(encode(s))
        a = 0
        for s in t.assistant:
            a += len(encode(s))
        for s in t.cacheable:
            c = cget(s)
            if c is None:
                c = len(encode(s))
                if len(s) <= CACHE_MAX_CHARS and len(cache) < CACHE_MAX_ENTRIES:
                    cache[s] = c
            n += c
        totals.append(n + a)
        assistants.append(a)
    return totals, assistants


@dataclasses.dataclass
class _Result:
    report: LintReport
    digests: array[int]  #: 64-bit hash per example (compared within this process only)
    lines: array[int]  #: line per example
    size: int


def _dist(values: array[int]) -> dict[str, Any]:
    if not len(values):
        return {"min": 0, "mean": 0.0, "p10": 0.0, "p90": 0.0, "max": 0}
    import numpy as np

    arr = np.frombuffer(values, dtype=np.uint32)
    p10, p90 = np.percentile(arr, [10, 90])
    return {
        "min": int(arr.min()),
        "mean": round(float(arr.mean()), 1),
        "p10": round(float(p10), 1),
        "p90": round(float(p90), 1),
        "max": int(arr.max()),
    }


def _lint_one(
    path: str | os.PathLike[str],
    *,
    model: str,
    counter: TokenCounter,
    cap: int,
    price_per_million: float | None,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    source: Source | None = None,
    method: str | None = None,
    grader_fields: Sequence[str] = (),
) -> _Result:
    src = source or Source(path, progress=progress, should_stop=should_stop)
    collector = _Collector(cap)
    add = collector.add
    encode = counter.encode
    fast = counter.fast_encode or encode

    def big_count(text: str) -> int:
        return count_long(encode, text)

    checker = ExampleChecker(add, big_count, method=method, grader_fields=grader_fields)
    check = checker.check
    digests = array("q")  # hash() of each example's bytes: equal within this process
    lines = array("I")
    totals = array("I")
    assistants = array("I")
    cache: dict[str, int] = {}
    pending: deque[Future[tuple[array[int], array[int]]]] = deque()
    pool = (
        ThreadPoolExecutor(WORKERS, thread_name_prefix="fttui-lint") if counter.parallel else None
    )
    batch: list[Tokens] = []
    batch_bytes = 0
    any_line = False

    def flush() -> None:
        nonlocal batch, batch_bytes
        if not batch:
            return
        if pool is None:
            t, a = _count_batch(batch, fast, cache, encode)
            totals.extend(t)
            assistants.extend(a)
        else:
            while len(pending) >= MAX_PENDING:
                t, a = pending.popleft().result()
                totals.extend(t)
                assistants.extend(a)
            pending.append(pool.submit(_count_batch, batch, fast, cache, encode))
        batch = []
        batch_bytes = 0

    try:
        for file_finding in src.file_findings():
            add(file_finding)
        if src.kind == "jsonl":
            loads = orjson.loads
            decode_error = orjson.JSONDecodeError
            for line, raw, finding in src.raw_lines():
                if raw is None:  # then there is a finding: a blank or unreadable line
                    if finding is not None:
                        add(finding)
                        if finding.code != "blank_line":
                            any_line = True
                    continue
                any_line = True
                try:
                    value = loads(raw)
                except decode_error as exc:
                    add(json_error_finding(line, raw, exc))
                    continue
                tokens = check(line, value)
                if tokens is None:
                    continue
                digests.append(hash(raw))
                lines.append(line)
                batch.append(tokens)
                batch_bytes += len(raw)
                if batch_bytes >= BATCH_BYTES:
                    flush()
        else:
            dumps = orjson.dumps
            for line, value, finding in src.records():
                if finding is not None:
                    if finding.code not in ("needs_conversion", "file_too_large"):
                        add(finding)
                    if finding.line is not None:
                        any_line = True
                    continue
                any_line = True
                tokens = check(line or 0, value)
                if tokens is None:
                    continue
                try:
                    raw = dumps(value, option=orjson.OPT_SORT_KEYS)
                except TypeError:
                    raw = repr(value).encode()
                digests.append(hash(raw))
                lines.append(line or 0)
                batch.append(tokens)
                batch_bytes += len(raw)
                if batch_bytes >= BATCH_BYTES:
                    flush()
        flush()
        while pending:
            t, a = pending.popleft().result()
            totals.extend(t)
            assistants.extend(a)
    finally:
        if pool is not None:
            for fut in pending:
                fut.cancel()
            pool.shutdown(wait=True)

    n = len(lines)
    _encoding_name, limit = model_limits(model)
    report = LintReport(file=str(path), examples=n, stopped=src.stopped)

    # -- formats
    formats = checker.format_counts
    if len(formats) > 1:
        main = max(formats, key=lambda k: formats[k])
        report.format = "mixed"
        others = sorted((f for f in formats if f != main), key=lambda f: checker.format_first[f])
        first = checker.format_first[others[0]]
        parts = ", ".join(f"{formats[f]} {f.replace('_', '/')}" for f in (main, *others))
        add(
            make_finding(
                "mixed_formats",
                first,
                f"the file mixes formats ({parts}); the first {others[0].replace('_', '/')} "
                f"example is on line {first}",
            )
        )
    elif formats:
        report.format = next(iter(formats))

    # -- the method the user named needs its own format (RFT checks its shape per example)
    want = {"supervised": ("chat", "prompt_completion"), "dpo": ("preference",)}.get(method or "")
    if (
        want
        and report.format in ("chat", "preference", "prompt_completion")
        and (report.format not in want)
    ):
        add(
            make_finding(
                "method_format_mismatch",
                None,
                f"{report.format.replace('_', '/')} data, but a {method} job trains on "
                + " or ".join(w.replace("_", "/") for w in want)
                + " data",
            )
        )

    # -- per-file summaries
    for finding in checker.summary():
        add(finding)
    if report.format == "prompt_completion" and not src.stopped:
        legacy = checker.legacy
        if legacy.needs_second_pass():
            for line, value, _f in Source(src.path, kind=src.kind).records():
                if isinstance(value, dict):
                    p, c = value.get("prompt"), value.get("completion")
                    if isinstance(p, str) and isinstance(c, str):
                        legacy.check_repeats(0, line or 0, p, c)
        for finding in legacy.findings():
            add(finding)
    if report.format in ("chat", "preference") and is_legacy_completion_model(model):
        add(
            make_finding(
                "model_format_mismatch",
                None,
                f"{report.format} data, but {model} trains on prompt/completion data",
            )
        )
    elif report.format == "prompt_completion" and not is_legacy_completion_model(model):
        add(
            make_finding(
                "model_format_mismatch",
                None,
                f"prompt/completion data, but {model} trains on chat data "
                "(use babbage-002 / davinci-002, or convert with `fttui prepare --to-chat`)",
            )
        )

    # -- duplicates
    if n > 1:
        import numpy as np

        d = np.frombuffer(digests, dtype=np.int64)
        order = np.argsort(d, kind="stable")
        sd = d[order]
        same = sd[1:] == sd[:-1]
        if same.any():
            idx = np.arange(1, n)
            run_start = np.zeros(n, dtype=np.int64)
            starts = np.where(~same, idx, 0)
            run_start[1:] = np.maximum.accumulate(starts)
            dup_pos = np.nonzero(same)[0] + 1
            dup_ex = order[dup_pos]
            first_ex = order[run_start[dup_pos]]
            keep = np.argsort(dup_ex, kind="stable")[: collector.room("duplicate_example")]
            for ex, first in zip(dup_ex[keep].tolist(), first_ex[keep].tolist(), strict=True):
                add(
                    make_finding(
                        "duplicate_example",
                        lines[ex],
                        f"line {lines[ex]} duplicates line {lines[first]}",
                    )
                )
            collector.count_only("duplicate_example", int(dup_pos.size) - int(keep.size))
            del idx, run_start, starts, dup_pos, dup_ex, first_ex, keep
        del d, order, sd, same

    # -- counts
    if not src.stopped:
        if n == 0 and not any_line:
            add(make_finding("empty_file", None, "the file holds no examples"))
        elif n < MIN_EXAMPLES:
            add(
                make_finding(
                    "too_few_examples",
                    None,
                    f"{n} example{'s' if n != 1 else ''}; fine-tuning needs at least {MIN_EXAMPLES}",
                )
            )
        elif n < RECOMMENDED_EXAMPLES:
            add(
                make_finding(
                    "few_examples",
                    None,
                    f"{n} examples; {RECOMMENDED_EXAMPLES}–100 or more usually train better",
                )
            )

    # -- tokens: limits and stats
    over = 0
    capped_sum = 0
    if n and len(totals) == n:
        import numpy as np

        per_example = np.frombuffer(totals, dtype=np.uint32)
        over_idx = np.nonzero(per_example > limit)[0]
        over = int(over_idx.size)
        shown = over_idx[: collector.room("example_too_long")]
        collector.count_only("example_too_long", over - int(shown.size))
        for i in shown.tolist():
            add(
                make_finding(
                    "example_too_long",
                    lines[i],
                    f"line {lines[i]}: {int(per_example[i]):,} tokens, over {model}'s {limit:,}; "
                    "it will be truncated",
                )
            )
        capped_sum = int(np.minimum(per_example, limit).sum(dtype=np.uint64))
    messages = checker.messages_per_example
    report.stats = {
        "total_tokens": _dist(totals),
        "assistant_tokens": _dist(assistants),
        "sum_tokens": _array_sum(totals) if len(totals) else 0,
        "tokens_exact": counter.exact,
        "encoding": counter.encoding,
        "token_limit": limit,
        "examples_over_limit": over,
        "images": checker.images,
        "kinds": {k: v for k, v in checker.kind_counts.items() if v},
        "formats": dict(formats),
    }
    if len(messages):
        report.stats["messages_per_example"] = _dist(messages)
    if not counter.exact:
        report.stats["note"] = (
            f"{model} is not an OpenAI model and its tokenizer was not found: counts use "
            f"{counter.encoding} and are an estimate"
        )
    n_epochs = default_n_epochs(n)
    billed = n_epochs * capped_sum if n else 0
    report.estimate = {
        "model": model,
        "n_epochs": n_epochs,
        "billed_tokens": billed,
        "token_limit": limit,
        "examples_over_limit": over,
        "price_per_million": price_per_million,
        "cost": round(billed / 1e6 * price_per_million, 4)
        if price_per_million is not None
        else None,
        "tokens_exact": counter.exact,
        "encoding": counter.encoding,
        # why a job's trained_tokens can differ: this is the service's count, not the trainer's
        "note": ESTIMATE_NOTE.format(encoding=counter.encoding),
    }
    report.findings = collector.items
    report.finding_counts = dict(collector.counts)
    return _Result(report, digests, lines, src.size)


#: what the billed-token estimate counts, and why ``fttui serve``'s trained_tokens differ
ESTIMATE_NOTE = (
    "counted as OpenAI bills, in {encoding} tokens; a local `fttui serve` job reports "
    "trained_tokens in its own base model's tokens, chat template included (about 4 "
    "characters a token on the sim executor), so its figure differs"
)


def _array_sum(values: array[int]) -> int:
    import numpy as np

    return int(np.frombuffer(values, dtype=np.uint32).sum(dtype=np.uint64))


def _finish(report: LintReport, max_findings: int | None, file: str | None = None) -> None:
    """Sort findings; keep ``max_findings`` (errors first); tag validation findings."""
    findings = report.findings
    if file is not None:
        findings = [dataclasses.replace(f, file=file) for f in findings]
    total = sum(report.finding_counts.values())
    if max_findings is not None and len(findings) > max_findings:
        ranked = sorted(
            findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), *finding_sort_key(f))
        )
        findings = ranked[: max(0, max_findings)]
    findings.sort(key=finding_sort_key)
    report.findings = findings
    report.findings_truncated = total - len(findings)


def lint_path(
    path: str | os.PathLike[str],
    *,
    model: str = DEFAULT_MODEL,
    validation: str | os.PathLike[str] | None = None,
    max_findings: int | None = None,
    price_per_million: float | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    method: str | None = None,
    grader: Any = None,
) -> LintReport:
    """Lint a training file (and optionally its validation file); see the module docstring.

    ``method="reinforcement"`` checks the RFT shape, and with ``grader`` (OpenAI's grader
    JSON, already parsed) that every ``{{item.…}}`` field it reads is in every example.

    Never raises on bad content: every problem is a finding. Raises
    :class:`fttui.datasets.read.DatasetReadError` (an ``OSError``) when a file cannot be read,
    and :class:`fttui.datasets.tokens.TokenizerUnavailable` when no tokenizer is available
    offline.
    """
    counter = get_counter(model)
    cap = PER_CODE_CAP if max_findings is None else max(0, max_findings)
    train_src = Source(path, progress=None, should_stop=should_stop)
    val_src = Source(validation, should_stop=should_stop) if validation is not None else None
    total = train_src.size + (val_src.size if val_src else 0)
    if progress is not None:
        train_src.progress = progress
        if val_src is not None:
            offset = train_src.size

            def val_progress(done: int, _total: int) -> None:
                progress(offset + done, total)

            def train_progress(done: int, _total: int) -> None:
                progress(done, total)

            train_src.progress = train_progress
            val_src.progress = val_progress
    kw: dict[str, Any] = dict(
        model=model,
        counter=counter,
        cap=cap,
        price_per_million=price_per_million,
        method=method,
        grader_fields=grader_item_fields(grader) if grader is not None else (),
    )
    train = _lint_one(path, progress=None, should_stop=should_stop, source=train_src, **kw)
    report = train.report
    if val_src is not None and validation is not None and not train_src.stopped:
        val = _lint_one(validation, progress=None, should_stop=should_stop, source=val_src, **kw)
        vreport = val.report
        if len(train.digests) and len(val.digests):
            import numpy as np

            td = np.frombuffer(train.digests, dtype=np.int64)
            order = np.argsort(td, kind="stable")
            sorted_td = td[order]
            vd = np.frombuffer(val.digests, dtype=np.int64)
            pos = np.searchsorted(sorted_td, vd)
            pos_c = np.minimum(pos, len(sorted_td) - 1)
            hits = np.nonzero(sorted_td[pos_c] == vd)[0]
            counts = vreport.finding_counts
            counts["validation_overlap"] = counts.get("validation_overlap", 0) + int(hits.size)
            for i in hits[:cap].tolist():
                tline = train.lines[int(order[pos_c[i]])]
                vline = val.lines[i]
                vreport.findings.append(
                    make_finding(
                        "validation_overlap",
                        vline,
                        f"line {vline} of the validation file is also line {tline} of the training file",
                    )
                )
        _finish(vreport, max_findings, file=str(validation))
        report.validation = vreport
        report.stopped = report.stopped or vreport.stopped
    elif val_src is not None:
        report.stopped = True
    _finish(report, max_findings)
    return report


__all__ = ["lint_path", "parse_line"]
