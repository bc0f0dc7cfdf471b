"""Paired tests on out-of-fold predictions made here, where the answer is known."""

import numpy as np
import pytest

from msa import LABELS
from msa.evaluation import paired
from msa.evaluation.metrics import HEADLINE


def predictions(labels, predicted, folds=None, guids=None):
    n = len(labels)
    return paired.Predictions(tuple(guids or (f"{i:04d}" for i in range(n))), tuple(labels),
                              tuple(predicted), tuple(folds or [i % 5 for i in range(n)]))


def three_hundred(seed=0):
    rng = np.random.default_rng(seed)
    labels = [LABELS[i % 3] for i in range(300)]
    wrong = [LABELS[(LABELS.index(x) + 1) % 3] for x in labels]
    right = rng.permutation(300) < 200  # the base model is right on 200 pairs
    return labels, wrong, right


def test_identical_predictions_differ_by_nothing():
    labels, wrong, right = three_hundred()
    base = predictions(labels, [y if r else w for y, w, r in zip(labels, wrong, right)])
    d = paired.compare(base, base, resamples=2000)
    assert (d.intervals["accuracy"][0], d.only_base_right, d.only_other_right,
            d.mcnemar_p) == (0, 0, 0, 1.0)
    assert d.intervals["macro_f1"] == (0.0, 0.0, 0.0)
    assert d.intervals["weighted_f1"] == (0.0, 0.0, 0.0)
    assert set(d.intervals) == set(HEADLINE)  # every headline score, tested
    assert paired.holm([d.mcnemar_p]) == [1.0]


def test_thirty_more_right_of_three_hundred_is_beyond_noise():
    labels, wrong, right = three_hundred()
    more = right.copy()
    more[np.flatnonzero(~right)[:30]] = True
    base = predictions(labels, [y if r else w for y, w, r in zip(labels, wrong, right)])
    other = predictions(labels, [y if r else w for y, w, r in zip(labels, wrong, more)])
    d = paired.compare(base, other, resamples=2000)
    assert (d.only_base_right, d.only_other_right) == (0, 30)
    assert d.intervals["accuracy"][0] == pytest.approx(0.1)
    assert d.mcnemar_p < 0.001 and d.mcnemar_p == pytest.approx(2 * 0.5**30)
    for diff, low, high in d.intervals.values():
        assert 0 < low < diff < high
    # and the other way round, the same test
    back = paired.compare(other, base, resamples=2000)
    assert back.mcnemar_p == d.mcnemar_p and back.intervals["macro_f1"][2] < 0


def test_a_difference_within_noise_is_not_marked():
    labels, wrong, right = three_hundred()
    swapped = right.copy()
    swapped[np.flatnonzero(right)[:6]] = False  # six right pairs lost, five others won
    swapped[np.flatnonzero(~right)[:5]] = True
    base = predictions(labels, [y if r else w for y, w, r in zip(labels, wrong, right)])
    other = predictions(labels, [y if r else w for y, w, r in zip(labels, wrong, swapped)])
    d = paired.compare(base, other, resamples=2000)
    assert (d.only_base_right, d.only_other_right) == (6, 5) and d.mcnemar_p == 1.0
    low, high = d.intervals["macro_f1"][1:]
    assert low < 0 < high
    assert not paired.holm([d.mcnemar_p])[0] < paired.ALPHA  # not beyond noise


def test_predictions_of_other_pairs_or_folds_are_not_paired():
    labels = ["positive", "neutral", "negative"] * 4
    base = predictions(labels, labels)
    assert paired.unpaired_reason(base, base) is None
    other_pairs = predictions(labels, labels, guids=[f"x{i}" for i in range(12)])
    assert paired.unpaired_reason(base, other_pairs).startswith("other pairs (24 in one")
    other_folds = predictions(labels, labels, folds=[i % 3 for i in range(12)])
    assert "other folds" in paired.unpaired_reason(base, other_folds)
    relabelled = predictions(labels[::-1], labels)
    assert "other labels" in paired.unpaired_reason(base, relabelled)


def test_from_rows_reads_the_oof_rows_in_guid_order():
    rows = [{"guid": "b", "fold": "1", "label": "neutral", "predicted": "positive"},
            {"guid": "a", "fold": "0", "label": "negative", "predicted": "negative"}]
    p = paired.Predictions.from_rows(rows)
    assert p == paired.Predictions(("a", "b"), ("negative", "neutral"),
                                   ("negative", "positive"), (0, 1))


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert paired.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert paired.holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert paired.holm([0.9, 0.8]) == [1.0, 1.0]  # capped at 1


def test_interval_ends_are_stable_to_the_third_decimal():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 3000)
    a = np.where(rng.random(3000) < 0.7, y, rng.integers(0, 3, 3000))
    b = np.where(rng.random(3000) < 0.72, y, rng.integers(0, 3, 3000))
    ends = [paired.bootstrap(y, a, b, HEADLINE["macro_f1"].score, seed=s)[1:] for s in (0, 1)]
    assert np.abs(np.subtract(*ends)).max() < 0.001


def test_over_seeds_pairs_the_shared_seeds():
    assert paired.over_seeds({0: 0.70}, {0: 0.72}) is None
    n, mean, p = paired.over_seeds({0: 0.70, 1: 0.71, 2: 0.69, 3: 0.5},
                                   {0: 0.72, 1: 0.74, 2: 0.70})
    assert n == 3 and mean == pytest.approx(0.02)
    assert 0 < p < 0.2
    assert paired.over_seeds({0: 0.7, 1: 0.7}, {0: 0.7, 1: 0.7})[2] == 1.0
