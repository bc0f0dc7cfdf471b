"""Fake experiments as `dvc exp show --json` shows them, and out-of-fold rows for each fake
revision, for the tests of msa.experiments."""

import pytest

from msa.evaluation import records

LABELS = ("negative", "neutral", "positive")
ACCURACY_OF = {}  # rev -> the accuracy its fake out-of-fold predictions have


def oof_rows(right: int, n: int = 60) -> list[dict]:
    """Out-of-fold rows of n pairs in two folds, right on the first `right`; the true label's
    probability 0.8 where right, 0.3 where not."""
    rows = []
    for i in range(n):
        label, predicted = LABELS[i % 3], LABELS[i % 3] if i < right else LABELS[(i + 1) % 3]
        probs = {x: 0.8 if x == predicted else 0.1 for x in LABELS} if label == predicted else \
            {x: 0.6 if x == predicted else 0.3 if x == label else 0.1 for x in LABELS}
        rows.append({"guid": f"{i:02d}", "fold": str(i % 2), "label": label,
                     "predicted": predicted, **{f"prob_{x}": str(p) for x, p in probs.items()}})
    return rows


@pytest.fixture(autouse=True)
def oof_at_each_revision(monkeypatch):
    """Out-of-fold rows of 60 pairs for each fake revision, right on the first acc x 60."""
    def read(rev, name):
        return oof_rows(round(ACCURACY_OF[rev] * 60))

    monkeypatch.setattr(records, "read_oof_at", read)
    saved = dict(ACCURACY_OF)  # a test's own revisions do not outlive it
    yield
    ACCURACY_OF.clear()
    ACCURACY_OF.update(saved)


def _metrics(mode, acc):
    per_class = {label: {"precision": 0.5, "recall": 0.5, "f1": acc - 0.1, "support": 3}
                 for label in ("negative", "neutral", "positive")}
    score = {"mean": acc, "std": 0.01, "pooled": acc}
    return {"mode": mode, "accuracy": score, "macro_f1": score, "weighted_f1": score,
            "per_class": per_class, "folds": {"1": {"epochs_run": 4}, "0": {"epochs_run": 7}},
            "majority_baseline": {"label": "positive", "accuracy": 0.6, "macro_f1": 0.25,
                                  "weighted_f1": 0.45}}


def _entry(rev, name, mode, acc, patience=6):
    ACCURACY_OF[rev] = acc
    return {"rev": rev, "name": name, "data": {
        "params": {"params.yaml": {"data": {"mode": mode, "train": {"patience": patience}}}},
        "metrics": {"metrics/metrics.json": {"data": _metrics(mode, acc)}}}}


DOCUMENT = [
    {"rev": "workspace", "name": None, "data": {}},
    {**_entry("a" * 40, "main", "multimodal", 0.7), "experiments": [
        {"name": "exp-text", "revs": [_entry("b" * 40, "exp-text", "text", 0.65, 2)]},
        {"name": "exp-image", "revs": [_entry("c" * 40, "exp-image", "image", 0.6)]},
        {"name": "broken", "revs": [{"rev": "d" * 40, "name": "broken", "data": {}}]},
        # DVC shows the baseline's metrics for a failed or queued run: they are not its own
        {"name": "crashed", "executor": {"state": "failed"},
         "revs": [{**_entry("e" * 40, "crashed", "multimodal", 0.7),
                   "error": {"msg": "Experiment run failed", "type": ""}}]},
        {"name": "waiting", "executor": {"state": "queued"},
         "revs": [_entry("f" * 40, "waiting", "multimodal", 0.7)]},
        {"name": "finished", "executor": {"state": "success"},
         "revs": [_entry("0" * 40, "finished", "multimodal", 0.72)]},
    ]},
]


