"""The fold ensemble that predicts new pairs, and the predictions file (the lab5 format)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from msa import LABELS, lexical
from msa.checkpoints import FoldModel
from msa.end_to_end import Collate, PairImages, logits_of
from msa.features import FeatureSet
from msa.files import atomic_write_text
from msa.prepared import Pair
from msa.train import predict_proba


def fold_proba(model: FoldModel, features: FeatureSet, rows: np.ndarray) -> np.ndarray:
    """One fold model's class probabilities for these feature rows, as its OOF ones were made."""
    return _blend(model, predict_proba(model.network, features, rows),
                  lambda: features.texts_of(rows))


def _blend(model: FoldModel, probs: np.ndarray, texts) -> np.ndarray:
    """The network's probabilities blended with the fold's lexical model on `texts()`."""
    if model.lexical is None:
        return probs
    return lexical.blend(probs, lexical.predict_proba(model.lexical, texts()),
                         model.lexical_weight)


def ensemble_proba(models: list[FoldModel], features: FeatureSet, rows: np.ndarray) -> np.ndarray:
    """Mean over the fold models of their class probabilities, for these feature rows."""
    return np.mean([fold_proba(m, features, rows) for m in models], axis=0)


@torch.no_grad()
def pair_proba(model: FoldModel, pairs: list[Pair], summary: dict,
               batch_size: int = 64) -> np.ndarray:
    """An end-to-end fold model's class probabilities for raw pairs (their clean view), in the
    precision it was trained in, blended with its lexical model as its OOF ones were."""
    network = model.network
    mode = network.head.config.mode
    loader = DataLoader(PairImages(pairs, model.image_spec, None, mode != "text"), batch_size,
                        collate_fn=Collate(model.tokenizer, summary["encoders"]["text_max_length"]))
    bf16 = summary.get("mixed_precision") == "bf16"
    chunks = []
    for batch in loader:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            chunks.append(torch.softmax(logits_of(network, batch).float(), dim=-1).numpy())
    return _blend(model, np.concatenate(chunks), lambda: [q.text for q in pairs])


def ensemble_pair_proba(models: list[FoldModel], pairs: list[Pair], summary: dict) -> np.ndarray:
    return np.mean([pair_proba(m, pairs, summary) for m in models], axis=0)


def write_predictions(guids: list[str], probs: np.ndarray, path: str | Path) -> None:
    """The lab5 format: a `guid,tag` header, then one row per pair in input order."""
    rows = "".join(f"{g},{LABELS[i]}\n" for g, i in zip(guids, probs.argmax(1)))
    atomic_write_text(path, "guid,tag\n" + rows)
