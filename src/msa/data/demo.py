"""A small synthetic dataset in any input layout, deterministic from a seed.

Each modality carries the true label only part of the time (independently), so text alone,
image alone and both together score differently. The cues are faint, as in real posts (a short
phrase among fillers, base colours that overlap between classes), so that a model learns them
over several epochs, and early stopping's patience has a curve to act on. Texts come in mixed
encodings, as in lab5.
Every layout of `msa.layouts` writes its own files around the posts (`write_demo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from msa import LABELS
from msa import layouts
from msa.errors import MsaError

MARKER = ".msa-demo"
CLASS_SHARE = {"negative": 0.3, "neutral": 0.2, "positive": 0.5}
PHRASES = {
    "positive": ["what a wonderful day", "I love this so much", "feeling happy and grateful",
                 "best concert ever, amazing", "so proud of my team", "great news today"],
    "negative": ["this is terrible", "I hate waiting in the rain", "so sad and angry right now",
                 "worst service ever, awful", "feeling sick and tired", "what a disaster"],
    "neutral": ["the meeting starts at noon", "bus schedule for line four",
                "weather report for tuesday", "new post on the blog", "photo from the office",
                "updated the spreadsheet"],
}
FILLERS = ["#photo", "#today", "@friend", "RT", "lol", "city", "morning", "weekend",
           "http://t.co/x", "so", "the", "new", "again", "here", "just", "post", "look", "now",
           "#tbt"]
CHINESE = ["今天", "天气", "朋友", "周末"]
# Image styles: base colour (RGB) and the shape drawn on it.
STYLES = {
    "positive": ((170, 150, 90), "ellipse"),
    "negative": ((110, 110, 130), "line"),
    "neutral": ((140, 140, 120), "rectangle"),
}


def _other(label: str, rng: np.random.Generator) -> str:
    return str(rng.choice([x for x in LABELS if x != label]))


def _text(label: str, rng: np.random.Generator) -> str:
    words = [str(rng.choice(PHRASES[label]))]
    words += [str(w) for w in rng.choice(FILLERS, size=rng.integers(3, 8))]
    rng.shuffle(words)
    return " ".join(words)


def _image(label: str, rng: np.random.Generator) -> Image.Image:
    colour, shape = STYLES[label]
    size = int(rng.integers(96, 192))
    jitter = rng.integers(-40, 41, size=3)
    base = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jitter))
    image = Image.new("RGB", (size, size), base)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = (int(v) for v in rng.integers(0, size - 20, size=2))
        x1, y1 = x0 + int(rng.integers(10, size // 2)), y0 + int(rng.integers(10, size // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, size=3))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.line((x0, y0, x1, y1), fill=fill, width=int(rng.integers(2, 6)))
    noise = rng.normal(0, 12, size=(size, size, 3))
    pixels = np.clip(np.asarray(image, dtype=float) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.SMOOTH)


@dataclass(frozen=True)
class DemoPost:
    guid: str
    label: str
    text_label: str  # the label its text carries (the true one, mostly)
    image_label: str


def write_demo_data(root: str | Path, n_labelled: int = 300, n_test: int = 60, seed: int = 0,
                    text_signal: float = 0.75, image_signal: float = 0.7,
                    layout: str = "lab5") -> None:
    """`n_labelled + n_test` posts; the layouts that name no posts to predict (MVSA) label them
    all (data.test_fraction chooses), and the label rule drops some of their posts."""
    if layout not in layouts.LAYOUTS:
        raise MsaError(f"demo data: unknown format {layout!r}; use one of "
                       f"{', '.join(layouts.NAMES)}")
    root = Path(root)
    if root.exists() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise MsaError(f"{root}: folder is not empty and was not made by `msa demo-data`; "
                       "choose an empty or new folder")
    rng = np.random.default_rng(seed)
    writer = layouts.module(layout)
    folder = root / writer.DEMO_FILES
    folder.mkdir(parents=True, exist_ok=True)
    # The default layout goes unnamed, as in the folders msa wrote before it knew others.
    layout_note = "" if layout == layouts.NAMES[0] else f", {layout}"
    (root / MARKER).write_text(f"made by msa demo-data, seed {seed}{layout_note}\n",
                               encoding="utf-8")
    n = n_labelled + n_test
    guids = [str(g) for g in rng.choice(np.arange(1, 10 * n), size=n, replace=False)]
    labels = [str(x) for x in rng.choice(list(CLASS_SHARE), size=n, p=list(CLASS_SHARE.values()))]
    posts = []
    for guid, label in zip(guids, labels):
        text_label = label if rng.random() < text_signal else _other(label, rng)
        image_label = label if rng.random() < image_signal else _other(label, rng)
        posts.append(DemoPost(guid, label, text_label, image_label))
        text = _text(text_label, rng)
        if rng.random() < 0.2:  # lab5 mixes UTF-8 and GBK/GB18030 files
            payload = (text + " " + str(rng.choice(CHINESE))).encode("gb18030")
        else:
            payload = text.encode("utf-8")
        (folder / f"{guid}.txt").write_bytes(payload)
        _image(image_label, rng).save(folder / f"{guid}.jpg", quality=90)
    writer.write_demo(layout, root, posts, n_labelled, rng)
