"""DVC experiments side by side: the ablation runner, and tables and charts read from DVC.

Figures come from `dvc exp show --json` (what DVC recorded for each experiment), never from
files in the workspace, so a report always matches `dvc exp show`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from msa import LABELS  # noqa: E402
from msa.files import atomic_write_text, save_figure  # noqa: E402
from msa.errors import MsaError  # noqa: E402
from msa.metrics import HEADLINE  # noqa: E402
from msa.params import MODES  # noqa: E402

METRICS_FILE = "metrics/metrics.json"
NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"}


@dataclass
class Experiment:
    name: str
    rev: str
    params: dict  # flattened: "train.patience" -> 6
    metrics: dict  # metrics/metrics.json as written by evaluate


def _dvc(args: list[str]) -> str:
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise MsaError(f"dvc {' '.join(args)} failed: {message}")
    return result.stdout


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _record(entry: dict, name: str) -> Experiment | None:
    data = entry.get("data") or {}
    metrics = ((data.get("metrics") or {}).get(METRICS_FILE) or {}).get("data")
    if not metrics:
        return None
    params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    return Experiment(name, entry["rev"], flatten(params), metrics)


def parse_exp_show(document: list[dict]) -> tuple[list[Experiment], list[Experiment], dict]:
    """(baseline commits, experiments) with metrics, and {name: state} of unfinished experiments,
    from `dvc exp show --json` output.

    A failed, queued or running experiment shows its baseline's metrics in DVC's output; they are
    not its own, so it is set apart rather than reported.
    """
    baselines, experiments, unfinished = [], [], {}
    for commit in document:
        if commit.get("rev") == "workspace":
            continue
        record = _record(commit, commit.get("name") or commit["rev"][:7])
        if record:
            baselines.append(record)
        for group in commit.get("experiments") or []:
            state = (group.get("executor") or {}).get("state") or "success"
            for rev in group.get("revs") or []:
                name = rev.get("name") or group.get("name") or rev["rev"][:7]
                if rev.get("error") or state != "success":
                    unfinished[name] = "failed" if rev.get("error") else state
                    continue
                record = _record(rev, name)
                if record:
                    experiments.append(record)
    return baselines, experiments, unfinished


def select(names: list[str], all_commits: bool = False) -> list[Experiment]:
    """Experiments by name or revision prefix; none named: the experiments of the current commit."""
    document = json.loads(_dvc(["exp", "show", "--json", *(["-A"] if all_commits else [])]))
    baselines, experiments, unfinished = parse_exp_show(document)
    if not names:
        if unfinished:
            print("compare: left out, no results of their own: " + ", ".join(
                f"{name} ({state})" for name, state in unfinished.items()), file=sys.stderr)
        if not experiments:
            raise MsaError("no finished experiments on the current commit; run some with "
                           "dvc exp run, or name experiments or revisions")
        return experiments
    pool = experiments + baselines
    chosen = []
    for name in names:
        match = [e for e in pool if e.name == name] or [e for e in pool if e.rev.startswith(name)]
        if not match and name in unfinished:
            raise MsaError(f"experiment {name!r} has no results of its own ({unfinished[name]}; "
                           "see dvc exp show, and dvc queue logs for a failed run)")
        if not match:
            raise MsaError(f"no experiment or revision {name!r} with {METRICS_FILE} "
                           "(see dvc exp show)")
        chosen.append(match[0])
    return chosen


def differing_params(experiments: list[Experiment]) -> list[str]:
    keys = sorted({k for e in experiments for k in e.params})
    return [k for k in keys if len({json.dumps(e.params.get(k)) for e in experiments}) > 1]


def _mean_std(metrics: dict, name: str) -> str:
    return f"{metrics[name]['mean']:.4f} ± {metrics[name]['std']:.4f}"


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row) + " |" for row in rows])


def table(experiments: list[Experiment], param_columns: list[str]) -> str:
    """A Markdown table: differing params, headline scores, per-class F1, epochs run."""
    header = (["experiment", *param_columns, "mode"] + [f"{NAMES[m]} (mean ± std)" for m in HEADLINE]
              + ["pooled accuracy", "pooled macro-F1"] + [f"F1 {label}" for label in LABELS]
              + ["epochs run (per fold)"])
    rows = []
    for e in experiments:
        m = e.metrics
        epochs = " ".join(str(f["epochs_run"]) for _, f in sorted(m["folds"].items(),
                                                                  key=lambda x: int(x[0])))
        row = ([e.name, *(str(e.params.get(k, "")) for k in param_columns), m["mode"]]
               + [_mean_std(m, name) for name in HEADLINE]
               + [f"{m['accuracy']['pooled']:.4f}", f"{m['macro_f1']['pooled']:.4f}"]
               + [f"{m['per_class'][label]['f1']:.4f}" for label in LABELS] + [epochs])
        rows.append(row)
    lines = _markdown(header, rows)
    base = experiments[0].metrics["majority_baseline"]
    lines.append("")
    lines.append(f"Majority-class baseline ({base['label']}): accuracy {base['accuracy']:.4f}, "
                 f"macro-F1 {base['macro_f1']:.4f}, weighted-F1 {base['weighted_f1']:.4f}.")
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
    shared_columns = [k for k in param_columns if k != "seed"]
    header = ([*shared_columns, "mode", "seeds"]
              + [f"{NAMES[m]} over seeds (mean ± std, min-max)" for m in HEADLINE])
    rows = []
    for group in groups:
        first = group[0]
        row = [*(str(first.params.get(k, "")) for k in shared_columns), first.metrics["mode"],
               " ".join(str(e.params.get("seed")) for e in group)]
        for name in HEADLINE:
            values = np.array([e.metrics[name]["mean"] for e in group])
            row.append(f"{values.mean():.4f} ± {values.std():.4f}, "
                       f"{values.min():.4f}-{values.max():.4f}")
        rows.append(row)
    return ("\nOver training seeds (experiments whose params differ in `seed` alone; std over "
            "seeds of each run's fold mean):\n\n" + "\n".join(_markdown(header, rows)) + "\n")


def chart(experiments: list[Experiment], path: str | Path, title: str) -> None:
    """Grouped bars per headline metric with fold std as error bars; the baseline as lines."""
    fig, ax = plt.subplots(figsize=(9, 4.8))
    x = np.arange(len(HEADLINE))
    width = 0.8 / len(experiments)
    for k, e in enumerate(experiments):
        means = [e.metrics[m]["mean"] for m in HEADLINE]
        stds = [e.metrics[m]["std"] for m in HEADLINE]
        bars = ax.bar(x + (k - (len(experiments) - 1) / 2) * width, means, width, yerr=stds,
                      capsize=3, label=e.name)
        ax.bar_label(bars, labels=[f"{v:.3f}" for v in means], fontsize=7, label_type="center",
                     rotation=90, color="white")
    base = experiments[0].metrics["majority_baseline"]
    for i, name in enumerate(HEADLINE):
        ax.hlines(base[name], i - 0.45, i + 0.45, colors="black", linestyles="--",
                  label="majority-class baseline" if i == 0 else None)
    ax.set_xticks(x, [NAMES[m] for m in HEADLINE])
    ax.set_ylim(0, 1)
    ax.set_ylabel("cross-validated score (mean over folds)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08),
              ncol=min(4, len(experiments) + 1))
    save_figure(fig, path)


def write_report(experiments: list[Experiment], out_stem: str | Path, title: str,
                 param_columns: list[str]) -> str:
    out_stem = Path(out_stem)
    text = (f"# {title}\n\n" + table(experiments, param_columns)
            + seed_table(experiments, param_columns) + f"\n![{title}]({out_stem.name}.png)\n")
    atomic_write_text(out_stem.with_suffix(".md"), text)
    chart(experiments, out_stem.with_suffix(".png"), title)
    return text


def run_ablation(overrides: list[str], modes=MODES, prefix: str = "ablation") -> list[str]:
    """One named DVC experiment per mode; featurize is shared through DVC's cache."""
    existing = set(_dvc(["exp", "ls", "--name-only"]).split())
    names = []
    for mode in modes:
        name = f"{prefix}-{mode}"
        if name in existing:
            _dvc(["exp", "remove", name])
        sets = [arg for value in [f"mode={mode}", *overrides] for arg in ("-S", value)]
        print(f"ablation: dvc exp run -n {name} {' '.join(sets)}", flush=True)
        result = subprocess.run(["dvc", "exp", "run", "-n", name, *sets])
        if result.returncode != 0:
            raise MsaError(f"dvc exp run for {name} failed (its output is above)")
        names.append(name)
    return names
