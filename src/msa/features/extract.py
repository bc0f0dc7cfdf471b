"""Batched, progress-reporting feature extraction with the pretrained encoders
(`msa.features.backbones`) and the image views (`msa.features.augment`), into a FeatureSet
(`msa.features.store`)."""

from __future__ import annotations

import sys
import threading
from queue import Queue

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from msa import precision
from msa.data.prepared import Pair
from msa.errors import MsaError
from msa.features import backbones, encoders
from msa.features.backbones import ImageSpec
from msa.features.identity import EncoderIdentity
from msa.features.towers import TextTower
from msa.features.store import FeatureSet, TokenStates
from msa.parallel import ALONE, Shares
from msa.params import AugmentParams, FeaturizeParams

_CPU = torch.device("cpu")


# Encoders whose layers are BERT's (msa.training.model.TextTop runs them on cached states).
BERT_LAYERS = ("bert", "roberta", "xlm-roberta", "electra", "camembert")


def encoder_identity(params: FeaturizeParams, top_layers: int = 0) -> EncoderIdentity:
    """What a model trained on these features needs to match at prediction time: the encoders
    (msa.features.encoders), how they are read, and the top text layers whose input states
    are cached for train to tune (train.text_tuning top under heads; else 0)."""
    return EncoderIdentity.of(params, top_layers)


def _top_layers(model, name: str, top_layers: int) -> dict:
    """The pretrained weights of the layers train will fine-tune, and what rebuilds them."""
    config = model.config
    if config.model_type not in BERT_LAYERS:
        raise MsaError(
            f"train.text_tuning: top under train.regime heads tunes the top layers of a "
            f"BERT-family encoder ({', '.join(BERT_LAYERS)}) on their cached input states; "
            f"{name} is a {config.model_type!r} model: tune its top layers under train.regime "
            "finetune, or set train.text_tuning to frozen")
    if top_layers > config.num_hidden_layers:
        raise MsaError(f"train.text_top_layers: {top_layers} is not allowed; {name} has "
                       f"{config.num_hidden_layers} layers")
    layers = model.encoder.layer[-top_layers:]
    # Where the encoder was loaded from would tie the cache (and its DVC hash) to one install.
    portable = {k: v for k, v in config.to_dict().items() if k != "_name_or_path"}
    return {"config": portable,
            "state_dict": {k: v.clone() for k, v in layers.state_dict().items()}}


@torch.inference_mode()
def encode_texts(texts: list[str], tower: TextTower, params: FeaturizeParams,
                 dtype: str = "fp32", show_progress: bool = True, device: torch.device = _CPU,
                 shares: Shares = ALONE, top_layers: int = 0):
    """(pooled features [n, d], token states entering the `top_layers` train tunes or None,
    those layers) on the main process, None on the others (each encodes its share of the
    batches)."""
    tower = tower.to(device)
    tuned = top_layers
    top = _top_layers(tower.encoder, params.text_model, tuned) if tuned else None
    lengths = tower.lengths(texts)
    # Length-sorted batches pad little; the output goes back to input order.
    order = np.argsort(lengths, kind="stable")
    batches = shares.mine([order[i:i + params.text_batch_size]
                           for i in range(0, len(order), params.text_batch_size)])
    encoded = []
    with tqdm(total=sum(map(len, batches)), desc="featurize text", unit="text",
              disable=not (show_progress and shares.is_main)) as bar:
        for batch in batches:
            inputs = {k: v.to(device) for k, v in tower.tokenize([texts[i] for i in batch]).items()}
            with precision.autocast(dtype, device):
                if tuned:  # the states entering the tuned layers too
                    result = tower.encoder(**inputs, output_hidden_states=True)
                    pooled = tower.read(result, inputs["attention_mask"])
                else:
                    pooled = tower(**inputs)
            entering = (result.hidden_states[-1 - tuned].float().cpu().numpy().astype(np.float16)
                        if tuned else None)
            states = [entering[j, :lengths[i]] for j, i in enumerate(batch)] if tuned else None
            encoded.append((batch, pooled.float().cpu().numpy(), states))
            bar.update(len(batch))
    encoded = shares.gather(encoded)
    if encoded is None:
        return None
    out = np.zeros((len(texts), tower.dim), dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = np.zeros((offsets[-1] if tuned else 0, tower.dim), dtype=np.float16)
    for batch, pooled, states in encoded:
        out[batch] = pooled
        for i, state in zip(batch, states or []):
            tokens[offsets[i]:offsets[i + 1]] = state
    return out, (TokenStates(tokens, offsets) if tuned else None), top


class _ImageViews:
    """Item i: the clean view of image i, then its draws 1..`views[i]` (msa.features.augment)."""

    def __init__(self, paths, guids, views, spec: ImageSpec, augment: AugmentParams):
        # The image pipeline (albumentations, OpenCV, torchvision) loads here, where images are
        # decoded: ~2 s a process that train, which only reads the cache, does not pay.
        import cv2

        from msa.features.augment import ImageViews

        cv2.setNumThreads(1)  # one core decodes and augments
        self.paths, self.guids, self.views = paths, guids, views
        self.pictures = ImageViews(spec, augment)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        pictures = self.pictures
        image = pictures.load(self.paths[i])
        out = [pictures.clean(image)]
        out += [pictures.draw(image, self.guids[i], draw) for draw in range(1, self.views[i] + 1)]
        return torch.from_numpy(np.stack(out))


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


def image_batch_size(params: FeaturizeParams, dtype: str, device: torch.device = _CPU) -> int:
    """Images per encoder call: the param, or where it is 0 (auto) by the device and precision
    (a GPU wants batches large enough to fill it; a CPU's stay in its caches)."""
    if params.image_batch_size:
        return params.image_batch_size
    if device.type != "cpu":
        return 128
    return 32 if dtype == "bf16" else 8


@torch.inference_mode()
def encode_images(paths: list[str], guids: list[str], views: list[int], model: nn.Module,
                  spec: ImageSpec, params: FeaturizeParams, augment: AugmentParams,
                  dtype: str = "fp32", show_progress: bool = True, device: torch.device = _CPU,
                  shares: Shares = ALONE):
    """(clean features [n, d], augmented features [n, max(views), d]) on the main process, None
    on the others (each encodes its share of the batches); post i's views are draws
    1..views[i] of its image, keyed by `guids[i]`.

    With native bf16 the encoder is fast enough for decoding to pay for its own thread, ahead of
    it; in fp32 that thread beside the encoder's makes them wait on each other on a small CPU
    (measured 20-25% slower on 2 cores with AVX2 kernels), so there they take turns.
    """
    if dtype == "fp32":
        # In fp32 folding is exact and faster; in bf16 the folded weights' wider range rounds
        # coarsely and moves the features away from fp32's (bench/RESULTS.md, features_match).
        model = backbones.fold_batch_norms(model, spec.input_size)
    model = model.to(device, memory_format=torch.channels_last)
    dataset = _ImageViews(paths, guids, views, spec, augment)
    most_views = max(views, default=0)
    pairs_per_batch = max(1, image_batch_size(params, dtype, device) // (1 + most_views))
    starts = shares.mine(range(0, len(paths), pairs_per_batch))
    spans = [(start, min(start + pairs_per_batch, len(paths))) for start in starts]
    encoded = []
    with tqdm(total=sum(stop - start for start, stop in spans), desc="featurize images",
              unit="image", disable=not (show_progress and shares.is_main)) as bar:
        batches = ([dataset[i] for i in range(start, stop)] for start, stop in spans)
        # A GPU encodes while the CPU decodes the next batches.
        for (start, _), stacks in zip(spans, _prefetched(batches)
                                      if dtype == "bf16" or device.type != "cpu" else batches):
            batch = torch.cat(stacks).to(device).contiguous(memory_format=torch.channels_last)
            with precision.autocast(dtype, device):
                features = model(batch).float().cpu().numpy()
            clean = np.zeros((len(stacks), spec.dim), dtype=np.float32)
            augmented = np.zeros((len(stacks), most_views, spec.dim), dtype=np.float32)
            offset = 0
            for j, stack in enumerate(stacks):
                clean[j] = features[offset]
                augmented[j, : len(stack) - 1] = features[offset + 1: offset + len(stack)]
                offset += len(stack)
            encoded.append((start, clean, augmented))
            bar.update(len(stacks))
    encoded = shares.gather(encoded)
    if encoded is None:
        return None
    clean = np.zeros((len(paths), spec.dim), dtype=np.float32)
    augmented = np.zeros((len(paths), most_views, spec.dim), dtype=np.float32)
    for start, batch_clean, batch_augmented in encoded:
        clean[start:start + len(batch_clean)] = batch_clean
        augmented[start:start + len(batch_clean)] = batch_augmented
    return clean, augmented


def featurize(pairs: list[Pair], params: FeaturizeParams, augment: AugmentParams,
              dtype: str = "fp32", show_progress: bool = True,
              device: torch.device = _CPU, shares: Shares = ALONE,
              top_layers: int = 0) -> FeatureSet | None:
    """Features of every pair on the main process (None on the others: each encodes its share),
    and the states entering the `top_layers` text layers train tunes; the augmented views are
    seeded by `augment.seed`.

    `dtype` (bf16 | fp32) is where the encoders autocast on `device`: msa.precision.resolve of
    the param.
    """
    if not pairs:
        raise MsaError("the manifest holds no usable pairs to featurize")
    torch.manual_seed(augment.seed)
    identity = encoder_identity(params, top_layers)
    tower, (image_model, spec) = encoders.towers(identity)
    said = encoders.resolved(identity, tower, image_model)
    if "text_tokens_read" in said and shares.is_main:
        print(f"featurize: {params.text_model} reads at most {said['text_tokens_read']} tokens "
              f"(its positions): featurize.text_max_length {params.text_max_length} is capped",
              file=sys.stderr, flush=True)
    texts = encode_texts([p.text for p in pairs], tower, params, dtype, show_progress, device,
                         shares, top_layers)
    views = [augment.views if augment.enabled and p.split == "train" else 0 for p in pairs]
    images = encode_images([p.image for p in pairs], [p.guid for p in pairs], views,
                           image_model, spec, params, augment, dtype, show_progress, device,
                           shares)
    if not shares.is_main:
        return None
    (text, tokens, top), (clean, augmented) = texts, images
    labelled = [i for i, p in enumerate(pairs) if p.split == "train"]
    return FeatureSet(
        guids=[p.guid for p in pairs], splits=[p.split for p in pairs],
        labels=[p.label for p in pairs], text=text, image=clean,
        image_views=augmented[labelled], encoders=identity,
        text_tokens=tokens, text_top=top, texts=[p.text for p in pairs],
        produced_by=precision.provenance(dtype, device).replace(**said, **(
            {"processes": shares.processes} if shares.processes > 1 else {})),
    )
