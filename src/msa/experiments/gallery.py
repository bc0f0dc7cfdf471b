"""The posts behind a difference, drawn: those a setting fixes and those it breaks against the
baseline (msa.experiments.stability), each with its image, its text, the true label and both
sides' labels at each seed with their mean probability of the true label."""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from msa import LABELS  # noqa: E402
from msa.data import prepared  # noqa: E402
from msa.evaluation.inspection import _caption, _thumbnail  # noqa: E402
from msa.experiments.stability import SeedPredictions  # noqa: E402
from msa.files import save_figure  # noqa: E402

MANIFEST_FILE = "data/prepared/manifest.jsonl"  # where dvc.yaml's prepare stage writes it
PER_KIND = 4  # posts shown of the fixes, and of the breaks
# Fonts that draw Chinese, Japanese and Korean text, first found first used (Debian:
# fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk; .ci/run installs the first).
CJK_FONTS = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP",
             "Droid Sans Fallback", "IPAexGothic")


_CJK_FILES = ("wqy", "cjk", "droid", "ipaex")  # how those fonts' files are named


@functools.cache
def font_family() -> tuple[str, ...]:
    """matplotlib's font, then a CJK font where one is installed: matplotlib draws each glyph
    in the first font of the list that has it."""
    manager = font_manager.fontManager
    known = {f.fname for f in manager.ttflist}
    # matplotlib's font list is cached from its first run: a font installed since is added here
    for path in font_manager.findSystemFonts():
        if path not in known and any(part in path.lower() for part in _CJK_FILES):
            try:
                manager.addfont(path)
            except (OSError, RuntimeError):
                continue
    installed = {f.name for f in manager.ttflist}
    return (plt.rcParams["font.sans-serif"][0], *(f for f in CJK_FONTS if f in installed))


def undrawable(text: str) -> str:
    """The characters of `text` (after emoji are written by name) that no font of the family
    draws, so that they would be boxes."""
    from matplotlib import ft2font

    charmaps = [ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties(family=f)))
                .get_charmap() for f in font_family()]
    return "".join(c for c in _caption(text, width=10**6, lines=10**6)
                   if not c.isspace() and not any(ord(c) in m for m in charmaps))


def posts_at(rev: str) -> dict[str, prepared.Pair]:
    """The prepared posts an experiment read (its manifest, from DVC at its revision), else the
    workspace's, else none: the gallery then shows ids alone."""
    import dvc.api

    try:
        text = dvc.api.read(MANIFEST_FILE, rev=rev, encoding="utf-8")
    except Exception:  # noqa: BLE001 - dvc raises many kinds for a missing output
        path = Path(MANIFEST_FILE)
        return {p.guid: p for p in prepared.read(path)} if path.is_file() else {}
    with tempfile.TemporaryDirectory() as folder:  # prepared.read alone parses the manifest
        path = Path(folder) / "manifest.jsonl"
        path.write_text(text, encoding="utf-8")
        return {p.guid: p for p in prepared.read(path)}


def _labels(p: SeedPredictions, i: int) -> str:
    return " ".join(LABELS[k][:3] for k in p.predicted[:, i])


def plot(base_name: str, name: str, base: SeedPredictions, other: SeedPredictions,
         fixes: np.ndarray, breaks: np.ndarray, posts: dict[str, prepared.Pair],
         path: str | Path, note: str = "") -> None:
    """Fixes in the top row and breaks in the bottom one, the surest first."""
    heights = [1.0 if len(chosen) else 0.12 for chosen in (fixes, breaks)]  # none: a line
    fig, axes = plt.subplots(2, PER_KIND, figsize=(3.3 * PER_KIND, 1.5 + 5 * sum(heights)),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    with warnings.catch_warnings(), plt.rc_context({"font.family": list(font_family())}):
        warnings.filterwarnings("ignore", message=".*[Gg]lyph.*")  # said in the test instead
        for row, (kind, chosen) in zip(axes, (("fixes", fixes), ("breaks", breaks))):
            for k, ax in enumerate(row):
                ax.set_xticks([])
                ax.set_yticks([])
                if k >= len(chosen):
                    ax.axis("off")
                    if k == 0:
                        ax.set_title(f"{name} {kind} none", fontsize=10)
                    continue
                i = chosen[k]
                guid = base.guids[i]
                pair = posts.get(guid)
                image = _thumbnail(pair.image) if pair else None
                if image is not None:
                    ax.imshow(image)
                ax.set_title(f"{guid}: true {base.labels[i]}\n"
                             f"{base_name}: {_labels(base, i)} "
                             f"(p {base.gold_probability[:, i].mean():.2f})\n"
                             f"{name}: {_labels(other, i)} "
                             f"(p {other.gold_probability[:, i].mean():.2f})", fontsize=9)
                ax.text(0.0, -0.03, _caption(pair.text if pair else "(text not here)"),
                        transform=ax.transAxes, va="top", ha="left", fontsize=9)
            row[0].set_ylabel(f"{kind} ({len(chosen)})", fontsize=12)
        fig.suptitle(f"{name} against {base_name}: the posts it fixes (top: wrong in most of "
                     f"{base_name}'s seeds, right in most of its own) and breaks (bottom), the "
                     "surest first;\neach side's label at each seed and its mean probability "
                     f"of the true label (p){note}", fontsize=10)
        save_figure(fig, path)
