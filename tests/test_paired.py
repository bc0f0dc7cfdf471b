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
    n, interval = paired.over_seeds({0: 0.70, 1: 0.71, 2: 0.69, 3: 0.5},
                                    {0: 0.72, 1: 0.74, 2: 0.70})
    assert n == 3 and interval.difference == pytest.approx(0.02)
    # differences 0.02, 0.03, 0.01: mean 0.02, sd 0.01, t(2) at 97.5% = 4.303
    half = 4.302653 * 0.01 / np.sqrt(3)
    assert (interval.low, interval.high) == pytest.approx((0.02 - half, 0.02 + half), abs=1e-6)
    assert interval.holds_zero  # 3 seeds this close: within seed noise
    same = paired.over_seeds({0: 0.7, 1: 0.7}, {0: 0.7, 1: 0.7})[1]
    assert (same.difference, same.low, same.high) == (0, 0, 0) and same.holds_zero
    # moved from test_differences: two seeds shared of three and two; a lone seed 7 pairs none
    n, interval = paired.over_seeds({0: 0.70, 1: 0.71, 2: 0.69}, {0: 0.72, 1: 0.74})
    assert n == 2 and interval.difference == pytest.approx(0.025) and interval.holds_zero
    assert paired.over_seeds({0: 0.70, 1: 0.71, 2: 0.69}, {7: 0.8}) is None


def test_a_setting_better_at_every_seed_and_on_the_posts_is_beyond_seed_noise():
    n, seeds = paired.over_seeds({0: 0.70, 1: 0.71, 2: 0.69}, {0: 0.75, 1: 0.77, 2: 0.74})
    assert seeds.low > 0
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    base = [np.where(rng.random(600) < 0.6, y, (y + 1) % 3) for _ in range(3)]
    other = [np.where(rng.random(600) < 0.8, y, (y + 1) % 3) for _ in range(3)]
    posts = paired.over_posts(y, base, other, HEADLINE["accuracy"].score, resamples=2000)
    expected = np.mean([np.mean(o == y) for o in other]) - np.mean([np.mean(b == y) for b in base])
    assert posts.difference == pytest.approx(expected) and posts.low > 0
    assert paired.verdict(seeds, posts) == paired.Verdict(
        True, "beyond seed noise: both intervals exclude 0")
    # the same runs on both sides: nothing between them
    same = paired.over_posts(y, base, base, HEADLINE["macro_f1"].score, resamples=500)
    assert (same.difference, same.low, same.high) == (0, 0, 0)
    assert paired.verdict(paired.over_seeds({0: 0.7, 1: 0.7}, {0: 0.7, 1: 0.7})[1], same) \
        == paired.Verdict(False, "no difference: the same scores at every seed")
    # the same fold means at every seed, other predictions: the posts say whether it holds
    assert paired.verdict(paired.Interval(0, 0, 0), paired.Interval(0.0, -0.01, 0.01)) \
        == paired.Verdict(False, "within seed noise: the interval over seeds holds 0")


def test_a_verdict_says_which_test_decided():
    up, down = paired.Interval(0.02, 0.01, 0.03), paired.Interval(-0.02, -0.03, -0.01)
    across = paired.Interval(0.01, -0.01, 0.03)
    assert paired.verdict(None, up).beyond_noise is None
    assert paired.verdict(None, up).reading.startswith("spread unknown: fewer than two seeds in common")
    assert paired.verdict(across, up).reading == ("within seed noise: the interval over seeds "
                                                  "holds 0")
    assert paired.verdict(up, across).reading == ("within noise: the post-by-post interval "
                                                  "holds 0")
    assert paired.verdict(up, down).beyond_noise is False
    assert paired.verdict(down, down).beyond_noise is True
