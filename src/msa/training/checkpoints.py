"""The models folder, written by the train stage and read by predict: one checkpoint (and lexical
model) per fold, and `models.json`, what loading and checking them needs."""

from __future__ import annotations

import dataclasses
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
from msa.training.model import ModelConfig, SentimentClassifier

INDEX = "models.json"


@dataclass
class FoldModel:
    network: SentimentClassifier  # or, trained end to end, msa.training.end_to_end.EndToEnd
    lexical: Pipeline | None = None
    lexical_weight: float = 0.0
    reader: object = None  # end to end: how its text tower reads the raw pairs
    image_spec: object = None


def save_models(results: list, mode: str, encoders: dict, folder: str | Path,
                regime: str = "heads", record: dict | None = None) -> None:
    """The fold models, and `models.json`: what loading and checking them needs. `regime`
    finetune: each state holds what of the encoders trained, and `record` says how
    (`Finetune.record`: the mixed precision, the tuning, the base weights' revisions)."""
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
    """The fold models; `dtype` (bf16 | fp32) overrides the precision their tuned text layers
    were trained in (None keeps it, so the out-of-fold probabilities are reproduced exactly)."""
    summary = read_index(folder)
    models = []
    weight = summary.get("lexical_weight", 0.0)
    for fold in summary["folds"]:
        checkpoint = torch.load(Path(folder) / f"fold_{fold}.pt", map_location="cpu",
                                weights_only=True)
        config = ModelConfig(**checkpoint["config"])
        if summary.get("regime", "heads") == "finetune":
            network, reader, spec = _onto_the_base(summary, config, checkpoint["state_dict"],
                                                   Path(folder) / f"fold_{fold}.pt")
            model = FoldModel(network.eval(), reader=reader, image_spec=spec)
        else:
            if dtype is not None:
                config = dataclasses.replace(config, text_bf16=dtype == "bf16")
            network = SentimentClassifier(config)
            network.load_state_dict(checkpoint["state_dict"])
            model = FoldModel(network.eval())
        if weight > 0:
            # Our own train stage wrote this file into the workspace's models folder.
            model.lexical = lexical.loads((Path(folder) / f"fold_{fold}_lexical.pkl").read_bytes())
            model.lexical_weight = weight
        models.append(model)
    return models, summary


def _onto_the_base(summary: dict, config: ModelConfig, state: dict, path: Path):
    """An end-to-end fold model: its encoders built from the base weights they name, tuned as
    they trained (adapters where LoRA), then what trained loaded onto them."""
    from msa.training import end_to_end, tuning

    how = summary.get("tuning", tuning.FULL)
    network, reader, spec = end_to_end.build(summary["encoders"], config.mode, config=config,
                                             tuning=how)
    trained = set(tuning.trained_state(network, how))
    missing, unexpected = network.load_state_dict(state, strict=False)
    if unexpected or trained & set(missing):
        raise MsaError(f"{path}: its weights do not fit the encoders models.json names "
                       f"({len(unexpected)} unexpected, {len(trained & set(missing))} missing); "
                       "rerun train")
    return network, reader, spec


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
