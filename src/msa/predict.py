"""Saving and loading the fold models, and the fold ensemble that predicts new pairs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from msa import LABELS
from msa.files import atomic_write_text, write_json
from msa.errors import MsaError
from msa.features import FeatureSet
from msa.model import ModelConfig, SentimentClassifier
from msa.train import FoldResult, predict_proba

SUMMARY = "training.json"


def save_models(results: list[FoldResult], mode: str, encoders: dict, folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("fold_*.pt"):
        stale.unlink()
    for result in results:
        buffer = io.BytesIO()
        torch.save({"state_dict": result.state, "config": result.config.to_dict()}, buffer)
        tmp = folder / f"fold_{result.fold}.pt.tmp"
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(folder / f"fold_{result.fold}.pt")
    write_json(folder / SUMMARY, {
        "mode": mode,
        "labels": list(LABELS),
        "encoders": encoders,
        "folds": {str(r.fold): {"best_epoch": r.best_epoch, "epochs_run": r.epochs_run}
                  for r in results},
    })


def read_summary(folder: str | Path) -> dict:
    path = Path(folder) / SUMMARY
    if not path.is_file():
        raise MsaError(f"{folder}: no trained models here (run the train stage first)")
    return json.loads(path.read_text(encoding="utf-8"))


def load_models(folder: str | Path) -> tuple[list[SentimentClassifier], dict]:
    summary = read_summary(folder)
    models = []
    for fold in sorted(summary["folds"], key=int):
        checkpoint = torch.load(Path(folder) / f"fold_{fold}.pt", map_location="cpu",
                                weights_only=True)
        model = SentimentClassifier(ModelConfig(**checkpoint["config"]))
        model.load_state_dict(checkpoint["state_dict"])
        models.append(model.eval())
    return models, summary


def check_compatible(summary: dict, features: FeatureSet) -> None:
    """Models only make sense on features from the encoders they were trained on."""
    if summary["encoders"] != features.encoders:
        differing = sorted(k for k in summary["encoders"]
                           if summary["encoders"][k] != features.encoders.get(k))
        key = differing[0] if differing else "encoders"
        raise MsaError(
            f"the models were trained on features from other encoders ({key}: "
            f"{summary['encoders'].get(key)!r} in the models, {features.encoders.get(key)!r} "
            "in the features); rerun train, or featurize with the models' encoders"
        )


def ensemble_proba(models: list[SentimentClassifier], features: FeatureSet,
                   rows: np.ndarray) -> np.ndarray:
    """Mean over the fold models of their class probabilities, for these feature rows."""
    return np.mean([predict_proba(m, features, rows) for m in models], axis=0)


def write_predictions(guids: list[str], probs: np.ndarray, path: str | Path) -> None:
    """The lab5 format: a `guid,tag` header, then one row per pair in input order."""
    rows = "".join(f"{g},{LABELS[i]}\n" for g, i in zip(guids, probs.argmax(1)))
    atomic_write_text(path, "guid,tag\n" + rows)
