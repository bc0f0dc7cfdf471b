"""The posts behind the numbers: the most confident mistakes of each true class, how far the
out-of-fold probabilities can be trusted (a reliability diagram), and the data at a glance.
Drawn from the records and the prepared data only, never from models.
"""

from __future__ import annotations

import functools
import textwrap
import unicodedata
import warnings
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from msa import LABELS  # noqa: E402
from msa.data.prepared import Pair  # noqa: E402
from msa.evaluation import metrics  # noqa: E402
from msa.files import save_figure  # noqa: E402

THUMBNAIL = 192  # pixels on the longer side


def confident_mistakes(rows: list[dict], probs: np.ndarray, per_class: int) -> dict[str, list]:
    """Per true class, up to `per_class` (row, probability of the wrong prediction) of its
    mistakes, the surest first (ties by guid)."""
    chosen = {}
    for label in LABELS:
        wrong = [(r, float(p.max())) for r, p in zip(rows, probs)
                 if r["label"] == label and r["predicted"] != label]
        chosen[label] = sorted(wrong, key=lambda x: (-x[1], x[0]["guid"]))[:per_class]
    return chosen


def _thumbnail(path: str) -> np.ndarray | None:
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((THUMBNAIL, THUMBNAIL))
            return np.asarray(image)
    except OSError:
        return None


@functools.cache
def _glyphs() -> frozenset[int]:
    """The code points the figures' font draws."""
    from matplotlib import font_manager, ft2font

    return frozenset(ft2font.FT2Font(font_manager.findfont(
        font_manager.FontProperties())).get_charmap())


# Joiners, variation selectors and skin-tone modifiers shape an emoji; alone they draw nothing.
_SHAPING = frozenset({0x200D, 0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)})


_REGIONAL = range(0x1F1E6, 0x1F200)  # the letters a flag is written in


def drawable(text: str) -> str:
    """The text as the figures can draw it: an emoji or other symbol the font lacks is written
    as its name (":thumbs up sign:", a flag ":flag us:"), where it would be a box."""
    out = []
    for char in text:
        code = ord(char)
        if code in _SHAPING:
            continue
        if code in _REGIONAL:
            letter = chr(ord("a") + code - _REGIONAL.start)
            flag = out[-1] if out and out[-1].startswith(" :flag ") else None
            out[-1:] = ([flag[:-2] + letter + ": "] if flag and len(flag) < 11
                        else [*out[-1:], f" :flag {letter}: "])
        elif code not in _glyphs() and unicodedata.category(char) in ("So", "Sk"):
            name = unicodedata.name(char, "")
            out.append(f" :{name.lower()}: " if name else "")
        else:
            out.append(char)
    return "".join(out)


def _caption(text: str, width: int = 34, lines: int = 6) -> str:
    wrapped = textwrap.wrap(" ".join(drawable(text).split()), width) or ["(no text)"]
    return "\n".join(wrapped[:lines - 1] + [textwrap.shorten(" ".join(wrapped[lines - 1:]),
                                                             width, placeholder=" ...")]
                     if len(wrapped) > lines else wrapped)


def plot_mistakes(rows: list[dict], probs: np.ndarray, pairs: dict[str, Pair],
                  path: str | Path, title: str = "", per_class: int = 4) -> None:
    chosen = confident_mistakes(rows, probs, per_class)
    fig, axes = plt.subplots(len(LABELS), per_class, figsize=(3.2 * per_class, 5.2 * len(LABELS)),
                             squeeze=False)
    with warnings.catch_warnings():
        # Some scripts (CJK) have no glyph in matplotlib's font: drawn as boxes (emoji, by
        # their names: `drawable`).
        warnings.filterwarnings("ignore", message=".*[Gg]lyph.*")
        for row_axes, label in zip(axes, LABELS):
            for k, ax in enumerate(row_axes):
                ax.set_xticks([])
                ax.set_yticks([])
                if k >= len(chosen[label]):
                    ax.axis("off")
                    if k == 0:
                        ax.set_title(f"true {label}: no mistakes", fontsize=10)
                    continue
                row, probability = chosen[label][k]
                pair = pairs.get(row["guid"])
                image = _thumbnail(pair.image) if pair else None
                if image is not None:
                    ax.imshow(image)
                ax.set_title(f"{row['guid']}: true {label}\npredicted {row['predicted']} "
                             f"({probability:.2f})", fontsize=10)
                ax.text(0.0, -0.03, _caption(pair.text if pair else ""), transform=ax.transAxes,
                        va="top", ha="left", fontsize=9, wrap=False)
        fig.suptitle(title or "the most confident mistakes of each true class "
                     "(out-of-fold; probability of the predicted class)")
        fig.subplots_adjust(hspace=0.9)
        save_figure(fig, path)


def plot_reliability(y_true: list[str], probs: np.ndarray, path: str | Path,
                     title: str = "") -> None:
    table = metrics.reliability(y_true, probs)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 7), height_ratios=(3, 1), sharex=True)
    centres = [(b["low"] + b["high"]) / 2 for b in table]
    width = 1 / metrics.CALIBRATION_BINS
    top.bar(centres, [b["accuracy"] for b in table], width * 0.9, color="steelblue",
            label="accuracy of the pairs in the bin")
    top.plot([0, 1], [0, 1], "k--", lw=1, label="perfectly calibrated")
    top.scatter([b["confidence"] for b in table], [b["accuracy"] for b in table], color="black",
                s=12, zorder=3, label="at the bin's mean probability")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title or "reliability of the out-of-fold probabilities\n(expected calibration "
                  f"error {metrics.expected_calibration_error(y_true, probs):.3f})")
    bottom.bar(centres, [b["pairs"] for b in table], width * 0.9, color="grey")
    bottom.set_ylabel("pairs")
    bottom.set_xlabel("probability of the predicted class")
    bottom.set_xlim(0, 1)
    save_figure(fig, path)


def _image_size(path: str) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:  # the header only
            return image.size
    except OSError:
        return None


def plot_data(pairs: list[Pair], report: dict, path: str | Path, title: str = "") -> None:
    """Posts per class (labelled, and to predict), text lengths, image sizes, and every skipped
    post by reason (the prepare report's problems)."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    ax = axes[0, 0]
    labelled = Counter(p.label for p in pairs if p.split == "train")
    names = [*LABELS, "to predict"]
    counts = [labelled.get(x, 0) for x in LABELS] + [sum(p.split == "test" for p in pairs)]
    bars = ax.bar(names, counts, color=["tab:red", "tab:grey", "tab:green", "tab:blue"])
    ax.bar_label(bars)
    ax.set_title("posts per class (labelled) and to predict")
    ax = axes[0, 1]
    words = [len(p.text.split()) for p in pairs]
    ax.hist(words, bins=min(40, max(words, default=1) + 1), color="steelblue")
    ax.set_title(f"text length (words; median {int(np.median(words)) if words else 0})")
    ax.set_xlabel("words")
    ax.set_ylabel("posts")
    ax = axes[1, 0]
    sizes = np.array([s for s in map(_image_size, (p.image for p in pairs)) if s] or [(0, 0)])
    ax.scatter(sizes[:, 0], sizes[:, 1], s=6, alpha=0.4)
    ax.set_title(f"image sizes (median {int(np.median(sizes[:, 0]))} x "
                 f"{int(np.median(sizes[:, 1]))} px)")
    ax.set_xlabel("width (px)")
    ax.set_ylabel("height (px)")
    ax = axes[1, 1]
    skipped = {name: item["count"] for name, item in report.get("problems", {}).items()
               if item.get("skips_pair") and item.get("count")}
    if skipped:
        order = sorted(skipped, key=skipped.get)
        bars = ax.barh(order, [skipped[n] for n in order], color="indianred")
        ax.bar_label(bars)
        ax.set_title(f"posts skipped by reason ({report['guids']['skipped']} of "
                     f"{report['guids']['listed']} listed)")
    else:
        ax.axis("off")
        ax.set_title(f"no post skipped ({report.get('guids', {}).get('listed', len(pairs))} "
                     "listed)")
    fig.suptitle(title or "the data at a glance")
    save_figure(fig, path)
