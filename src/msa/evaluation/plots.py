"""Every figure: learning curves over folds of unequal length, confusion matrix, per-class F1."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from msa import LABELS, epoch_log  # noqa: E402
from msa.files import save_figure, write_table  # noqa: E402


def learning_curve_table(log: list[dict]) -> list[dict]:
    """Per epoch: mean and std of each curve over the folds that ran that epoch, and how many.

    A fold that stopped early drops out of later epochs; nothing is padded or truncated.
    `stop_score` (what chose the epoch on the hold-out) is a curve too where it was logged.
    """
    logged = any(np.isfinite(row["stop_score"]) for row in log)
    curves = epoch_log.CURVES + (("stop_score",) if logged else ())
    table = []
    for epoch in sorted({row["epoch"] for row in log}):
        rows = [row for row in log if row["epoch"] == epoch]
        entry = {"epoch": epoch, "folds_running": len(rows)}
        for name in curves:
            values = np.array([row[name] for row in rows], dtype=float)
            entry[f"{name}_mean"] = float(values.mean())
            entry[f"{name}_std"] = float(values.std())
        table.append(entry)
    return table


STOPPING_COLUMNS = ("epoch", "stop_score_mean", "stop_score_std")


def write_stopping_curve(table: list[dict], path: str | Path) -> None:
    """The score that chose the epoch (train.monitor on the hold-out, or on the scored fold), per
    epoch, for `dvc plots`. No rows where nothing chose it (early_stopping: none), but always the
    header: a plot whose file is missing makes DVC warn."""
    write_table([row for row in table if "stop_score_mean" in row], path, STOPPING_COLUMNS)


def plot_learning_curves(table: list[dict], best_epochs: dict[int, int],
                         stop_epochs: dict[int, int], path: str | Path, title: str = "",
                         holdout_monitor: str | None = None) -> None:
    """holdout_monitor: the curve that stop_score measures on the hold-out, drawn beside it."""
    epochs = np.array([row["epoch"] for row in table])
    panels = [(title, list(names)) for title, names in epoch_log.panels().items()]
    rows = -(-(len(panels) + 2) // 3)  # and two panels of the folds
    fig, axes = plt.subplots(rows, 3, figsize=(13, 3.5 * rows))
    if holdout_monitor and "stop_score_mean" in table[0]:
        next(names for _, names in panels if holdout_monitor in names).append("stop_score")
    for ax, (label, names) in zip(axes.flat, panels):
        for name in names:
            mean = np.array([row[f"{name}_mean"] for row in table])
            std = np.array([row[f"{name}_std"] for row in table])
            legend = ("hold-out (chooses the epoch)" if name == "stop_score"
                      else name.replace("_", " "))
            ax.plot(epochs, mean, label=legend)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.25)
        for fold, best in sorted(best_epochs.items()):
            ax.axvline(best, color="grey", lw=0.6, ls=":")
        ax.set_title(label)
        ax.set_xlabel("epoch")
        if len(names) > 1:
            ax.legend()
    ax = axes.flat[len(panels)]
    ax.step(epochs, [row["folds_running"] for row in table], where="mid")
    ax.set_title("folds still running")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, max(row["folds_running"] for row in table) + 0.5)
    ax = axes.flat[len(panels) + 1]
    folds = sorted(stop_epochs)
    ax.barh([str(f) for f in folds], [stop_epochs[f] for f in folds], color="lightsteelblue",
            label="epochs run")
    ax.scatter([best_epochs[f] for f in folds], [str(f) for f in folds], color="black",
               zorder=3, label="best epoch (restored)")
    ax.set_title("epochs per fold")
    ax.set_xlabel("epoch")
    ax.set_ylabel("fold")
    # Below the axes: inside, a corner would cover a fold's last epochs.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8,
              frameon=False)
    for ax in axes.flat[len(panels) + 2:]:
        ax.axis("off")
    fig.suptitle(title or "learning curves: mean ± std over the folds still running "
                 "(dotted: each fold's best epoch)")
    save_figure(fig, path)


def plot_confusion(matrix: np.ndarray, path: str | Path, title: str = "") -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    row_sums = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, row_sums, out=np.zeros(matrix.shape, float), where=row_sums > 0)
    for ax, data, fmt, name in ((axes[0], matrix, "d", "counts"),
                                (axes[1], normalised, ".2f", "normalised by true class")):
        image = ax.imshow(data, cmap="Blues")
        ax.set_xticks(range(len(LABELS)), LABELS)
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(name)
        threshold = data.max() / 2 if data.max() else 1
        for i in range(len(LABELS)):
            for j in range(len(LABELS)):
                ax.text(j, i, format(data[i, j], fmt), ha="center", va="center",
                        color="white" if data[i, j] > threshold else "black")
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(title or "confusion matrix (out-of-fold predictions)")
    save_figure(fig, path)


def plot_per_class_f1(per_class: dict, path: str | Path, title: str = "") -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(LABELS))
    for k, name in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (k - 1) * 0.27, [per_class[label][name] for label in LABELS], 0.27, label=name)
    ax.set_xticks(x, [f"{label}\n(n={per_class[label]['support']})" for label in LABELS])
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title(title or "per-class scores (out-of-fold)")
    save_figure(fig, path)

