from collections import Counter

import pytest

from msa.data import folds
from msa.data.prepared import Pair
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


def _posts(texts_and_labels):
    pairs = [Pair(str(i), "train", label, text, "") for i, (text, label) in
             enumerate(texts_and_labels)]
    return pairs + [Pair("t1", "test", None, "a repost", "")]


def test_grouped_folds_keep_posts_with_the_same_text_together():
    rows = [(f"post {i} about things", label) for i, label in
            enumerate(["positive"] * 40 + ["negative"] * 20 + ["neutral"] * 10)]
    # Reposts of one message: case, URLs and spacing differ, the text does not.
    rows += [("RT Big news http://t.co/a", "positive"), ("rt big  NEWS http://t.co/b", "positive"),
             ("RT big news", "negative"), ("Sad day", "negative"), ("sad day ", "negative")]
    rows += [("http://t.co/only-a-link", "neutral"), ("http://t.co/another", "neutral")]
    pairs = _posts(rows)
    ungrouped = folds.assign_folds(pairs, 5, seed=0)
    link_only_apart = []
    for seed in range(10):
        grouped = folds.assign_folds(pairs, 5, seed=seed, group="text")
        assert set(grouped) == set(ungrouped)
        assert grouped["70"] == grouped["71"] == grouped["72"]
        assert grouped["73"] == grouped["74"]
        per_fold = Counter((grouped[p.guid], p.label) for p in pairs if p.split == "train")
        assert all(per_fold[(fold, "neutral")] >= 1 for fold in range(5))
        assert folds.assign_folds(pairs, 5, seed=seed, group="text") == grouped
        link_only_apart.append(grouped["75"] != grouped["76"])
    # Texts that are empty once the URL goes are each their own group, not one.
    assert any(link_only_apart)

def test_grouped_folds_need_as_many_distinct_texts_as_folds():
    pairs = _posts([("same", "positive")] * 6 + [("other", "negative")] * 6
                   + [("third", "neutral")] * 6)
    with pytest.raises(MsaError, match="fold.group: text leaves 3 distinct texts, fewer than "
                                       "fold.n_splits=5"):
        folds.assign_folds(pairs, n_splits=5, seed=0, group="text")
