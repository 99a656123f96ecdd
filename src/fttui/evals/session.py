"""Run an evaluation: every item × model, scored, summarised, and saved as it goes.

The model call is a parameter (``call(model, item) -> answer``) so this engine stays
free of any client: the CLI passes one over the SDK, the app the same from a worker.
Results are appended to a JSONL file one line per item × model the moment each is
scored, so an interrupted run loses nothing it finished, and ``resume`` skips what the
file already holds and retries what failed there (the failed line is replaced, not kept
beside the new one) — nothing is asked twice. Each line carries the fingerprint of the
setup that made it (models, grader or metric, pass mark, positive class and the caller's
options: stop, max tokens): a resume with another setup is refused, never mixed in.
Memory stays flat on a big file: items are streamed and at most ``2 × concurrency`` are
in flight; per model only its scores and latencies are kept (8 bytes each).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import queue
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fttui.evals import graders
from fttui.evals.items import Item
from fttui.evals.metrics import (
    ITEM_METRICS,
    bootstrap_ci,
    classification_metrics,
    item_score,
    percentile,
    require,
)

#: Metrics and grader types whose score is 0 or 1: a pass is a 1.
BINARY = {"exact", "contains", "classification", "string_check", "label_model"}
KEEP_LISTED = 50  # disagreements, items without a reference and errors listed in full
#: Where there is no pass mark (a continuous score), models disagree on an item when their
#: scores are this far apart, as a share of the score's range (1 unless a score_model
#: grader gives its own).
DISAGREE_SPREAD = 0.2


class ResumeMismatch(ValueError):
    """``resume`` of a results file that another setup made (other models, grader,
    metric or options): continuing it would mix two evaluations in one file."""


class Answer(Protocol):
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency: float
    attempts: int
    first_token: dict[str, float] | None


Call = Callable[[str, Item], Answer]


class Scorer:
    """``--metric`` or ``--grader``: one item's score and whether it passed."""

    def __init__(
        self,
        *,
        metric: str | None = None,
        grader: Mapping[str, Any] | None = None,
        runner: graders.Runner | None = None,
        pass_threshold: float | None = None,
    ) -> None:
        if grader is not None:
            graders.check(grader)
            if graders.has_python(grader) and not (runner and runner.allow_python):
                raise graders.PythonRefused(
                    "the grader runs python code on this machine: allow it with --allow-python"
                )
            # a metric whose library is missing: said now, before any model is asked
            graders.require_libraries(grader)
            kind = str(grader["type"])
            self.name = f"grader {grader.get('name') or kind} ({kind})"
            if pass_threshold is None and "pass_threshold" in grader:
                pass_threshold = float(grader["pass_threshold"])
        else:
            metric = metric or "exact"
            if metric not in ITEM_METRICS:
                raise ValueError(f"unknown metric {metric!r} (use {', '.join(ITEM_METRICS)})")
            require(metric)
            kind = metric
            self.name = f"metric {metric}"
        self.metric, self.grader, self.runner = metric, grader, runner
        self.kind = kind
        self.threshold = 1.0 if pass_threshold is None and kind in BINARY else pass_threshold
        #: the score's range, the yardstick of a disagreement without a pass mark
        self.scale = 1.0
        rng = grader.get("range") if grader is not None and kind == "score_model" else None
        if isinstance(rng, list) and len(rng) == 2:
            self.scale = float(rng[1]) - float(rng[0])

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What decides the scores and the verdicts: part of a results file's setup."""
        how: dict[str, Any] = {"grader": self.grader} if self.grader else {"metric": self.metric}
        return how | {"pass_threshold": self.threshold}

    def score(self, item: Item, text: str) -> tuple[float, str | None]:
        """(score, a grading problem or None)."""
        if self.grader is None:
            return item_score(self.metric or "exact", text, item.reference or ""), None
        res = graders.run(self.grader, item.namespace(), text, self.runner)
        problem = None
        if res.failed:
            flags = [k for k in graders.ERROR_FLAGS if res.errors.get(k)]
            problem = f"{', '.join(flags)}: {res.message or ''}".rstrip(": ")
        return float(res.reward), problem

    def passed(self, score: float) -> bool | None:
        return None if self.threshold is None else score >= self.threshold


def positive_probability(first_token: Mapping[str, float] | None, positive: str) -> float | None:
    """P(the answer starts the positive class) from the first token's top alternatives:
    the legacy API's classification metrics used the first token's logprobs this way."""
    if not first_token:
        return None
    pos = positive.strip().lower()
    total = sum(
        p for tok, p in first_token.items() if tok.strip() and pos.startswith(tok.strip().lower())
    )
    return min(1.0, total)


def disagreement(
    answers: Iterable[Mapping[str, Any]], *, scale: float = 1.0, spread: float = DISAGREE_SPREAD
) -> float | None:
    """How far apart the models' answers to one item are, or None where they agree.

    With a pass mark the verdicts decide (a pass beside a fail); the spread returned is
    then their scores' max − min, to rank the disagreements by. Without one (a continuous
    score: fuzzy, bleu, rouge, a score model) the scores do: a spread of at least
    ``spread`` × ``scale`` (the score's range) is a disagreement. Failed answers (no
    score) take no part."""
    scored = [a for a in answers if a.get("score") is not None]
    if len(scored) < 2:
        return None
    values = [float(a["score"]) for a in scored]
    gap = max(values) - min(values)
    verdicts = {a["passed"] for a in scored if a.get("passed") is not None}
    if verdicts:
        return gap if len(verdicts) > 1 else None
    return gap if gap > 0 and gap >= spread * scale - 1e-12 else None


def data_digest(path: Path) -> str:
    """A digest of the data file's bytes, for the setup: results of another file, or of this
    one since edited, are not continued as if they were this run's."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def setup_fingerprint(setup: Mapping[str, Any]) -> str:
    """The short digest each results line carries of the setup that made it."""
    key = json.dumps(setup, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class ModelStats:
    model: str
    scores: array = field(default_factory=lambda: array("d"))
    latencies: array = field(default_factory=lambda: array("d"))
    passes: int = 0
    judged: int = 0  # items with a pass/fail
    errors: int = 0
    grading_problems: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unmetered: int = 0  # answers whose usage the provider did not report
    labels: list[str] | None = None
    predictions: list[str] | None = None
    probs: list[float] | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        if row.get("error"):
            self.errors += 1
            return
        self.scores.append(float(row["score"]))
        self.latencies.append(float(row.get("latency") or 0.0))
        if row.get("passed") is not None:
            self.judged += 1
            self.passes += bool(row["passed"])
        if row.get("grading_problem"):
            self.grading_problems += 1
        if row.get("prompt_tokens") is None or row.get("completion_tokens") is None:
            self.unmetered += 1
        self.prompt_tokens += int(row.get("prompt_tokens") or 0)
        self.completion_tokens += int(row.get("completion_tokens") or 0)
        if self.labels is not None:
            self.labels.append(str(row.get("reference") or ""))
            self.predictions.append(str(row.get("output") or ""))  # type: ignore[union-attr]
            p = row.get("p_positive")
            self.probs.append(float(p) if p is not None else float("nan"))  # type: ignore[union-attr]

    def summary(self, positive_class: str | None) -> dict[str, Any]:
        n = len(self.scores)
        ci = bootstrap_ci(self.scores)
        lat = list(self.latencies)
        out: dict[str, Any] = {
            "model": self.model,
            "n": n,
            "errors": self.errors,
            "grading_problems": self.grading_problems,
            "mean": (sum(self.scores) / n) if n else None,
            "ci95": list(ci) if ci else None,
            "pass_rate": (self.passes / self.judged) if self.judged else None,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "unmetered": self.unmetered,
            "latency_p50_ms": _ms(percentile(lat, 50)),
            "latency_p95_ms": _ms(percentile(lat, 95)),
        }
        if self.labels is not None:
            probs = self.probs or []
            use_probs = positive_class is not None and probs and all(p == p for p in probs)
            out["classification"] = classification_metrics(
                self.labels,
                self.predictions or [],
                positive_class=positive_class,
                positive_probs=probs if use_probs else None,
            )
            out["classification"]["from"] = "first-token logprobs" if use_probs else "label text"
        return out


def cost_of(summary: Mapping[str, Any], price: tuple[float, float] | None) -> float | None:
    """What a model's answers cost, from its tokens and ``price`` ($ per 1M input tokens,
    $ per 1M output tokens); None when the price is unknown or some answer's usage was not
    reported — an undercount would read as a real figure."""
    if price is None or summary.get("unmetered"):
        return None
    return (summary["prompt_tokens"] * price[0] + summary["completion_tokens"] * price[1]) / 1e6


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Report:
    file: str
    scorer: str
    models: list[dict[str, Any]]
    items: int
    disagreements: list[dict[str, Any]]
    disagreement_count: int
    no_reference: list[dict[str, Any]]
    no_reference_count: int
    errors: list[dict[str, Any]]
    resumed: int
    interrupted: bool = False
    results: str | None = None
    #: answers scored but not graded (a judge or the embeddings failed), the first few
    grading_problems: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "scorer": self.scorer,
            "items": self.items,
            "models": self.models,
            "disagreements": {"count": self.disagreement_count, "items": self.disagreements},
            "no_reference": {"count": self.no_reference_count, "items": self.no_reference},
            "errors": self.errors,
            "grading_problems": self.grading_problems,
            "resumed": self.resumed,
            "interrupted": self.interrupted,
            "results": self.results,
        }


def read_results(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of a results file; a last line cut short by a kill is dropped (and cut
    from the file, so the lines appended next start on a line of their own)."""
    if not path.exists():
        return
    with path.open("rb+") as fh:
        data = fh.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            fh.truncate(end)
    for raw in data[:end].splitlines():
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if isinstance(row, dict) and "item" in row and "model" in row:
            yield row


class Evaluation:
    def __init__(
        self,
        items: Iterable[Item],
        models: Sequence[str],
        call: Call,
        scorer: Scorer,
        *,
        file: str = "",
        concurrency: int = 4,
        results_path: Path | None = None,
        resume: bool = False,
        positive_class: str | None = None,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        setup: Mapping[str, Any] | None = None,
        disagree_spread: float = DISAGREE_SPREAD,
    ) -> None:
        """``setup``: what else decides the answers (the stop, max tokens, the endpoint),
        kept in each results line's fingerprint with the models and the scorer."""
        self.items, self.models, self.call, self.scorer = items, list(models), call, scorer
        self.file, self.concurrency = file, max(1, concurrency)
        self.results_path, self.resume = results_path, resume
        self.positive_class = positive_class
        self.should_stop = should_stop or (lambda: False)
        self.progress = progress
        self.disagree_spread = disagree_spread
        classify = scorer.kind == "classification" or positive_class is not None
        if classify:  # the scoreboard's metrics: a missing library is said before the run
            require("classification", "the classification scoreboard")
        self.setup = setup_fingerprint(
            {
                "models": sorted(set(self.models)),
                "scorer": scorer.fingerprint,
                "positive_class": positive_class,
                **(setup or {}),
            }
        )
        self.stats = {
            m: (ModelStats(m, labels=[], predictions=[], probs=[]) if classify else ModelStats(m))
            for m in self.models
        }
        self._lock = threading.Lock()
        self.done_count = 0

    # -- one task ---------------------------------------------------------------------
    def _one(self, item: Item, model: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "item": item.index,
            "line": item.line,
            "model": model,
            "reference": item.reference,
            "setup": self.setup,
        }
        try:
            ans = self.call(model, item)
        except Exception as exc:  # the provider failed after its retries: this item only
            row.update(output=None, score=None, passed=None, error=str(exc) or type(exc).__name__)
            return row
        score, problem = self.scorer.score(item, ans.text)
        row.update(
            output=ans.text,
            score=score,
            passed=self.scorer.passed(score),
            error=None,
            prompt_tokens=ans.prompt_tokens,
            completion_tokens=ans.completion_tokens,
            latency=round(ans.latency, 4),
            attempts=ans.attempts,
        )
        if problem:
            row["grading_problem"] = problem
        if self.positive_class is not None:
            row["p_positive"] = positive_probability(ans.first_token, self.positive_class)
            if row["p_positive"] is None:
                row["p_positive"] = float(ans.text.strip() == self.positive_class.strip())
        return row

    # -- resume -------------------------------------------------------------------------
    def _prior(self) -> dict[tuple[int, str], dict[str, Any]]:
        """The results file's finished answers, by (item, model). A line another setup
        made is ResumeMismatch; failed lines (and any repeat of a line) are cut from the
        file — rewritten whole, then renamed over it — so a retried answer replaces its
        failure instead of sitting beside it."""
        path = self.results_path
        prior: dict[tuple[int, str], dict[str, Any]] = {}
        if path is None or not self.resume:
            return prior
        dropped = 0
        for row in read_results(path):
            made_by = row.get("setup")
            # a line from before fingerprints: at least its model must be one of ours
            if (made_by is not None and made_by != self.setup) or row["model"] not in self.stats:
                raise ResumeMismatch(self._mismatch(path))
            key = (int(row["item"]), str(row["model"]))
            if row.get("error") or key in prior:
                dropped += 1
                continue
            prior[key] = row
        if dropped:
            tmp = path.with_name(f".{path.name}.resume")
            with tmp.open("w", encoding="utf-8") as fh:
                for row in prior.values():
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            tmp.replace(path)
        return prior

    def _mismatch(self, path: Path) -> str:
        theirs = sorted({str(r["model"]) for r in read_results(path)} - set(self.stats))
        extra = (
            f": it holds answers of {', '.join(theirs)}, which this run does not ask"
            if theirs
            else ""
        )
        return (
            f"cannot resume {path}: its results were made with another setup (models, "
            f"grader or metric, pass threshold, positive class, stop, max tokens or the data "
            f"file){extra}; resume with the file and options that made it, or write to another file"
        )

    # -- the run ----------------------------------------------------------------------
    def run(self) -> Report:
        prior = self._prior()  # before anything is asked: a mismatch is refused here
        resumed = 0
        out = self.results_path.open("a", encoding="utf-8") if self.results_path else None
        no_ref: list[dict[str, Any]] = []
        no_ref_count = 0
        errors: list[dict[str, Any]] = []
        problems: list[dict[str, Any]] = []
        # the KEEP_LISTED widest disagreements: a heap of (spread, -item, entry)
        disagreements: list[tuple[float, int, dict[str, Any]]] = []
        disagree_count = 0
        waiting: dict[int, dict[str, Any]] = {}
        items_seen = 0
        interrupted = False

        def finish_item(index: int) -> None:
            nonlocal disagree_count
            entry = waiting.pop(index)
            rows = entry["rows"]
            spread = disagreement(
                rows.values(), scale=self.scorer.scale, spread=self.disagree_spread
            )
            if spread is None:
                return
            disagree_count += 1
            key = (spread, -index)
            if len(disagreements) >= KEEP_LISTED and key <= disagreements[0][:2]:
                return
            item = entry["item"]
            listed = {
                "item": item.index,
                "line": item.line,
                "reference": item.reference,
                "spread": round(spread, 6),
                "answers": {
                    m: {
                        "output": (r.get("output") or "")[:300],
                        "score": r.get("score"),
                        "passed": r.get("passed"),
                    }
                    for m, r in rows.items()
                },
            }
            if len(disagreements) < KEEP_LISTED:
                heapq.heappush(disagreements, (*key, listed))
            else:
                heapq.heapreplace(disagreements, (*key, listed))

        def record(item: Item, row: dict[str, Any], *, fresh: bool) -> None:
            nonlocal resumed
            self.stats[row["model"]].add(row)
            resumed += not fresh
            if row.get("grading_problem") and len(problems) < KEEP_LISTED:
                problems.append(
                    {
                        "item": item.index,
                        "line": item.line,
                        "model": row["model"],
                        "problem": row["grading_problem"],
                    }
                )
            if fresh:
                if out is not None:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    out.flush()
                if row.get("error") and len(errors) < KEEP_LISTED:
                    errors.append(
                        {
                            "item": item.index,
                            "line": item.line,
                            "model": row["model"],
                            "error": row["error"],
                        }
                    )
            entry = waiting[item.index]
            entry["rows"][row["model"]] = row
            entry["left"] -= 1
            self.done_count += 1
            if self.progress is not None:
                self.progress(self.done_count, None)
            if entry["left"] == 0:
                finish_item(item.index)

        def tasks() -> Iterator[tuple[Item, str]]:
            nonlocal items_seen, no_ref_count
            by_grader = self.scorer.grader is not None
            for item in self.items:
                items_seen += 1
                if not item.gradable(by_grader=by_grader):
                    no_ref_count += 1
                    if len(no_ref) < KEEP_LISTED:
                        no_ref.append(
                            {"item": item.index, "line": item.line, "problem": item.problem}
                        )
                    continue
                waiting[item.index] = {"item": item, "rows": {}, "left": len(self.models)}
                for model in self.models:
                    row = prior.pop((item.index, model), None)
                    if row is not None:
                        record(item, row, fresh=False)
                    else:
                        yield item, model

        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="fttui-eval")
        # Finished futures are handed over through a queue: one wake-up per answer, where
        # wait() would hook every pending future again for each one.
        finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
        pending: dict[Future, Item] = {}
        source = tasks()
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < 2 * self.concurrency:
                    if self.should_stop():
                        interrupted = exhausted = True
                        break
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                        break
                    item, model = nxt
                    fut = pool.submit(self._one, item, model)
                    pending[fut] = item
                    fut.add_done_callback(finished.put)
                if not pending:
                    break
                try:
                    done: Future | None = finished.get(timeout=0.2)  # wakes for should_stop()
                except queue.Empty:
                    done = None
                if done is not None:
                    record(pending.pop(done), done.result(), fresh=True)
                if self.should_stop() and not exhausted:
                    interrupted = exhausted = True
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            if out is not None:
                out.close()
            raise
        pool.shutdown(wait=True)
        if out is not None:
            out.close()
        return Report(
            file=self.file,
            scorer=self.scorer.name,
            models=[self.stats[m].summary(self.positive_class) for m in self.models],
            items=items_seen,
            # the widest first (a pass beside a fail: the scores' spread), then by item
            disagreements=[d for *_, d in sorted(disagreements, key=lambda t: (-t[0], -t[1]))],
            disagreement_count=disagree_count,
            no_reference=no_ref,
            no_reference_count=no_ref_count,
            errors=sorted(errors, key=lambda e: (e["item"], e["model"])),
            resumed=resumed,
            interrupted=interrupted,
            grading_problems=sorted(problems, key=lambda e: (e["item"], e["model"])),
            results=os.fspath(self.results_path) if self.results_path else None,
        )
