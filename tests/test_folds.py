from collections import Counter

import pytest

from msa import folds
from msa.data import Pair
from msa.errors import MsaError


def _pairs(counts):
    labels = [label for label, n in counts.items() for _ in range(n)]
    pairs = [Pair(str(i), "train", label, "", "") for i, label in enumerate(labels)]
    return pairs + [Pair("t1", "test", None, "", "")]


def test_folds_are_stratified_cover_every_labelled_pair_and_are_seeded(tmp_path):
    pairs = _pairs({"positive": 50, "negative": 25, "neutral": 10})
    assignment = folds.assign_folds(pairs, n_splits=5, seed=0)
    assert set(assignment) == {p.guid for p in pairs if p.split == "train"}
    per_fold = Counter((assignment[p.guid], p.label) for p in pairs if p.split == "train")
    for fold in range(5):
        assert per_fold[(fold, "positive")] == 10
        assert per_fold[(fold, "negative")] == 5
        assert per_fold[(fold, "neutral")] == 2
    assert folds.assign_folds(pairs, 5, seed=0) == assignment
    assert folds.assign_folds(pairs, 5, seed=1) != assignment
    folds.write_folds(assignment, pairs, tmp_path / "folds.csv")
    assert folds.read_folds(tmp_path / "folds.csv") == assignment


def test_class_smaller_than_n_splits_is_a_clear_error():
    pairs = _pairs({"positive": 20, "negative": 20, "neutral": 3})
    with pytest.raises(MsaError, match="class 'neutral' has 3 labelled pairs, fewer than "
                                       "fold.n_splits=5"):
        folds.assign_folds(pairs, n_splits=5, seed=0)
