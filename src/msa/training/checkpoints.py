"""The models folder, written by the train stage and read by predict: one checkpoint (and lexical
model) per fold, and `models.json`, what loading and checking them needs."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from sklearn.pipeline import Pipeline

from msa import LABELS
from msa.errors import MsaError
from msa.features.store import FeatureSet
from msa.files import atomic_write_bytes, write_json
from msa.training import lexical
from msa.training.model import SentimentClassifier

INDEX = "models.json"


@dataclass
class FoldModel:
    network: SentimentClassifier  # or what its regime trains (finetune: end_to_end.EndToEnd)
    lexical: Pipeline | None = None
    lexical_weight: float = 0.0
    reader: object = None  # end to end: how its text tower reads the raw pairs
    image_spec: object = None


def save_models(results: list, mode: str, encoders: dict, folder: str | Path, regime: str,
                record: dict | None = None) -> None:
    """The fold models, and `models.json`: what loading and checking them needs, the regime
    that trained them (msa.training.regimes: it loads them) and what its run records
    (`record`: finetune's mixed precision, tuning and base weights' revisions)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("fold_*.pt"), *folder.glob("fold_*_lexical.pkl")]:
        stale.unlink()
    for result in results:
        buffer = io.BytesIO()
        torch.save({"state_dict": result.state, "config": result.config.to_dict()}, buffer)
        atomic_write_bytes(folder / f"fold_{result.fold}.pt", buffer.getvalue())
        if result.lexical is not None:
            atomic_write_bytes(folder / f"fold_{result.fold}_lexical.pkl",
                               lexical.dumps(result.lexical))
    write_json(folder / INDEX, {
        "mode": mode,
        "labels": list(LABELS),
        "encoders": encoders,
        "lexical_weight": max((r.lexical_weight for r in results), default=0.0),
        "folds": [r.fold for r in results],
        "regime": regime,
        **(record or {}),
    })


def read_index(folder: str | Path) -> dict:
    path = Path(folder) / INDEX
    if not path.is_file():
        raise MsaError(f"{folder}: no trained models here (run the train stage first)")
    return json.loads(path.read_text(encoding="utf-8"))


def load_models(folder: str | Path, dtype: str | None = None) -> tuple[list[FoldModel], dict]:
    """The fold models, each loaded by the regime that trained it; `dtype` (bf16 | fp32)
    overrides the precision the heads' tuned text layers were trained in (None keeps it, so
    the out-of-fold probabilities are reproduced exactly)."""
    from msa.training import regimes

    summary = read_index(folder)
    regime = regimes.of_models(summary)
    models = []
    weight = summary.get("lexical_weight", 0.0)
    for fold in summary["folds"]:
        path = Path(folder) / f"fold_{fold}.pt"
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = regime.fold_network(summary, checkpoint, path, dtype)
        if weight > 0:
            # Our own train stage wrote this file into the workspace's models folder.
            model.lexical = lexical.loads((Path(folder) / f"fold_{fold}_lexical.pkl").read_bytes())
            model.lexical_weight = weight
        models.append(model)
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
