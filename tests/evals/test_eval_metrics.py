"""Metrics: hand-computed values, and the same figures as scikit-learn / numpy on random data."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fttui.evals.metrics import (
    bootstrap_ci,
    classification_metrics,
    item_score,
    percentile,
)


@pytest.mark.parametrize(
    ("metric", "output", "reference", "score"),
    [
        ("exact", " Paris\n", "Paris", 1.0),
        ("exact", "Paris, France", "Paris", 0.0),
        ("contains", "It is Paris, France", "Paris", 1.0),
        ("contains", "It is Rome", "Paris", 0.0),
        ("fuzzy", "abc", "abd", 1 - 2 / 6),
        ("rouge", "the cat sat down", "the cat sat", 2 * 0.75 / 1.75),
    ],
)
def test_item_metrics_give_hand_computed_scores(metric, output, reference, score):
    assert item_score(metric, output, reference) == pytest.approx(score)


def test_multiclass_metrics_are_accuracy_and_weighted_f1_by_hand():
    labels = ["a", "a", "b", "c"]
    preds = ["a", "b", "b", "c"]
    m = classification_metrics(labels, preds)
    assert m["accuracy"] == 0.75
    # F1: a = 2·1·0.5/1.5 = 2/3 (weight 2), b = 2·0.5·1/1.5 = 2/3 (weight 1), c = 1 (weight 1)
    assert m["weighted_f1"] == pytest.approx((2 * 2 / 3 + 2 / 3 + 1) / 4)


def test_binary_metrics_at_a_half_threshold_by_hand():
    labels = ["yes", "yes", "no", "no"]
    probs = [0.9, 0.4, 0.6, 0.1]  # predicted at 0.5: yes, no, yes, no
    m = classification_metrics(
        labels, ["yes", "no", "yes", "no"], positive_class="yes", positive_probs=probs
    )
    assert m["accuracy"] == 0.5
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == 0.5
    # Ranking pairs (pos, neg): (0.9>0.6) (0.9>0.1) (0.4<0.6) (0.4>0.1) → 3 of 4.
    assert m["auroc"] == 0.75
    # Precision at each positive as ranked: 0.9 → 1/1, 0.4 → 2/3; mean = 5/6.
    assert m["auprc"] == pytest.approx(5 / 6)


def test_auroc_is_none_when_the_labels_hold_one_class():
    m = classification_metrics(["yes", "yes"], ["yes", "no"], positive_class="yes")
    assert m["auroc"] is None and m["recall"] == 0.5


def test_classification_metrics_match_scikit_learn_on_random_data():
    from sklearn import metrics as skm

    rng = random.Random(13)
    for _ in range(20):
        n = rng.randint(5, 60)
        y = [rng.choice("ab") for _ in range(n)]
        probs = [rng.random() for _ in range(n)]
        pred = ["a" if p >= 0.5 else "b" for p in probs]
        m = classification_metrics(y, pred, positive_class="a", positive_probs=probs, beta=2)
        truth = [int(v == "a") for v in y]
        hard = [int(p >= 0.5) for p in probs]
        assert m["f2"] == pytest.approx(skm.fbeta_score(truth, hard, beta=2, zero_division=0))
        assert m["precision"] == pytest.approx(skm.precision_score(truth, hard, zero_division=0))
        if 0 < sum(truth) < n:
            assert m["auroc"] == pytest.approx(skm.roc_auc_score(truth, probs))
            assert m["auprc"] == pytest.approx(skm.average_precision_score(truth, probs))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_matches_numpy(values, q):
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-6)


def test_the_bootstrap_interval_holds_the_mean_and_narrows_with_more_items():
    rng = random.Random(1)
    small = [float(rng.random() < 0.7) for _ in range(30)]
    big = [float(rng.random() < 0.7) for _ in range(3000)]
    lo, hi = bootstrap_ci(small)
    assert lo <= sum(small) / len(small) <= hi
    blo, bhi = bootstrap_ci(big)
    assert blo <= sum(big) / len(big) <= bhi
    assert (bhi - blo) < (hi - lo) / 4
    assert bootstrap_ci(small) == (lo, hi)  # seeded: the same figures each run
    assert bootstrap_ci([]) is None
