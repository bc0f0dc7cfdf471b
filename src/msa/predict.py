"""The fold ensemble that predicts new pairs, and the predictions file (the lab5 format)."""

from __future__ import annotations

import numpy as np

from msa import LABELS, lexical
from msa.checkpoints import FoldModel
from msa.features import FeatureSet
from msa.files import atomic_write_text
from msa.train import predict_proba


def fold_proba(model: FoldModel, features: FeatureSet, rows: np.ndarray) -> np.ndarray:
    """One fold model's class probabilities for these feature rows, as its OOF ones were made."""
    probs = predict_proba(model.network, features, rows)
    if model.lexical is None:
        return probs
    return lexical.blend(probs, lexical.predict_proba(model.lexical, features.texts_of(rows)),
                         model.lexical_weight)


def ensemble_proba(models: list[FoldModel], features: FeatureSet, rows: np.ndarray) -> np.ndarray:
    """Mean over the fold models of their class probabilities, for these feature rows."""
    return np.mean([fold_proba(m, features, rows) for m in models], axis=0)


def write_predictions(guids: list[str], probs: np.ndarray, path: str | Path) -> None:
    """The lab5 format: a `guid,tag` header, then one row per pair in input order."""
    rows = "".join(f"{g},{LABELS[i]}\n" for g, i in zip(guids, probs.argmax(1)))
    atomic_write_text(path, "guid,tag\n" + rows)
