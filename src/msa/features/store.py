"""data/features/: the feature cache the featurize stage writes and train and predict read, and
the FeatureSet it holds. Under a regime that encodes the raw pairs itself (finetune), the folder
holds only `index.json`, a record saying so (`save_record`).

The cache is a folder:
    text.npy         float32 [pairs, text_dim]      every usable pair, manifest order
    image.npy        float32 [pairs, image_dim]     the clean (evaluation) view of every pair
    image_views.npy  float32 [labelled, views, image_dim]  augmented views of the labelled pairs
    index.json       guids, splits, labels, texts, the encoders that made the arrays, and
                     `produced_by` (the precision that ran, the CPU capability: msa.precision)
and, under train.text_tuning top (train fine-tunes the text encoder's top layers on them):
    text_tokens.npy  float16 [tokens, text_dim]  per-token states entering the top layers, ragged
    text_offsets.npy int64 [pairs + 1]           pair i's tokens are rows offsets[i]:offsets[i+1]
    text_top.pt      the top layers' pretrained weights and the encoder's config
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from msa.errors import MsaError
from msa.features.identity import EncoderIdentity
from msa.files import atomic_path, write_json
from msa.precision import Provenance


@dataclass
class TokenStates:
    """Ragged per-token states, one run of rows per pair; batches come out padded."""

    values: np.ndarray  # float16 [tokens, dim]
    offsets: np.ndarray  # int64 [pairs + 1]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def batch(self, rows) -> tuple[torch.Tensor, torch.Tensor]:
        """(states float32 [batch, longest, dim], mask float32 [batch, longest])."""
        lengths = self.lengths[rows]
        states = torch.zeros((len(rows), int(lengths.max(initial=1)), self.values.shape[1]))
        mask = torch.zeros(states.shape[:2])
        for j, (row, length) in enumerate(zip(rows, lengths)):
            start = self.offsets[row]
            states[j, :length] = torch.from_numpy(self.values[start:start + length])
            mask[j, :length] = 1.0
        return states, mask


@dataclass
class FeatureSet:
    guids: list[str]
    splits: list[str]
    labels: list[str | None]
    text: np.ndarray
    image: np.ndarray
    image_views: np.ndarray  # rows follow the labelled pairs in manifest order
    encoders: EncoderIdentity
    text_tokens: TokenStates | None = None
    text_top: dict | None = None  # {"config": encoder config dict, "state_dict": top layers}
    texts: list[str] | None = None  # the posts' text, for the lexical model
    produced_by: Provenance | None = None  # what made them beyond their params

    def texts_of(self, rows) -> list[str]:
        if self.texts is None:
            raise MsaError("these features hold no texts (made by an older msa); rerun featurize")
        return [self.texts[i] for i in rows]

    def text_input(self, rows, tuned: bool):
        """What the model's text side takes for these rows: pooled features, or token states."""
        if not tuned:
            return torch.from_numpy(self.text[rows])
        if self.text_tokens is None:
            raise MsaError("these features hold no token states; featurize under "
                           "train.text_tuning top")
        return self.text_tokens.batch(rows)

    def rows(self, guids: list[str]) -> np.ndarray:
        position = {g: i for i, g in enumerate(self.guids)}
        missing = [g for g in guids if g not in position]
        if missing:
            raise MsaError(f"no features for guid {missing[0]} ({len(missing)} in all)")
        return np.array([position[g] for g in guids], dtype=np.int64)

    def view_rows(self, guids: list[str]) -> np.ndarray:
        labelled = [g for g, s in zip(self.guids, self.splits) if s == "train"]
        position = {g: i for i, g in enumerate(labelled)}
        return np.array([position[g] for g in guids], dtype=np.int64)


_FILES = ("text.npy", "image.npy", "image_views.npy", "text_tokens.npy", "text_offsets.npy",
          "text_top.pt")


def save(features: FeatureSet, folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(features, name) for name in ("text", "image", "image_views")}
    if features.text_tokens is not None:
        arrays |= {"text_tokens": features.text_tokens.values,
                   "text_offsets": features.text_tokens.offsets}
    for stale in ("text_tokens.npy", "text_offsets.npy", "text_top.pt"):
        (folder / stale).unlink(missing_ok=True)
    for name, array in arrays.items():
        # A handle, not a name: np.save would add ".npy" to the temporary one.
        with atomic_path(folder / f"{name}.npy") as tmp, tmp.open("wb") as handle:
            np.save(handle, array)
    if features.text_top is not None:
        with atomic_path(folder / "text_top.pt") as tmp:
            torch.save(features.text_top, tmp)
    write_json(folder / "index.json", {
        "guids": features.guids, "splits": features.splits, "labels": features.labels,
        "texts": features.texts, "encoders": features.encoders.to_json(),
        "produced_by": features.produced_by.to_json() if features.produced_by else None,
    })


def save_record(folder: str | Path, encoders: EncoderIdentity, regime: str,
                features: str) -> None:
    """What featurize leaves where the regime reads no features: the encoders train builds,
    the regime, and why it holds no `features`; nothing else (any earlier cache goes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in _FILES:
        (folder / stale).unlink(missing_ok=True)
    write_json(folder / "index.json", {"regime": regime, "encoders": encoders.to_json(),
                                       "features": features})


def load(folder: str | Path) -> FeatureSet:
    folder = Path(folder)
    if not (folder / "index.json").is_file():
        raise MsaError(f"{folder}: no feature cache here (run the featurize stage first)")
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    if "features" in index:  # a record, not a cache
        raise MsaError(f"{folder}: featurize ran under train.regime {index['regime']} and "
                       f"cached no features ({index['features']}); rerun it under a regime "
                       "that reads them (dvc repro does)")
    arrays = {n: np.load(folder / f"{n}.npy") for n in ("text", "image", "image_views")}
    tokens = top = None
    if (folder / "text_top.pt").is_file():
        tokens = TokenStates(np.load(folder / "text_tokens.npy"),
                             np.load(folder / "text_offsets.npy"))
        top = torch.load(folder / "text_top.pt", map_location="cpu", weights_only=True)
    return FeatureSet(index["guids"], index["splits"], index["labels"],
                      encoders=EncoderIdentity.from_json(index["encoders"]),
                      text_tokens=tokens, text_top=top, texts=index.get("texts"),
                      produced_by=(Provenance.from_json(index["produced_by"])
                                   if index.get("produced_by") else None), **arrays)

