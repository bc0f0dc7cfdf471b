"""A report's charts: each setting's headline scores over its seeds, and each post's stability
across them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from msa.evaluation.metrics import HEADLINE  # noqa: E402
from msa.experiments.settings import Setting  # noqa: E402
from msa.experiments.stability import Stability  # noqa: E402
from msa.files import save_figure  # noqa: E402


def settings_chart(settings: list[Setting], majority: dict, path: str | Path, title: str) -> None:
    """Grouped bars: each setting's mean over seeds of each headline score (a run's score is its
    fold mean), the std over seeds as error bars, each seed a dot; the majority baseline as
    dashed lines."""
    fig, ax = plt.subplots(figsize=(9, 4.8))
    x = np.arange(len(HEADLINE))
    width = 0.8 / len(settings)
    for k, setting in enumerate(settings):
        at = x + (k - (len(settings) - 1) / 2) * width
        values = [np.array(list(setting.by_seed(m).values())) for m in HEADLINE]
        spread = [setting.mean_std(m) for m in HEADLINE]
        means = [s[0] if s else np.nan for s in spread]
        spreads = [(s[1] or 0) if s else 0 for s in spread]
        bars = ax.bar(at, means, width, yerr=spreads, capsize=3, label=setting.name, alpha=0.85)
        ax.bar_label(bars, labels=["" if np.isnan(m) else f"{m:.3f}" for m in means],
                     fontsize=7, label_type="center", rotation=90, color="white")
        for position, v in zip(at, values):
            ax.scatter(np.full(len(v), position), v, s=8, color="black", zorder=3)
    drawn = False
    for i, name in enumerate(HEADLINE):
        if majority.get(name) is not None:
            ax.hlines(majority[name], i - 0.45, i + 0.45, colors="black", linestyles="--",
                      label=None if drawn else "majority-class baseline")
            drawn = True
    ax.set_xticks(x, [h.title for h in HEADLINE.values()])
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean over seeds of the fold mean\n(bars: std over seeds; dots: each seed)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08),
              ncol=min(4, len(settings) + 1))
    save_figure(fig, path)


def stability_chart(rows: list[tuple[str, Stability]], path: str | Path, title: str) -> None:
    """Per setting, the share of posts right at every seed, at some, at none, and the share whose
    predicted label changes between seeds."""
    fig, ax = plt.subplots(figsize=(9, 1.8 + 0.55 * len(rows)))
    names = [name for name, _ in rows][::-1]
    stable = [s for _, s in rows][::-1]
    left = np.zeros(len(rows))
    for key, label, colour in (("right_every", "right at every seed", "tab:green"),
                               ("right_some", "right at some seeds", "tab:orange"),
                               ("right_none", "right at none", "tab:red")):
        share = np.array([getattr(s, key) / s.pairs for s in stable])
        ax.barh(names, share, left=left, color=colour, label=label)
        left += share
    for k, s in enumerate(stable):
        seeds = f"{s.seeds} seed" + "s" * (s.seeds != 1)
        ax.text(1.01, k, f"flip rate {s.flip_rate:.1%} ({seeds})", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title(f"{title}; bars: the share of the labelled posts", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    save_figure(fig, path)
