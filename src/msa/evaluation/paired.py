"""Whether two experiments, or two settings run over training seeds, differ beyond noise on the
same labelled pairs: McNemar's exact test on two runs' out-of-fold predictions for accuracy; a
paired bootstrap interval over posts for the difference of every headline score
(msa.evaluation.metrics.HEADLINE), of one run each or averaged over each side's seeds; a t
interval over the seeds both sides ran; Holm's correction for the runs one report tests; and the
verdict the two intervals give together. SciPy does the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from msa.evaluation.metrics import HEADLINE, indices

ALPHA = 0.05
RESAMPLES = 10_000  # the 95% interval's ends move by under 0.001 between seeds (tests)
SEED = 0


@dataclass(frozen=True)
class Predictions:
    """One experiment's out-of-fold predictions: every labelled pair once."""

    guids: tuple[str, ...]
    labels: tuple[str, ...]
    predicted: tuple[str, ...]
    folds: tuple[int, ...]

    @classmethod
    def from_rows(cls, rows: list[dict]) -> Predictions:
        """From data/oof.csv's rows (msa.evaluation.records), in guid order."""
        rows = sorted(rows, key=lambda r: r["guid"])
        return cls(tuple(r["guid"] for r in rows), tuple(r["label"] for r in rows),
                   tuple(r["predicted"] for r in rows), tuple(int(r["fold"]) for r in rows))


def unpaired_reason(base: Predictions, other: Predictions) -> str | None:
    """Why two experiments' predictions are not of the same pairs in the same folds, or None."""
    if base.guids != other.guids:
        only = len(set(base.guids) ^ set(other.guids))
        return f"other pairs ({only} in one and not the other; another data root or data)"
    if base.labels != other.labels:
        return "the same pairs with other labels (another data version)"
    if base.folds != other.folds:
        return "the same pairs in other folds (fold.n_splits, fold.seed or fold.group differ)"
    return None


@dataclass(frozen=True)
class Difference:
    """`other` minus `base` on the same pairs."""

    only_base_right: int  # McNemar's discordant counts
    only_other_right: int
    mcnemar_p: float
    intervals: dict[str, tuple[float, float, float]]  # headline: difference, 95% low, high


def mcnemar(right_base: np.ndarray, right_other: np.ndarray) -> tuple[int, int, float]:
    """(pairs only base gets right, only other gets right, McNemar's exact two-sided p)."""
    b = int(np.sum(right_base & ~right_other))
    c = int(np.sum(~right_base & right_other))
    p = stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    return b, c, float(p)


@dataclass(frozen=True)
class Interval:
    """A difference (other minus base) and its 95% interval."""

    difference: float
    low: float
    high: float

    @property
    def holds_zero(self) -> bool:
        return self.low <= 0 <= self.high


def over_posts(y: np.ndarray, base_runs: list[np.ndarray], other_runs: list[np.ndarray], score,
               seed: int = SEED, resamples: int = RESAMPLES) -> Interval:
    """The difference of a headline score (`Headline.score`) averaged over each side's runs
    (its seeds), with a paired bootstrap 95% interval: posts are resampled, each with every
    run's prediction of it, so the interval says how far the difference holds on other posts."""
    k = len(base_runs)

    def difference(y, *runs, axis=-1):
        base = np.mean([score(y, r) for r in runs[:k]], axis=0)
        return np.mean([score(y, r) for r in runs[k:]], axis=0) - base

    result = stats.bootstrap((y, *base_runs, *other_runs), difference, paired=True,
                             vectorized=True, n_resamples=resamples, method="percentile",
                             batch=max(1, 1000 // (len(base_runs) + len(other_runs))),
                             rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return Interval(float(difference(y, *base_runs, *other_runs)), float(interval.low),
                    float(interval.high))


def bootstrap(y: np.ndarray, base: np.ndarray, other: np.ndarray, score,
              seed: int = SEED, resamples: int = RESAMPLES) -> tuple[float, ...]:
    """(difference, 95% interval) of a headline score between two runs, resampling pairs."""
    interval = over_posts(y, [base], [other], score, seed, resamples)
    return interval.difference, interval.low, interval.high


def compare(base: Predictions, other: Predictions, seed: int = SEED,
            resamples: int = RESAMPLES) -> Difference:
    """`other` against `base`; they must be paired (`unpaired_reason` None)."""
    y, a, b = indices(base.labels), indices(base.predicted), indices(other.predicted)
    only_base, only_other, p = mcnemar(a == y, b == y)
    return Difference(only_base, only_other, p,
                      {name: bootstrap(y, a, b, headline.score, seed, resamples)
                       for name, headline in HEADLINE.items()})


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment: each p-value as it is to be read against ALPHA when
    len(pvalues) comparisons were made."""
    order = np.argsort(pvalues, kind="stable")
    adjusted = np.empty(len(pvalues))
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted.tolist()


def over_seeds(base: dict[int, float], other: dict[int, float]) -> tuple[int, Interval] | None:
    """(seeds shared, the mean difference of a score over the training seeds both sides ran with
    its 95% t interval), each seed's runs paired; None with fewer than two seeds shared."""
    seeds = sorted(set(base) & set(other))
    if len(seeds) < 2:
        return None
    differences = np.array([other[s] - base[s] for s in seeds])
    mean = float(differences.mean())
    if np.all(differences == differences[0]):  # no spread: the t interval is undefined
        return len(seeds), Interval(mean, mean, mean)
    interval = stats.ttest_1samp(differences, 0.0).confidence_interval(1 - ALPHA)
    return len(seeds), Interval(mean, float(interval.low), float(interval.high))


@dataclass(frozen=True)
class Verdict:
    beyond_noise: bool | None  # None: one seed, the spread is unknown
    reading: str  # which test decided, in words


def verdict(seeds: Interval | None, posts: Interval) -> Verdict:
    """Beyond seed noise only where both the interval over seeds and the one over posts exclude
    0 on the same side: the settings differ whichever seeds are drawn and whichever posts."""
    if seeds is None:
        return Verdict(None, "spread unknown: fewer than two seeds in common (--seeds 3 runs "
                             "three)")
    if seeds.low == seeds.high == posts.low == posts.high == 0:
        return Verdict(False, "no difference: the same scores at every seed")
    if seeds.holds_zero:
        return Verdict(False, "within seed noise: the interval over seeds holds 0")
    if posts.holds_zero:
        return Verdict(False, "within noise: the post-by-post interval holds 0")
    if (seeds.difference > 0) != (posts.difference > 0):
        return Verdict(False, "within noise: the two intervals lie on opposite sides of 0")
    return Verdict(True, "beyond seed noise: both intervals exclude 0")
