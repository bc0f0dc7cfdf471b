"""Small data the tests make: synthetic features whose text carries the label more than the
image does, tiny token states for the tuned text layers, and the heads regime on the driver."""

from dataclasses import replace

import numpy as np
import torch

from msa import LABELS
from msa.features.identity import EncoderIdentity
from msa.features.store import FeatureSet
from msa.params import FeaturizeParams, TrainParams
from msa.training import driver, heads


# the encoders synthetic features stand for: the defaults
IDENTITY = EncoderIdentity.of(FeaturizeParams())


def synthetic_texts(index, rng):
    """Filler words, and a handle that names the label for 70% of the posts (else a random one)."""
    filler = ["the", "a", "day", "photo", "new", "look", "today", "http"]
    handles = [f"@{x}fan" for x in LABELS]
    return [" ".join([*rng.choice(filler, 4),
                      handles[i if rng.random() < 0.7 else rng.integers(len(LABELS))]])
            for i in index]


def synthetic_features(n=150, seed=0, views=2):
    """Text carries the label; image carries it more weakly. Classes are imbalanced."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(LABELS, size=n, p=[0.3, 0.15, 0.55])
    index = np.array([LABELS.index(x) for x in labels])
    text = rng.normal(size=(n, 10)).astype(np.float32)
    text[np.arange(n), index] += 3.0
    image = rng.normal(size=(n, 14)).astype(np.float32)
    image[np.arange(n), index] += 1.5
    image_views = (image[:, None, :] + rng.normal(scale=0.3, size=(n, views, 14))).astype(np.float32)
    guids = [str(i) for i in range(n)]
    return FeatureSet(guids, ["train"] * n, list(labels), text, image, image_views, IDENTITY,
                      texts=synthetic_texts(index, rng))


def train_fold(cache, folds, fold, mode, params, seed, dtype="fp32", on_epoch=None):
    """One fold of the heads regime on the cross-validation driver."""
    return driver.train_fold(heads.Heads(cache, mode, params, seed, dtype), folds, fold, on_epoch)


def train_cross_validated(cache, folds, mode, params, seed, dtype="fp32", show_progress=True,
                          on_epoch=None):
    return driver.cross_validate(heads.Heads(cache, mode, params, seed, dtype), folds,
                                 show_progress, on_epoch)


def folds_for(cache, k=3):
    return {g: i % k for i, g in enumerate(cache.guids)}


# The network alone (the lexical blend has tests of its own below).
PARAMS = TrainParams(epochs=30, batch_size=16, lr=3e-3, patience=4, hidden_dim=16,
                     image_hidden_dim=16, attention_heads=4, monitor="val_loss",
                     early_stopping="holdout", lexical_weight=0.0)


def synthetic_token_features(n=120, seed=0, dim=32):
    """Token states that carry the label in every token; a tiny randomly initialised BERT on top."""
    from transformers import BertConfig

    from msa.features.store import TokenStates
    from msa.training.model import TextTop

    rng = np.random.default_rng(seed)
    cache = synthetic_features(n=n, seed=seed)
    index = np.array([LABELS.index(x) for x in cache.labels])
    lengths = rng.integers(3, 12, size=n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = rng.normal(scale=0.5, size=(offsets[-1], dim))
    values[np.arange(offsets[-1]), np.repeat(index, lengths)] += 2.0
    config = BertConfig(hidden_size=dim, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64).to_dict()
    torch.manual_seed(seed)
    pretrained = TextTop(config, 2, "mean", bf16=False).layers.state_dict()
    cache.text = np.zeros((n, dim), dtype=np.float32)  # the frozen pooled features are unused
    cache.text_tokens = TokenStates(values.astype(np.float16), offsets)
    cache.text_top = {"config": config, "state_dict": pretrained}
    cache.encoders = IDENTITY.replace(text_tuned_layers=2)
    return cache


TUNED = replace(PARAMS, epochs=12, text_tuning="top", text_encoder_lr=1e-3)
