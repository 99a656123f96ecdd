"""Our metrics against the libraries they wrap, on seeded random data (200 cases each),
and hand-computed values where the library's own figure would prove nothing.

Ours *are* the library calls, so what these tests pin is the wiring: which text is the
hypothesis and which the reference (BLEU is not symmetric), the 0–1 scale (sacrebleu
scores 0–100), the tokenisation (rouge-score lowercases and drops punctuation; no
stemmer), the stripping of labels, the 0.5 threshold (inclusive) and the weighted average.
Each comparison also checks that the data tells the alternatives apart (a swapped BLEU, a
stemmed ROUGE, a macro F1 differ from ours on some case), so a change of wiring fails."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from fttui.evals import run
from fttui.evals.metrics import classification_metrics, item_score, text_similarity

CASES = 200
# inflected pairs (a stemmer would merge them), case and punctuation (rouge-score's
# tokenizer drops them), numbers; few enough words that n-grams overlap
VOCAB = re.findall(
    r"\S+",
    "the cat cats sat sitting run running runs on a mat Mat MAT "
    "dog dogs, barked. quickly quick 3 42 ok! yes? no",
)


def sentences(rng: random.Random, n: int = CASES) -> list[tuple[str, str]]:
    pairs = []
    for _ in range(n):
        out = " ".join(rng.choices(VOCAB, k=rng.randint(1, 14)))
        ref = " ".join(rng.choices(VOCAB, k=rng.randint(1, 14)))
        if rng.random() < 0.3:  # a near copy: high scores too, not only the low ones
            words = ref.split()
            words[rng.randrange(len(words))] = rng.choice(VOCAB)
            out = " ".join(words)
        pairs.append((out, ref))
    return pairs


def grader(metric: str) -> dict:
    return {
        "type": "text_similarity",
        "name": "sim",
        "evaluation_metric": metric,
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
    }


# -- BLEU ---------------------------------------------------------------------------------
def test_bleu_is_sacrebleus_sentence_bleu_of_the_output_against_the_reference_scaled_to_1():
    import sacrebleu

    swapped_differs = 0
    for out, ref in sentences(random.Random(1)):
        lib = sacrebleu.sentence_bleu(out, [ref]).score / 100
        ours = text_similarity("bleu", out, ref)
        assert ours == pytest.approx(lib, abs=1e-12)
        assert 0.0 <= ours <= 1.0  # sacrebleu's 100.00000000000004 is a 1, not more
        assert run(grader("bleu"), {"reference": ref}, out).reward == pytest.approx(lib)
        assert item_score("bleu", f"  {out}\n", f"{ref} ") == pytest.approx(lib)  # stripped
        swapped_differs += abs(sacrebleu.sentence_bleu(ref, [out]).score / 100 - lib) > 1e-6
    assert swapped_differs > CASES // 4  # the data catches a hypothesis/reference swap


# -- ROUGE --------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    """rouge-score's tokenizer without a stemmer: lowercase, runs of [a-z0-9]."""
    return re.findall(r"[a-z0-9]+", text.lower())


def _f(overlap: int, n_out: int, n_ref: int) -> float:
    if not overlap:
        return 0.0
    p, r = overlap / n_out, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_n(out: str, ref: str, n: int) -> float:
    def grams(words: list[str]) -> Counter:
        return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))

    a, b = grams(_tokens(out)), grams(_tokens(ref))
    return _f(sum((a & b).values()), sum(a.values()), sum(b.values()))


def rouge_l(out: str, ref: str) -> float:
    a, b = _tokens(out), _tokens(ref)
    lcs = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            lcs[i + 1][j + 1] = lcs[i][j] + 1 if x == y else max(lcs[i][j + 1], lcs[i + 1][j])
    return _f(lcs[-1][-1], len(a), len(b))


@pytest.mark.parametrize(
    ("metric", "kind", "n"),
    [("rouge_1", "rouge1", 1), ("rouge_2", "rouge2", 2), ("rouge_l", "rougeL", None)],
)
def test_rouge_is_rouge_scores_f_measure_unstemmed_on_its_own_tokens(metric, kind, n):
    from rouge_score import rouge_scorer

    plain = rouge_scorer.RougeScorer([kind], use_stemmer=False)
    stemmed = rouge_scorer.RougeScorer([kind], use_stemmer=True)
    stem_differs = 0
    for out, ref in sentences(random.Random(2)):
        ours = text_similarity(metric, out, ref)
        lib = plain.score(ref, out)[kind].fmeasure
        assert ours == pytest.approx(lib, abs=1e-12)
        # and the same as counted here, from the definition: F of the n-gram (LCS) overlap
        assert ours == pytest.approx(rouge_l(out, ref) if n is None else rouge_n(out, ref, n))
        assert run(grader(metric), {"reference": ref}, out).reward == pytest.approx(lib)
        stem_differs += abs(stemmed.score(ref, out)[kind].fmeasure - lib) > 1e-9
    assert stem_differs > 0  # a stemmer would show


def test_the_rouge_metric_is_rouge_l_of_the_stripped_texts():
    for out, ref in sentences(random.Random(3), 50):
        assert item_score("rouge", f" {out} ", f"\n{ref}") == pytest.approx(rouge_l(out, ref))


@pytest.mark.parametrize(
    ("metric", "output", "reference", "expected"),
    [
        # trigrams: the-cat-sat, cat-sat-on shared of 4 each side: P = R = 1/2
        ("rouge_3", "the cat sat on the mat", "the cat sat on a mat", 0.5),
        # case and punctuation are not words: one trigram each side, the same
        ("rouge_3", "The CAT, sat!", "the cat sat", 1.0),
        # 4-grams: the-cat-sat-on shared of 3 each side
        ("rouge_4", "the cat sat on the mat", "the cat sat on a mat", 1 / 3),
        ("rouge_4", "a b c", "a b c", 0.0),  # shorter than a 4-gram: nothing to share
        # 5-grams: a-b-c-d-e shared; P = 1/2, R = 1/3 → F = 2·(1/6)/(5/6)
        ("rouge_5", "a b c d e f", "a b c d e g h", 0.4),
        ("rouge_5", "the cat sat on the mat", "the cat sat on a mat", 0.0),
        # GLEU: n-grams 1–4 matched: 5 + 3 + 2 + 1 = 11 of 18 on either side
        ("gleu", "the cat sat on a mat", "the cat sat on the mat", 11 / 18),
        # 3 matches (a, b, a-b) of the output's 3 n-grams and the reference's 10: min
        ("gleu", "a b", "a b c d", 0.3),
        ("gleu", "x y", "a b c d", 0.0),
    ],
)
def test_rouge_3_to_5_and_gleu_give_hand_computed_values(metric, output, reference, expected):
    assert text_similarity(metric, output, reference) == pytest.approx(expected)
    assert run(grader(metric), {"reference": reference}, output).reward == pytest.approx(expected)


def test_fuzzy_match_is_the_normalised_indel_similarity():
    rng = random.Random(4)
    for out, ref in sentences(rng):
        lcs = _lcs_chars(out, ref)
        assert text_similarity("fuzzy_match", out, ref) == pytest.approx(
            2 * lcs / (len(out) + len(ref))
        )


def _lcs_chars(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


# -- classification ------------------------------------------------------------------------
def test_multiclass_accuracy_and_weighted_f1_match_scikit_learn_on_random_labels():
    from sklearn import metrics as skm

    rng = random.Random(5)
    macro_differs = 0
    for _ in range(CASES):
        classes = rng.sample(["cat", "dog", "bird", "fish", "ant"], rng.randint(2, 5))
        weights = [rng.random() + 0.05 for _ in classes]  # unbalanced: weighting matters
        n = rng.randint(3, 80)
        y = rng.choices(classes, weights, k=n)
        pred = [v if rng.random() < 0.6 else rng.choice([*classes, "other"]) for v in y]
        # the labels and answers as a model writes them: padded, the comparison is not
        m = classification_metrics([f" {v}\n" for v in y], [f"{v} " for v in pred])
        assert set(m) == {"accuracy", "weighted_f1"}
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        weighted = skm.f1_score(y, pred, average="weighted", zero_division=0)
        assert m["weighted_f1"] == pytest.approx(weighted)
        macro = skm.f1_score(y, pred, average="macro", zero_division=0)
        macro_differs += abs(macro - weighted) > 1e-9
    assert macro_differs > CASES // 2


def test_binary_metrics_at_a_half_threshold_match_scikit_learn_on_random_data():
    from sklearn import metrics as skm

    rng = random.Random(6)
    at_half = 0
    for _ in range(CASES):
        n = rng.randint(2, 60)
        y = rng.choices(["yes", "no", "maybe"], [3, 2, 1], k=n)  # not "yes" is negative
        # probabilities on a coarse grid: some are exactly 0.5 (a positive: >= 0.5)
        probs = [rng.randint(0, 10) / 10 for _ in range(n)]
        at_half += probs.count(0.5)
        pred = ["yes" if p >= 0.5 else "no" for p in probs]
        beta = rng.choice([0.5, 1.0, 2.0])
        m = classification_metrics(y, pred, positive_class=" yes ", positive_probs=probs, beta=beta)
        truth = [int(v == "yes") for v in y]
        hard = [int(p >= 0.5) for p in probs]
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(truth, hard))
        assert m["precision"] == pytest.approx(skm.precision_score(truth, hard, zero_division=0))
        assert m["recall"] == pytest.approx(skm.recall_score(truth, hard, zero_division=0))
        assert m[f"f{beta:g}"] == pytest.approx(
            skm.fbeta_score(truth, hard, beta=beta, zero_division=0)
        )
        # weighted F1 over the labels as written (yes / no / maybe), as the multiclass case
        assert m["weighted_f1"] == pytest.approx(
            skm.f1_score(y, pred, average="weighted", zero_division=0)
        )
        if 0 < sum(truth) < n:
            assert m["auroc"] == pytest.approx(skm.roc_auc_score(truth, probs))
            assert m["auprc"] == pytest.approx(skm.average_precision_score(truth, probs))
        else:  # one class only: no ranking to score
            assert m["auroc"] is None and m["auprc"] is None
    assert at_half > 50  # the inclusive threshold was exercised


def test_binary_metrics_from_the_label_text_score_the_hard_predictions():
    from sklearn import metrics as skm

    rng = random.Random(7)
    for _ in range(CASES // 4):  # scikit-learn's checks take ~10 ms a call: 50 are plenty
        n = rng.randint(2, 40)
        y = rng.choices(["spam", "ham"], k=n)
        pred = rng.choices(["spam", "ham", "Spam", ""], [4, 4, 1, 1], k=n)  # as answered
        m = classification_metrics(y, pred, positive_class="spam")
        truth = [int(v == "spam") for v in y]
        hard = [int(v == "spam") for v in pred]  # exact label text: "Spam" is not "spam"
        assert m["precision"] == pytest.approx(skm.precision_score(truth, hard, zero_division=0))
        assert m["recall"] == pytest.approx(skm.recall_score(truth, hard, zero_division=0))
        assert m["f1"] == pytest.approx(skm.f1_score(truth, hard, zero_division=0))
        if 0 < sum(truth) < n:
            assert m["auroc"] == pytest.approx(skm.roc_auc_score(truth, hard))
