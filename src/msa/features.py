"""Batched, progress-reporting feature extraction with frozen encoders, and the cache format.

The cache is a folder:
    text.npy         float32 [pairs, text_dim]      every usable pair, manifest order
    image.npy        float32 [pairs, image_dim]     the clean (evaluation) view of every pair
    image_views.npy  float32 [labelled, views, image_dim]  augmented views of the labelled pairs
    index.json       guids, splits, labels, and the encoders that made the arrays
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

import cv2
import numpy as np
import torch
from tqdm import tqdm

from msa import backbones
from msa.augment import eval_pipeline, load_rgb, resize_size, to_chw, train_pipeline
from msa.backbones import ImageSpec
from msa.data import Pair
from msa.errors import MsaError
from msa.files import write_json
from msa.params import AugmentParams, FeaturizeParams


@dataclass
class FeatureSet:
    guids: list[str]
    splits: list[str]
    labels: list[str | None]
    text: np.ndarray
    image: np.ndarray
    image_views: np.ndarray  # rows follow the labelled pairs in manifest order
    encoders: dict

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


def encoder_identity(params: FeaturizeParams) -> dict:
    """What a model trained on these features needs to match at prediction time."""
    return {
        "text_model": params.text_model,
        "text_pooling": params.text_pooling,
        "text_max_length": params.text_max_length,
        "image_model": params.image_model,
        "image_weights": params.image_weights,
    }


def _autocast(params: FeaturizeParams):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=params.precision == "bf16")


@torch.inference_mode()
def encode_texts(texts: list[str], params: FeaturizeParams, show_progress: bool = True) -> np.ndarray:
    tokenizer, model = backbones.build_text_encoder(params.text_model)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                             max_length=params.text_max_length)["input_ids"]]
    # Length-sorted batches pad little; the output goes back to input order.
    order = np.argsort(lengths, kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    batches = [order[i:i + params.text_batch_size]
               for i in range(0, len(order), params.text_batch_size)]
    with tqdm(total=len(texts), desc="featurize text", unit="text", disable=not show_progress) as bar:
        for batch in batches:
            encoded = tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                max_length=params.text_max_length, return_tensors="pt")
            with _autocast(params):
                hidden = model(**encoded).last_hidden_state
            if params.text_pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[batch] = pooled.float().numpy()
            bar.update(len(batch))
    return out


class _ImageViews:
    """Item i: the clean view of image i, then `views[i]` augmented views of it."""

    def __init__(self, paths, views, spec: ImageSpec, augment: AugmentParams, seed: int):
        self.paths, self.views, self.spec = paths, views, spec
        self.clean = eval_pipeline(spec)
        self.augment = train_pipeline(spec, augment, seed)
        self.seed = seed

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        image = load_rgb(self.paths[i], resize_size(self.spec), self.spec.interpolation)
        out = [self.clean(image)]
        # Seeding per image makes every view independent of batch size and worker scheduling.
        self.augment.set_random_seed(self.seed * 1_000_003 + i)
        out += [to_chw(self.augment(image=image)["image"]) for _ in range(self.views[i])]
        return np.stack(out)


def _prefetched(batches, depth: int = 4):
    """Yield the items of `batches`, computed `depth` ahead in one background thread.

    Decoding and augmentation (PIL, OpenCV) release the GIL, so they overlap with the encoder.
    A thread, unlike a worker process, needs no start-up imports and no pickling.
    """
    queue: Queue = Queue(maxsize=depth)
    done = object()

    def produce():
        try:
            for item in batches:
                queue.put(item)
        except BaseException as exc:  # re-raised in the consumer
            queue.put(exc)
        queue.put(done)

    threading.Thread(target=produce, daemon=True).start()
    while (item := queue.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


@torch.inference_mode()
def encode_images(paths: list[str], views: list[int], params: FeaturizeParams,
                  augment: AugmentParams, seed: int, show_progress: bool = True):
    """(clean features [n, d], augmented features [n, max(views), d])."""
    model, spec = backbones.build_image_encoder(params.image_model, params.image_weights)
    model = model.to(memory_format=torch.channels_last)
    dataset = _ImageViews(paths, views, spec, augment, seed)
    pairs_per_batch = max(1, params.image_batch_size // (1 + max(views, default=0)))
    cv2.setNumThreads(1)  # one core decodes and augments; the encoder has the rest
    batches = _prefetched(
        [torch.from_numpy(dataset[i]) for i in range(start, min(start + pairs_per_batch, len(paths)))]
        for start in range(0, len(paths), pairs_per_batch)
    )
    clean = np.zeros((len(paths), spec.dim), dtype=np.float32)
    augmented = np.zeros((len(paths), max(views, default=0), spec.dim), dtype=np.float32)
    start = 0
    with tqdm(total=len(paths), desc="featurize images", unit="image",
              disable=not show_progress) as bar:
        for stacks in batches:
            batch = torch.cat(stacks).contiguous(memory_format=torch.channels_last)
            with _autocast(params):
                features = model(batch).float().numpy()
            offset = 0
            for j, stack in enumerate(stacks):
                clean[start + j] = features[offset]
                augmented[start + j, : len(stack) - 1] = features[offset + 1: offset + len(stack)]
                offset += len(stack)
            start += len(stacks)
            bar.update(len(stacks))
    return clean, augmented


def featurize(pairs: list[Pair], params: FeaturizeParams, augment: AugmentParams, seed: int,
              show_progress: bool = True) -> FeatureSet:
    if not pairs:
        raise MsaError("the manifest holds no usable pairs to featurize")
    torch.manual_seed(seed)
    text = encode_texts([p.text for p in pairs], params, show_progress)
    views = [augment.views if p.split == "train" else 0 for p in pairs]
    clean, augmented = encode_images([p.image for p in pairs], views, params, augment, seed,
                                     show_progress)
    labelled = [i for i, p in enumerate(pairs) if p.split == "train"]
    return FeatureSet(
        guids=[p.guid for p in pairs], splits=[p.split for p in pairs],
        labels=[p.label for p in pairs], text=text, image=clean,
        image_views=augmented[labelled], encoders=encoder_identity(params),
    )


def save(features: FeatureSet, folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("text", "image", "image_views"):
        tmp = folder / f"{name}.tmp.npy"
        np.save(tmp, getattr(features, name))
        tmp.replace(folder / f"{name}.npy")
    write_json(folder / "index.json", {
        "guids": features.guids, "splits": features.splits, "labels": features.labels,
        "encoders": features.encoders,
    })


def load(folder: str | Path) -> FeatureSet:
    folder = Path(folder)
    if not (folder / "index.json").is_file():
        raise MsaError(f"{folder}: no feature cache here (run the featurize stage first)")
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    arrays = {n: np.load(folder / f"{n}.npy") for n in ("text", "image", "image_views")}
    return FeatureSet(index["guids"], index["splits"], index["labels"], encoders=index["encoders"],
                      **arrays)

