"""The fold assignment: StratifiedKFold over the labelled pairs, shuffled and seeded.

With `group: text`, posts whose text is the same (case, URLs and spacing aside: retweets and
reposts of one message) share a fold (StratifiedGroupKFold), so no copy is scored by a model
that trained on another. Whether that is the fairer estimate depends on the pairs to predict:
on lab5, 9% of the test posts share their text with a labelled post, about as often as the
labelled posts do among themselves, so the ungrouped folds mirror the test.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from msa.data.prepared import Pair
from msa.errors import MsaError
from msa.files import write_csv


_URL = re.compile(r"https?://\S+")


def same_text_key(pair: Pair) -> str:
    """What posts with the same text share; a text that is empty once URLs go is its own."""
    text = " ".join(_URL.sub("", pair.text).lower().split())
    return text or f"\0{pair.guid}"


def assign_folds(pairs: list[Pair], n_splits: int, seed: int,
                 group: str = "none") -> dict[str, int]:
    """guid -> validation fold (0 .. n_splits-1) for every labelled pair.

    group: none (pairs are split alone) | text (posts with the same text share a fold).
    """
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
    if group == "text":
        groups = [same_text_key(p) for p in labelled]
        if (distinct := len(set(groups))) < n_splits:
            raise MsaError(f"fold.group: text leaves {distinct} distinct texts, fewer "
                           f"than fold.n_splits={n_splits}; lower fold.n_splits or use "
                           "fold.group: none")
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        groups = None
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = np.empty(len(labelled), dtype=int)
    for fold, (_, val_index) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
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
