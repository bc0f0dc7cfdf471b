"""Scores from out-of-fold predictions: per fold and pooled, per class, and the baselines; and
the two files that hold them, which this module alone writes and reads:

    metrics/metrics.json   what compares experiments: the mode, the headline scores (mean and std
                           over folds, pooled) and calibration; dvc.yaml registers it as DVC's
                           metrics, so `dvc exp show` and `dvc metrics diff` lead with them
    metrics/details.json   the rest: per class, per fold, the majority-class baseline, the pairs
                           scored and what produced the features and models (a plain output)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import json
from pathlib import Path

from msa import LABEL_INDEX, LABELS
from msa.errors import MsaError
from msa.files import write_csv, write_json


def _f1_per_class(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F1, support) of every class [classes, ...] along the last axis; a class absent from both
    scores 0, as sklearn's zero_division=0 does."""
    f1, support = [], []
    for k in range(len(LABELS)):
        tp = np.sum((y == k) & (pred == k), axis=-1)
        wrong = np.sum((y == k) != (pred == k), axis=-1)  # false positives and negatives
        with np.errstate(invalid="ignore", divide="ignore"):
            f1.append(np.where(2 * tp + wrong > 0, 2 * tp / (2 * tp + wrong), 0.0))
        support.append(np.sum(y == k, axis=-1))
    return np.stack(f1), np.stack(support)


def _accuracy(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.mean(y == pred, axis=-1)


def _macro_f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return _f1_per_class(y, pred)[0].mean(0)


def _weighted_f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    f1, support = _f1_per_class(y, pred)
    return (f1 * support).sum(0) / support.sum(0)


@dataclass(frozen=True)
class Headline:
    title: str  # as reports show it
    # of class indices (true, predicted) along the last axis, so that a paired bootstrap scores
    # every resample at once; sklearn's figures to the bit (tests/test_metrics.py)
    score: Callable[[np.ndarray, np.ndarray], np.ndarray]


# The headline scores, owned here, one line each: metrics.json, the paired tests and every
# comparison report (msa compare, sweep, ablation) follow this table.
HEADLINE = {
    "accuracy": Headline("accuracy", _accuracy),
    "macro_f1": Headline("macro-F1", _macro_f1),
    "weighted_f1": Headline("weighted-F1", _weighted_f1),
}


def indices(labels) -> np.ndarray:
    return np.array([LABEL_INDEX[label] for label in labels], dtype=np.int64)


def scores(y_true, y_pred) -> dict[str, float]:
    """Every headline score of these labels and predictions."""
    y, pred = indices(y_true), indices(y_pred)
    return {name: float(headline.score(y, pred)) for name, headline in HEADLINE.items()}


def per_fold(y_true, y_pred, folds) -> list[dict[str, float]]:
    """The headline scores of each fold, in fold order."""
    y_true, y_pred, folds = np.asarray(y_true), np.asarray(y_pred), np.asarray(folds)
    return [scores(y_true[folds == f], y_pred[folds == f]) for f in np.unique(folds)]


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def per_class(y_true, y_pred) -> dict[str, dict[str, float]]:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(LABELS), zero_division=0)
    return {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(LABELS, precision, recall, f1, support)
    }


def majority_baseline(y_true: list[str], folds: list[int]) -> dict[str, float]:
    """Each fold predicts the most frequent label of the other folds; scored pooled."""
    y_true, folds = np.asarray(y_true), np.asarray(folds)
    predicted = np.empty_like(y_true)
    for fold in np.unique(folds):
        train_labels = y_true[folds != fold]
        values, counts = np.unique(train_labels, return_counts=True)
        predicted[folds == fold] = values[np.argmax(counts)]
    return scores(y_true, predicted) | {"label": str(predicted[0])}


CALIBRATION_BINS = 10


def reliability(y_true: list[str], probs: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Per equal-width bin of the top class's probability: its range, pairs, mean probability
    and accuracy (bins with no pair left out)."""
    confidence = probs.max(axis=1)
    correct = np.array([LABELS[i] for i in probs.argmax(axis=1)]) == np.asarray(y_true)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return [{"low": k / bins, "high": (k + 1) / bins, "pairs": int(np.sum(which == k)),
             "confidence": float(confidence[which == k].mean()),
             "accuracy": float(correct[which == k].mean())}
            for k in range(bins) if np.any(which == k)]


def expected_calibration_error(y_true: list[str], probs: np.ndarray,
                               bins: int = CALIBRATION_BINS) -> float:
    """The pairs-weighted mean gap between each bin's accuracy and its mean top probability."""
    table = reliability(y_true, probs, bins)
    return float(sum(b["pairs"] * abs(b["accuracy"] - b["confidence"]) for b in table)
                 / sum(b["pairs"] for b in table))


def summarize(mode: str, y_true: list[str], y_pred: list[str], folds: list[int],
              epochs: dict[int, dict[str, int]], produced_by: dict | None = None,
              probs: np.ndarray | None = None) -> dict:
    """The metrics.json document; `produced_by` is what made the features and models beyond
    their params (the precision that ran and the CPU capability, per stage); with the class
    probabilities, their calibration."""
    y_true, y_pred, folds = np.asarray(y_true), np.asarray(y_pred), np.asarray(folds)
    by_fold = per_fold(y_true, y_pred, folds)
    pooled = scores(y_true, y_pred)
    return {
        "mode": mode,
        **{name: _mean_std([s[name] for s in by_fold]) | {"pooled": pooled[name]}
           for name in HEADLINE},
        "per_class": per_class(y_true, y_pred),
        "majority_baseline": majority_baseline(y_true, folds),
        "folds": {
            str(f): {**by_fold[i], **epochs[int(f)]} for i, f in enumerate(np.unique(folds))
        },
        "pairs": int(len(y_true)),
        **({"calibration": {"ece": expected_calibration_error(list(y_true), probs),
                            "bins": CALIBRATION_BINS}} if probs is not None else {}),
        "produced_by": produced_by or {},
    }


# what metrics/metrics.json holds of the document; the rest goes to metrics/details.json
COMPARED = ("mode", *HEADLINE, "calibration")


def write(document: dict, metrics_path: str | Path, details_path: str | Path) -> None:
    """The document `summarize` made, parted between the two files."""
    write_json(metrics_path, {k: v for k, v in document.items() if k in COMPARED})
    write_json(details_path, {k: v for k, v in document.items() if k not in COMPARED})


def read(metrics_path: str | Path, details_path: str | Path) -> dict:
    """The whole document again, from the two files."""
    document = {}
    for path in (Path(details_path), Path(metrics_path)):
        if not path.is_file():
            raise MsaError(f"{path}: no metrics here (run the evaluate stage first)")
        document |= json.loads(path.read_text(encoding="utf-8"))
    return document


# where dvc.yaml's evaluate stage writes them (the first is what dvc.yaml registers as metrics)
METRICS_FILE = "metrics/metrics.json"
DETAILS_FILE = "metrics/details.json"


def details_at(rev: str) -> dict:
    """metrics/details.json as committed at a git or DVC experiment revision (it is git's: a
    plain output, not cached); {} at a revision from before it (its metrics.json held all)."""
    import subprocess

    shown = subprocess.run(["git", "show", f"{rev}:{DETAILS_FILE}"], capture_output=True,
                           text=True)
    return json.loads(shown.stdout) if shown.returncode == 0 else {}


def confusion(y_true, y_pred) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=list(LABELS))


def write_confusion_rows(oof_rows: list[dict], path) -> None:
    """One row per pair (actual, predicted): the shape DVC's confusion template reads."""
    write_csv(path, ["actual", "predicted"], [[r["label"], r["predicted"]] for r in oof_rows])
