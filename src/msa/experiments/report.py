"""DVC experiments side by side: the ablation runner, and tables and charts read from DVC.

Figures come from `dvc exp show --json` (what DVC recorded for each experiment), never from
files in the workspace, so a report always matches `dvc exp show`.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from msa import LABELS  # noqa: E402
from msa.errors import MsaError  # noqa: E402
from msa.evaluation.metrics import HEADLINE  # noqa: E402
from msa.experiments import differences  # noqa: E402
from msa.experiments.dvc_experiments import Experiment, named  # noqa: E402
from msa.files import atomic_write_text, save_figure  # noqa: E402


def _figure(metrics: dict, name: str, key: str = "mean") -> float | None:
    """One figure of an experiment's metrics.json, or None where it has none (an experiment
    made before that score existed)."""
    value = (metrics.get(name) or {}).get(key)
    return None if value is None else float(value)


def _shown(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" + (f" ± {spread:.4f}" if spread is not None else "")


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row) + " |" for row in rows])


def _params_shown(param_columns: list[str]) -> list[str]:
    """The differing params a table shows beside the mode column (mode once, not twice)."""
    return [k for k in param_columns if k != "mode"]


def table(experiments: list[Experiment], param_columns: list[str]) -> str:
    """A Markdown table: differing params, headline scores (mean ± std over folds, then pooled),
    per-class F1, epochs run; "-" where an older experiment's metrics.json lacks a figure."""
    param_columns = _params_shown(param_columns)
    header = (["experiment", *param_columns, "mode"]
              + [f"{h.title} (mean ± std)" for h in HEADLINE.values()]
              + [f"pooled {h.title}" for h in HEADLINE.values()]
              + [f"F1 {label}" for label in LABELS] + ["epochs run (per fold)"])
    rows = []
    for e in experiments:
        m = e.metrics
        epochs = " ".join(str(f.get("epochs_run", "-")) for _, f in sorted(
            (m.get("folds") or {}).items(), key=lambda x: int(x[0]))) or "-"
        row = ([e.name, *(str(e.params.get(k, "")) for k in param_columns), m.get("mode", "-")]
               + [_shown(_figure(m, name), _figure(m, name, "std")) for name in HEADLINE]
               + [_shown(_figure(m, name, "pooled")) for name in HEADLINE]
               + [_shown(_figure(m.get("per_class") or {}, label, "f1")) for label in LABELS]
               + [epochs])
        rows.append(row)
    lines = _markdown(header, rows) + [""]
    # Experiments on other data have baselines of their own: each is said, with whose it is.
    baselines: dict[str, tuple[dict, list[str]]] = {}
    for e in experiments:
        base = e.metrics.get("majority_baseline") or {}
        baselines.setdefault(json.dumps(base, sort_keys=True), (base, []))[1].append(e.name)
    for base, names in baselines.values():
        whose = f" of {', '.join(names)}" if len(baselines) > 1 else ""
        lines.append(f"Majority-class baseline{whose} ({base.get('label', '-')}): " + ", ".join(
            f"{h.title} {_shown(base.get(name))}" for name, h in HEADLINE.items()) + ".")
    return "\n".join(lines) + "\n"


def seed_groups(experiments: list[Experiment]) -> list[list[Experiment]]:
    """Experiments that differ in the training `seed` alone, grouped; groups of one dropped."""
    groups: dict[str, list[Experiment]] = {}
    for e in experiments:
        shared = {k: v for k, v in e.params.items() if k != "seed"}
        groups.setdefault(json.dumps(shared, sort_keys=True), []).append(e)
    return [g for g in groups.values() if len({json.dumps(e.params.get("seed")) for e in g}) > 1]


def seed_table(experiments: list[Experiment], param_columns: list[str]) -> str:
    """Per group of seed repeats: each headline's fold mean, then mean ± std and range over seeds.

    One run moves with its training seed; differences smaller than this spread are noise.
    """
    groups = seed_groups(experiments)
    if not groups:
        return ""
    shared_columns = [k for k in _params_shown(param_columns) if k != "seed"]
    header = ([*shared_columns, "mode", "seeds"]
              + [f"{h.title} over seeds (mean ± std, min-max)" for h in HEADLINE.values()])
    rows = []
    for group in groups:
        first = group[0]
        row = [*(str(first.params.get(k, "")) for k in shared_columns),
               first.metrics.get("mode", "-"), " ".join(str(e.params.get("seed")) for e in group)]
        for name in HEADLINE:
            values = np.array([v for v in (_figure(e.metrics, name) for e in group)
                               if v is not None])
            row.append(f"{values.mean():.4f} ± {values.std():.4f}, "
                       f"{values.min():.4f}-{values.max():.4f}" if len(values) else "-")
        rows.append(row)
    return ("\nOver training seeds (experiments whose params differ in `seed` alone; std over "
            "seeds of each run's fold mean):\n\n" + "\n".join(_markdown(header, rows)) + "\n")


def chart(experiments: list[Experiment], path: str | Path, title: str) -> None:
    """Grouped bars per headline metric with fold std as error bars; the baseline as lines."""
    fig, ax = plt.subplots(figsize=(9, 4.8))
    x = np.arange(len(HEADLINE))
    width = 0.8 / len(experiments)
    for k, e in enumerate(experiments):
        # an older experiment without a score has no bar for it
        means = [_figure(e.metrics, m) for m in HEADLINE]
        stds = [_figure(e.metrics, m, "std") for m in HEADLINE]
        bars = ax.bar(x + (k - (len(experiments) - 1) / 2) * width,
                      [np.nan if v is None else v for v in means], width,
                      yerr=[0 if v is None else v for v in stds], capsize=3, label=e.name)
        ax.bar_label(bars, labels=["" if v is None else f"{v:.3f}" for v in means], fontsize=7,
                     label_type="center", rotation=90, color="white")
    base = experiments[0].metrics.get("majority_baseline") or {}
    drawn = False
    for i, name in enumerate(HEADLINE):
        if base.get(name) is not None:
            ax.hlines(base[name], i - 0.45, i + 0.45, colors="black", linestyles="--",
                      label=None if drawn else "majority-class baseline")
            drawn = True
    ax.set_xticks(x, [h.title for h in HEADLINE.values()])
    ax.set_ylim(0, 1)
    ax.set_ylabel("cross-validated score (mean over folds)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08),
              ncol=min(4, len(experiments) + 1))
    save_figure(fig, path)


def write_report(experiments: list[Experiment], out_stem: str | Path, title: str,
                 param_columns: list[str], baseline: str | None = None, failed=()) -> str:
    """The table, the seed spread, each experiment against the baseline (the first, or the one
    named) pair by pair, and the chart."""
    out_stem = Path(out_stem)  # its name may hold dots (reports/train.patience)
    base = named(experiments, baseline) if baseline else experiments[:1]
    if not base:
        raise MsaError(f"--baseline: {baseline!r} is not among the experiments compared "
                       f"({', '.join(e.name for e in experiments)})")
    text = (f"# {title}\n\n" + table(experiments, param_columns)
            + seed_table(experiments, param_columns) + differences.section(experiments, base[0])
            + f"\n![{title}]({out_stem.name}.png)\n")
    atomic_write_text(out_stem.parent / f"{out_stem.name}.md", text)
    chart(experiments, out_stem.parent / f"{out_stem.name}.png", title)
    return text


def for_terminal(report: str) -> str:
    """A report as a terminal shows it: without the Markdown line of its chart."""
    return "\n".join(line for line in report.splitlines() if not line.startswith("![")) + "\n"


