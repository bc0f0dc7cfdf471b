"""The models folder, written by the train stage and read by predict: one checkpoint (and lexical
model) per fold, and `models.json`, what loading and checking them needs. The regime that
trained them loads them (msa.evaluation.predict.load_models)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from sklearn.pipeline import Pipeline

from msa import LABELS
from msa.errors import MsaError
from msa.features.identity import EncoderIdentity
from msa.features.store import FeatureSet
from msa.files import atomic_write_bytes, write_json
from msa.training import lexical
from msa.training.model import SentimentClassifier
from msa.training.tuning import Tuning

INDEX = "models.json"


@dataclass
class FoldModel:
    network: SentimentClassifier  # or what its regime trains (finetune: end_to_end.EndToEnd)
    lexical: Pipeline | None = None
    lexical_weight: float = 0.0
    reader: object = None  # end to end: how its text tower reads the raw pairs
    image_spec: object = None


@dataclass(frozen=True)
class ModelsRecord:
    """models.json: what loading and checking the fold models needs, the regime that trained
    them (msa.training.regimes: it loads them), and what its run records (finetune: the mixed
    precision, the tuning; both: the base weights' hub revisions and the tokens a capped text
    encoder reads, msa.features.encoders.resolved)."""

    mode: str
    labels: tuple[str, ...]
    encoders: EncoderIdentity
    lexical_weight: float
    folds: tuple[int, ...]
    regime: str | None  # None: saved before regimes were recorded (msa.training.regimes)
    mixed_precision: str | None = None
    tuning: Tuning | None = None
    revisions: dict | None = None
    text_tokens_read: int | None = None

    def to_json(self) -> dict:
        extras = {"mixed_precision": self.mixed_precision,
                  "tuning": self.tuning.to_json() if self.tuning else None,
                  "revisions": self.revisions, "text_tokens_read": self.text_tokens_read}
        return {"mode": self.mode, "labels": list(self.labels),
                "encoders": self.encoders.to_json(), "lexical_weight": self.lexical_weight,
                "folds": list(self.folds), "regime": self.regime,
                **{k: v for k, v in extras.items() if v is not None}}

    @classmethod
    def from_json(cls, record: dict) -> ModelsRecord:
        return cls(record["mode"], tuple(record["labels"]),
                   EncoderIdentity.from_json(record["encoders"]),
                   record.get("lexical_weight", 0.0), tuple(record["folds"]),
                   record.get("regime"), record.get("mixed_precision"),
                   Tuning.from_json(record["tuning"]) if "tuning" in record else None,
                   record.get("revisions"), record.get("text_tokens_read"))


def save_models(results: list, mode: str, encoders: EncoderIdentity, folder: str | Path,
                regime: str, record: dict | None = None) -> None:
    """The fold models, and `models.json` (`ModelsRecord`; `record`: what the regime's run
    adds to it, `Trainer.record()`)."""
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
    write_json(folder / INDEX, ModelsRecord(
        mode, LABELS, encoders, max((r.lexical_weight for r in results), default=0.0),
        tuple(r.fold for r in results), regime, **(record or {})).to_json())


def read_index(folder: str | Path) -> ModelsRecord:
    path = Path(folder) / INDEX
    if not path.is_file():
        raise MsaError(f"{folder}: no trained models here (run the train stage first)")
    return ModelsRecord.from_json(json.loads(path.read_text(encoding="utf-8")))


def read_fold(folder: str | Path, fold: int) -> tuple[Path, dict]:
    """A fold's checkpoint file and what it holds (its `state_dict` and `config`)."""
    path = Path(folder) / f"fold_{fold}.pt"
    return path, torch.load(path, map_location="cpu", weights_only=True)


def with_lexical(model: FoldModel, folder: str | Path, fold: int, weight: float) -> FoldModel:
    """The fold model with its lexical model, where the run blended one in."""
    if weight > 0:
        # Our own train stage wrote this file into the workspace's models folder.
        model.lexical = lexical.loads((Path(folder) / f"fold_{fold}_lexical.pkl").read_bytes())
        model.lexical_weight = weight
    return model


def check_compatible(summary: ModelsRecord, features: FeatureSet) -> None:
    """Models only make sense on features from the encoders they were trained on."""
    differing = summary.encoders.differing(features.encoders)
    if differing:
        key = differing[0]
        raise MsaError(
            f"the models were trained on features from other encoders ({key}: "
            f"{getattr(summary.encoders, key)!r} in the models, "
            f"{getattr(features.encoders, key)!r} in the features); rerun train, or featurize "
            "with the models' encoders"
        )
