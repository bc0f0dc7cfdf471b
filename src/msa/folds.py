"""The fold assignment: StratifiedKFold over the labelled pairs, shuffled and seeded."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from msa.data import Pair
from msa.errors import MsaError
from msa.files import write_csv


def assign_folds(pairs: list[Pair], n_splits: int, seed: int) -> dict[str, int]:
    """guid -> validation fold (0 .. n_splits-1) for every labelled pair."""
    labelled = [p for p in pairs if p.split == "train"]
    counts = Counter(p.label for p in labelled)
    for label, count in sorted(counts.items()):
        if count < n_splits:
            raise MsaError(
                f"fold.n_splits: class {label!r} has {count} labelled pairs, fewer than "
                f"fold.n_splits={n_splits}; lower fold.n_splits or add pairs"
            )
    if not labelled:
        raise MsaError("no labelled pairs to split into folds")
    labels = [p.label for p in labelled]
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = np.empty(len(labelled), dtype=int)
    for fold, (_, val_index) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        folds[val_index] = fold
    return {p.guid: int(f) for p, f in zip(labelled, folds)}


def write_folds(folds: dict[str, int], pairs: list[Pair], path: str | Path) -> None:
    label = {p.guid: p.label for p in pairs}
    write_csv(path, ["guid", "label", "fold"],
              [[guid, label[guid], fold] for guid, fold in folds.items()])


def read_folds(path: str | Path) -> dict[str, int]:
    path = Path(path)
    if not path.is_file():
        raise MsaError(f"{path}: fold file not found (run the fold_split stage first)")
    with path.open(encoding="utf-8") as handle:
        return {row["guid"]: int(row["fold"]) for row in csv.DictReader(handle)}
