"""Scores from out-of-fold predictions: per fold and pooled, per class, and the baselines."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)

from msa import LABELS
from msa.files import write_csv

# The headline scores, owned here: metrics.json, `msa compare` and the sweep reports (with the
# names they are shown by).
HEADLINE = {"accuracy": "accuracy", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"}


def scores(y_true, y_pred) -> dict[str, float]:
    labels = list(LABELS)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                   zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted",
                                      zero_division=0)),
    }


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
    per_fold = [scores(y_true[folds == f], y_pred[folds == f]) for f in np.unique(folds)]
    pooled = scores(y_true, y_pred)
    return {
        "mode": mode,
        **{name: _mean_std([s[name] for s in per_fold]) | {"pooled": pooled[name]}
           for name in HEADLINE},
        "per_class": per_class(y_true, y_pred),
        "majority_baseline": majority_baseline(y_true, folds),
        "folds": {
            str(f): {**per_fold[i], **epochs[int(f)]} for i, f in enumerate(np.unique(folds))
        },
        "pairs": int(len(y_true)),
        **({"calibration": {"ece": expected_calibration_error(list(y_true), probs),
                            "bins": CALIBRATION_BINS}} if probs is not None else {}),
        "produced_by": produced_by or {},
    }


def confusion(y_true, y_pred) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=list(LABELS))


def write_confusion_rows(oof_rows: list[dict], path) -> None:
    """One row per pair (actual, predicted): the shape DVC's confusion template reads."""
    write_csv(path, ["actual", "predicted"], [[r["label"], r["predicted"]] for r in oof_rows])
