"""Whether two experiments differ beyond noise, on the same labelled pairs: McNemar's exact test
on their out-of-fold predictions for accuracy, a paired bootstrap interval for the difference of
every headline score (msa.evaluation.metrics.HEADLINE), a paired t-test over training seeds where
both sides have repeats, and Holm's correction for the comparisons one report makes. SciPy does
the statistics.
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


def bootstrap(y: np.ndarray, base: np.ndarray, other: np.ndarray, score,
              seed: int = SEED, resamples: int = RESAMPLES) -> tuple[float, ...]:
    """(difference, 95% interval) of a headline score (`Headline.score`), resampling pairs."""

    def difference(y, a, b, axis=-1):
        return score(y, b) - score(y, a)

    result = stats.bootstrap((y, base, other), difference, paired=True, vectorized=True,
                             n_resamples=resamples, method="percentile", batch=500,
                             rng=np.random.default_rng(seed))
    interval = result.confidence_interval
    return (float(difference(y, base, other)), float(interval.low), float(interval.high))


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


def over_seeds(base: dict[int, float], other: dict[int, float]) -> tuple[int, float, float] | None:
    """(seeds shared, mean difference, paired t-test p) of a score over the training seeds both
    sides ran, or None with fewer than two."""
    seeds = sorted(set(base) & set(other))
    if len(seeds) < 2:
        return None
    a, b = np.array([base[s] for s in seeds]), np.array([other[s] for s in seeds])
    p = stats.ttest_rel(b, a).pvalue if np.any(a != b) else 1.0
    return len(seeds), float(np.mean(b - a)), float(p)
