"""A small synthetic dataset in the lab5 layout, deterministic from a seed.

Each modality carries the true label only part of the time (independently), so text alone,
image alone and both together score differently. Texts come in mixed encodings, as in lab5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from msa import LABELS
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
FILLERS = ["#photo", "#today", "@friend", "RT", "lol", "city", "morning", "weekend", "http://t.co/x"]
CHINESE = ["今天", "天气", "朋友", "周末"]
# Image styles: base colour (RGB) and the shape drawn on it.
STYLES = {
    "positive": ((235, 180, 40), "ellipse"),
    "negative": ((30, 40, 90), "line"),
    "neutral": ((120, 140, 120), "rectangle"),
}


def _other(label: str, rng: np.random.Generator) -> str:
    return str(rng.choice([x for x in LABELS if x != label]))


def _text(label: str, rng: np.random.Generator) -> str:
    words = [str(rng.choice(PHRASES[label]))]
    words += [str(w) for w in rng.choice(FILLERS, size=rng.integers(1, 4))]
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


def write_demo_data(root: str | Path, n_labelled: int = 300, n_test: int = 60, seed: int = 0,
                    text_signal: float = 0.75, image_signal: float = 0.7) -> None:
    root = Path(root)
    if root.exists() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise MsaError(f"{root}: folder is not empty and was not made by `msa demo-data`; "
                       "choose an empty or new folder")
    rng = np.random.default_rng(seed)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(f"made by msa demo-data, seed {seed}\n", encoding="utf-8")
    n = n_labelled + n_test
    guids = [str(g) for g in rng.choice(np.arange(1, 10 * n), size=n, replace=False)]
    labels = [str(x) for x in rng.choice(list(CLASS_SHARE), size=n, p=list(CLASS_SHARE.values()))]
    for guid, label in zip(guids, labels):
        text_label = label if rng.random() < text_signal else _other(label, rng)
        image_label = label if rng.random() < image_signal else _other(label, rng)
        text = _text(text_label, rng)
        if rng.random() < 0.2:  # lab5 mixes UTF-8 and GBK/GB18030 files
            payload = (text + " " + str(rng.choice(CHINESE))).encode("gb18030")
        else:
            payload = text.encode("utf-8")
        (root / "data" / f"{guid}.txt").write_bytes(payload)
        _image(image_label, rng).save(root / "data" / f"{guid}.jpg", quality=90)
    train_rows = "".join(f"{g},{t}\n" for g, t in zip(guids[:n_labelled], labels[:n_labelled]))
    test_rows = "".join(f"{g},null\n" for g in guids[n_labelled:])
    (root / "train.txt").write_text("guid,tag\n" + train_rows, encoding="utf-8")
    (root / "test_without_label.txt").write_text("guid,tag\n" + test_rows, encoding="utf-8")
