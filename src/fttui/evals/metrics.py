"""Text similarity and classification metrics, from well-kept libraries.

rapidfuzz (fuzzy match), sacrebleu (BLEU), nltk (GLEU, METEOR), rouge-score (ROUGE-N/L) and
scikit-learn (classification) are the ``eval`` extra; each is imported where it is used so
that importing the graders costs nothing until a metric runs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from functools import cache
from typing import Any

TEXT_METRICS = (
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)


class MetricUnavailable(RuntimeError):
    """A metric whose library is not installed (``pip install 'fttui[eval]'``)."""


#: The module each metric imports (grader metrics and ``--metric`` names alike).
METRIC_MODULES = {
    "fuzzy_match": "rapidfuzz.fuzz",
    "fuzzy": "rapidfuzz.fuzz",
    "bleu": "sacrebleu",
    "gleu": "nltk.translate.gleu_score",
    "meteor": "nltk.translate.meteor_score",
    **{f"rouge_{n}": "rouge_score.rouge_scorer" for n in ("1", "2", "3", "4", "5", "l")},
    "rouge": "rouge_score.rouge_scorer",
    "classification": "sklearn.metrics",
}
#: The pip name of each library, where it is not its import name.
PIP_NAMES = {"rouge_score": "rouge-score", "sklearn": "scikit-learn"}
INSTALL = "pip install 'fttui[eval]'"


def _need(module: str, what: str = "this metric") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MetricUnavailable(
            f"{what} needs {PIP_NAMES.get(top, top)}, which is not installed: {INSTALL}"
        ) from None


def require(metric: str, what: str | None = None) -> None:
    """MetricUnavailable, naming ``what`` (the option or grader field that asks for the
    metric) and the extra to install, when ``metric``'s library cannot be imported: said
    before an evaluation starts, not on each answer after the calls were paid for."""
    module = METRIC_MODULES.get(metric)
    if module is not None:
        _need(module, what or f"the {metric} metric")


def fuzzy_match(output: str, reference: str) -> float:
    """rapidfuzz's normalised Indel similarity (``fuzz.ratio``), in [0, 1]."""
    fuzz = _need(METRIC_MODULES["fuzzy_match"])
    return float(fuzz.ratio(output, reference)) / 100.0


def bleu(output: str, reference: str) -> float:
    """sacrebleu's sentence BLEU (exponential smoothing, its default), in [0, 1] (its
    0–100 score can come out as 100.00000000000004 for a copy: clamped)."""
    sacrebleu = _need(METRIC_MODULES["bleu"])
    score = float(sacrebleu.sentence_bleu(output, [reference]).score) / 100.0
    return min(1.0, max(0.0, score))


def gleu(output: str, reference: str) -> float:
    """Google's sentence GLEU (nltk), on whitespace tokens."""
    gleu_score = _need(METRIC_MODULES["gleu"])
    return float(gleu_score.sentence_gleu([reference.split()], output.split()))


class _NoWordNet:
    """METEOR's synonym stage needs the WordNet corpus, a download nltk cannot make
    offline; with no synonyms METEOR still matches exact words and Porter stems."""

    @staticmethod
    def synsets(*_: Any, **__: Any) -> list[Any]:
        return []


def meteor(output: str, reference: str) -> float:
    """METEOR (nltk; exact and stem matches, no WordNet synonyms), in [0, 1]."""
    meteor_score = _need(METRIC_MODULES["meteor"])
    return float(
        meteor_score.meteor_score(
            [reference.lower().split()], output.lower().split(), wordnet=_NoWordNet()
        )
    )


@cache
def _rouge_scorer(kind: str) -> Any:
    rouge = _need(METRIC_MODULES["rouge"])
    return rouge.RougeScorer([kind], use_stemmer=False)


def rouge(output: str, reference: str, kind: str = "rougeL") -> float:
    """ROUGE F-measure (rouge-score): ``rouge1`` … ``rouge5`` or ``rougeL``."""
    return float(_rouge_scorer(kind).score(reference, output)[kind].fmeasure)


def text_similarity(metric: str, output: str, reference: str) -> float:
    if metric == "fuzzy_match":
        return fuzzy_match(output, reference)
    if metric == "bleu":
        return bleu(output, reference)
    if metric == "gleu":
        return gleu(output, reference)
    if metric == "meteor":
        return meteor(output, reference)
    if metric.startswith("rouge_"):
        return rouge(output, reference, "rouge" + metric.removeprefix("rouge_").upper())
    raise ValueError(f"unknown metric {metric!r}")


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


# -- the simple per-item metrics of ``fttui eval --metric`` -----------------------------
ITEM_METRICS = ("exact", "contains", "fuzzy", "bleu", "rouge", "classification")


def item_score(metric: str, output: str, reference: str) -> float:
    """One item's score for ``--metric``; exact/contains/classification are 0 or 1."""
    out, ref = output.strip(), reference.strip()
    if metric in ("exact", "classification"):
        return float(out == ref)
    if metric == "contains":
        return float(ref in out)
    if metric == "fuzzy":
        return fuzzy_match(out, ref)
    if metric == "bleu":
        return bleu(out, ref)
    if metric == "rouge":
        return rouge(out, ref, "rougeL")
    raise ValueError(f"unknown metric {metric!r} (use one of {', '.join(ITEM_METRICS)})")


# -- classification, as the legacy API's compute_classification_metrics ------------------
def classification_metrics(
    labels: Sequence[str],
    predictions: Sequence[str],
    *,
    positive_class: str | None = None,
    positive_probs: Sequence[float] | None = None,
    beta: float = 1.0,
) -> dict[str, float | None]:
    """Accuracy and weighted F1 for any number of classes; for a binary task (a
    ``positive_class``), at a 0.5 threshold on ``positive_probs`` (when given, else on the
    predicted label): precision, recall, F-beta, AUROC and AUPRC."""
    if not labels:
        return {"accuracy": None, "weighted_f1": None}
    metrics = _need(METRIC_MODULES["classification"])
    y, p = [s.strip() for s in labels], [s.strip() for s in predictions]
    out: dict[str, float | None] = {
        "accuracy": float(metrics.accuracy_score(y, p)),
        "weighted_f1": float(metrics.f1_score(y, p, average="weighted", zero_division=0)),
    }
    if positive_class is None:
        return out
    pos = positive_class.strip()
    truth = [int(v == pos) for v in y]
    if positive_probs is None:
        probs = [float(v == pos) for v in p]
    else:
        probs = [float(v) for v in positive_probs]
    hard = [int(v >= 0.5) for v in probs]
    out["accuracy"] = float(metrics.accuracy_score(truth, hard))
    out["precision"] = float(metrics.precision_score(truth, hard, zero_division=0))
    out["recall"] = float(metrics.recall_score(truth, hard, zero_division=0))
    out[f"f{beta:g}"] = float(metrics.fbeta_score(truth, hard, beta=beta, zero_division=0))
    both = 0 < sum(truth) < len(truth)  # AUROC needs both classes among the labels
    out["auroc"] = float(metrics.roc_auc_score(truth, probs)) if both else None
    out["auprc"] = float(metrics.average_precision_score(truth, probs)) if both else None
    return out


# -- summaries ----------------------------------------------------------------------------
def bootstrap_ci(
    scores: Sequence[float], *, confidence: float = 0.95, resamples: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """A percentile bootstrap interval of the mean (seeded: the same run, the same figures)."""
    n = len(scores)
    if n == 0:
        return None
    if n == 1:
        return (float(scores[0]), float(scores[0]))
    try:
        import numpy as np
    except ImportError:  # numpy comes with pandas; this is only a fallback
        rng = random.Random(seed)
        means = sorted(sum(rng.choices(scores, k=n)) / n for _ in range(resamples))
    else:
        arr = np.asarray(scores, dtype=float)
        gen = np.random.default_rng(seed)
        # Chunked so a 100k-item run stays in a few MB.
        chunk = max(1, 2_000_000 // n)
        parts = []
        for start in range(0, resamples, chunk):
            k = min(chunk, resamples - start)
            parts.append(arr[gen.integers(0, n, size=(k, n))].mean(axis=1))
        means = sorted(np.concatenate(parts).tolist())
    alpha = (1 - confidence) / 2
    lo = means[int(alpha * (len(means) - 1))]
    hi = means[math.ceil((1 - alpha) * (len(means) - 1))]
    return (float(lo), float(hi))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), ``q`` in [0, 100]."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))
