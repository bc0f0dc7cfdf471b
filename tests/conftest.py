"""Shared fixtures: small lab5-layout folders made by the tests themselves."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
LAB5 = Path(os.environ.get("LAB5", REPO.parent / "shared" / "lab5"))


def write_image(path: Path, colour=(200, 100, 50), size=(64, 48), mode="RGB", fmt="JPEG"):
    image = Image.new("RGB", size, colour)
    pixels = np.asarray(image).copy()
    pixels[::7] = 255 - pixels[::7]  # some structure, so features differ from a flat colour
    image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)


def make_lab5(root: Path, train: dict[str, str], test: list[str], texts: dict | None = None,
              train_lines: list[str] | None = None, test_lines: list[str] | None = None) -> Path:
    """A lab5 folder with a JPEG and a UTF-8 text for every guid named (unless overridden)."""
    texts = texts or {}
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    for k, guid in enumerate(list(train) + list(test)):
        write_image(data / f"{guid}.jpg", colour=(40 * k % 255, 90, 160))
        payload = texts.get(guid, f"post number {guid}")
        (data / f"{guid}.txt").write_bytes(payload if isinstance(payload, bytes)
                                           else payload.encode("utf-8"))
    lines = train_lines if train_lines is not None else [f"{g},{t}" for g, t in train.items()]
    (root / "train.txt").write_text("\n".join(["guid,tag", *lines]) + "\n", encoding="utf-8")
    lines = test_lines if test_lines is not None else [f"{g},null" for g in test]
    (root / "test_without_label.txt").write_text("\n".join(["guid,tag", *lines]) + "\n",
                                                 encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    from msa.demo import write_demo_data

    root = tmp_path_factory.mktemp("demo")
    write_demo_data(root, n_labelled=60, n_test=12, seed=3)
    return root


@pytest.fixture(scope="session")
def demo_features(demo_root):
    """Features of the small demo set with the packaged encoders (fp32 for exact comparisons)."""
    from msa import data, features
    from msa.params import AugmentParams, FeaturizeParams

    pairs, _ = data.prepare(demo_root, show_progress=False)
    params = FeaturizeParams(image_batch_size=16)
    cache = features.featurize(pairs, params, AugmentParams(views=2),
                               show_progress=False)
    return pairs, cache


def make_tiny_bert(folder: Path) -> Path:
    """A random-initialised two-layer BERT (32-d) with a character-level WordPiece vocabulary,
    saved as a local model folder, as a user's own encoder would be."""
    import string

    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    characters = string.ascii_lowercase + string.digits
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters,
             *(f"##{c}" for c in characters), *string.punctuation]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    return folder


# A random-initialised timm CNN small enough for CPU tests (pooled output 1024-d).
TINY_IMAGE_MODEL = {"image_model": "mobilenetv3_small_050", "image_weights": "random"}


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))
