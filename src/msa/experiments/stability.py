"""Each post across a setting's seeds: how stable its prediction is, and the posts one setting
fixes or breaks against another (each post's majority over each side's seeds)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msa import LABELS
from msa.errors import MsaError
from msa.evaluation import paired
from msa.evaluation.metrics import indices


@dataclass(frozen=True)
class SeedPredictions:
    """A setting's out-of-fold predictions at each of its seeds, on the same pairs and folds."""

    seeds: tuple
    guids: tuple[str, ...]
    labels: tuple[str, ...]
    folds: tuple[int, ...]
    predicted: np.ndarray  # [seeds, pairs] class indices
    gold_probability: np.ndarray  # [seeds, pairs] the probability each run gave the true label

    @classmethod
    def from_rows(cls, name: str, rows_by_seed: dict) -> SeedPredictions:
        """From each seed's data/oof.csv rows (msa.evaluation.records)."""
        first, predicted, gold = None, [], []
        for seed, rows in rows_by_seed.items():
            rows = sorted(rows, key=lambda r: r["guid"])
            pairing = paired.Predictions.from_rows(rows)
            if first is None:
                first = (seed, pairing)
            elif reason := paired.unpaired_reason(first[1], pairing):
                raise MsaError(f"{name}: its runs at seeds {first[0]} and {seed} are not on the "
                               f"same pairs: {reason}")
            predicted.append(indices(pairing.predicted))
            gold.append([float(r[f"prob_{r['label']}"]) for r in rows])
        return cls(tuple(rows_by_seed), first[1].guids, first[1].labels, first[1].folds,
                   np.array(predicted), np.array(gold))

    @property
    def y(self) -> np.ndarray:
        return indices(self.labels)

    @property
    def right(self) -> np.ndarray:
        return self.predicted == self.y

    def pairing(self) -> paired.Predictions:
        """The pairs, labels and folds, to check another setting is on the same ones."""
        return paired.Predictions(self.guids, self.labels,
                                  tuple(LABELS[k] for k in self.predicted[0]), self.folds)


@dataclass(frozen=True)
class Stability:
    pairs: int
    seeds: int
    right_every: int  # right at every seed
    right_some: int
    right_none: int
    flipped: int  # predicted label not the same at every seed

    @property
    def flip_rate(self) -> float:
        return self.flipped / self.pairs if self.pairs else 0.0


def stability(p: SeedPredictions) -> Stability:
    right = p.right.sum(0)
    seeds = len(p.seeds)
    return Stability(len(p.guids), seeds, int(np.sum(right == seeds)),
                     int(np.sum((right > 0) & (right < seeds))), int(np.sum(right == 0)),
                     int(np.sum(np.any(p.predicted != p.predicted[:1], axis=0))))


def _right_most(p: SeedPredictions) -> np.ndarray:
    return p.right.sum(0) * 2 > len(p.seeds)


def _wrong_most(p: SeedPredictions) -> np.ndarray:
    return (~p.right).sum(0) * 2 > len(p.seeds)


def fixes_and_breaks(base: SeedPredictions, other: SeedPredictions) -> tuple[np.ndarray, ...]:
    """Indices of the posts `other` fixes (wrong in most of the base's seeds, right in most of
    its own), the surest first (its mean probability of the true label), and of those it breaks
    (the reverse), those the base was surest of first; ties by guid."""
    def surest_first(mask, probability):
        chosen = np.flatnonzero(mask)
        return chosen[np.lexsort((np.array(base.guids)[chosen], -probability[chosen]))]

    fixes = surest_first(_wrong_most(base) & _right_most(other),
                         other.gold_probability.mean(0))
    breaks = surest_first(_right_most(base) & _wrong_most(other), base.gold_probability.mean(0))
    return fixes, breaks


def _per_seed(p: SeedPredictions, i: int) -> str:
    return " ".join(f"{seed}:{LABELS[k]}" for seed, k in zip(p.seeds, p.predicted[:, i]))


CHANGE_COLUMNS = ("setting", "change", "guid", "label", "baseline_per_seed", "setting_per_seed",
                  "baseline_p_label", "setting_p_label")


def change_rows(setting: str, base: SeedPredictions, other: SeedPredictions) -> list[list]:
    """A row for every post `setting` fixes or breaks against the baseline: each side's label
    at each seed, and each side's mean probability of the true label."""
    fixes, breaks = fixes_and_breaks(base, other)
    return [[setting, change, base.guids[i], base.labels[i], _per_seed(base, i),
             _per_seed(other, i), f"{base.gold_probability[:, i].mean():.4f}",
             f"{other.gold_probability[:, i].mean():.4f}"]
            for change, chosen in (("fixes", fixes), ("breaks", breaks)) for i in chosen]
