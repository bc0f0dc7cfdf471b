"""DVC experiments side by side: the ablation runner, and tables and charts read from DVC.

Figures come from `dvc exp show --json` (what DVC recorded for each experiment), never from
files in the workspace, so a report always matches `dvc exp show`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from msa import LABELS, params  # noqa: E402
from msa.files import atomic_write_text, save_figure  # noqa: E402
from msa.errors import MsaError  # noqa: E402
from msa.data import data_root  # noqa: E402
from msa.evaluation import differences  # noqa: E402
from msa.evaluation.metrics import HEADLINE, METRICS_FILE, details_at  # noqa: E402


@dataclass
class Experiment:
    name: str
    rev: str
    params: dict  # flattened: "train.patience" -> 6
    metrics: dict  # the document evaluate wrote (msa.evaluation.metrics.summarize)


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


def _named(pool: list[Experiment], name: str) -> list[Experiment]:
    """The experiments of that name, else those whose revision starts with it."""
    return [e for e in pool if e.name == name] or [e for e in pool if e.rev.startswith(name)]


def _with_details(experiments: list[Experiment]) -> list[Experiment]:
    """DVC shows only the scores that compare experiments; the rest of what evaluate wrote (per
    class, per fold, the baseline) is read at each one's revision."""
    for e in experiments:
        e.metrics = details_at(e.rev) | e.metrics
    return experiments


def select(names: list[str], all_commits: bool = False) -> list[Experiment]:
    """Experiments by name or revision prefix; none named: the commit's own results (the
    baseline the others are tested against), then its experiments."""
    document = json.loads(_dvc(["exp", "show", "--json", *(["-A"] if all_commits else [])]))
    baselines, experiments, unfinished = parse_exp_show(document)
    if not names:
        if unfinished:
            print("compare: left out, no results of their own: " + ", ".join(
                f"{name} ({state})" for name, state in unfinished.items()), file=sys.stderr)
        if not experiments:
            raise MsaError("no finished experiments on the current commit; run some with "
                           "dvc exp run, or name experiments or revisions")
        return _with_details(baselines + experiments)
    pool = experiments + baselines
    chosen = []
    for name in names:
        match = _named(pool, name)
        if not match and name in unfinished:
            raise MsaError(f"experiment {name!r} has no results of its own ({unfinished[name]}; "
                           "see dvc exp show, and dvc queue logs for a failed run)")
        if not match:
            raise MsaError(f"no experiment or revision {name!r} with {METRICS_FILE} "
                           "(see dvc exp show)")
        chosen.append(match[0])
    return _with_details(chosen)


def differing_params(experiments: list[Experiment]) -> list[str]:
    keys = sorted({k for e in experiments for k in e.params})
    return [k for k in keys if len({json.dumps(e.params.get(k)) for e in experiments}) > 1]


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
                 param_columns: list[str], baseline: str | None = None) -> str:
    """The table, the seed spread, each experiment against the baseline (the first, or the one
    named) pair by pair, and the chart."""
    out_stem = Path(out_stem)  # its name may hold dots (reports/train.patience)
    base = _named(experiments, baseline) if baseline else experiments[:1]
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


def parse_sweep(spec: str) -> tuple[str, list[str]]:
    """`key=v1,v2,...` (values as dvc exp run -S takes them) -> (key, values)."""
    key, sep, values = spec.partition("=")
    chosen = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key or not chosen:
        raise MsaError(f"sweep: {spec!r}: expected KEY=VALUE1,VALUE2,... "
                       "(e.g. train.patience=1,2,4,8)")
    if len(set(chosen)) != len(chosen):
        raise MsaError(f"sweep: {spec!r}: a value is named twice")
    return key.strip(), chosen


def _with_sets(raw: dict, sets: list[str]) -> dict:
    """params.yaml's content with `key=value` sets applied, as dvc exp run -S applies them."""
    raw = json.loads(json.dumps(raw))
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise MsaError(f"-S {item!r}: expected KEY=VALUE")
        *path, last = key.split(".")
        node = raw
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise MsaError(f"-S {item!r}: {part} is not a section of params.yaml")
        node[last] = params.parse_value(value)
    return raw


def experiment_name(prefix: str, value: str) -> str:
    """A DVC (git ref) safe name for one run of a sweep."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", f"{prefix}-{value}").strip("_")


def _copy_paths(root: str) -> list[str]:
    """`-C` for a data folder inside the repository: the copy a run happens in holds only what
    git tracks, and DVC copies in what -C names. A folder outside needs an absolute path."""
    if Path(root).is_absolute():
        return []
    if not Path(root).resolve().is_relative_to(Path.cwd().resolve()):
        raise MsaError(f"data.root: {root} is outside the repository; each run happens in a copy "
                       "of it, so give data.root as an absolute path")
    return ["-C", root]


def run_sweep(key: str, values: list[str], overrides: list[str], prefix: str | None = None,
              params_file: str | Path = "params.yaml", queue: bool = False) -> list[str]:
    """One named DVC experiment per value of `key`, `overrides` set in every one. Every run's
    params are checked first, so a bad value or a knob the other settings leave unread fails
    before any experiment runs. Stages whose inputs a value leaves alone come from DVC's cache.

    Each run happens in a temporary copy of the repository (`dvc exp run --temp`), one after
    another, so the workspace stays as it was. With `queue`, they are only queued (`dvc queue
    start` runs them) and nothing is returned.
    """
    raw = params.load_raw(params_file)
    prefix = prefix or key.replace(".", "-")
    runs = []
    for value in values:
        sets = [*overrides, f"{key}={value}"]
        try:
            checked = params.from_dict(_with_sets(raw, sets))
        except MsaError as exc:
            raise MsaError(f"sweep {key}={value}: {exc}") from None
        runs.append((experiment_name(prefix, value), sets, _copy_paths(checked.data.root),
                     checked.data.root))
    for *_, root in runs:  # every value's params first, then where each run reads its data
        data_root.find(root)
    existing = set(_dvc(["exp", "ls", "--name-only"]).split())
    for name, sets, copy, _ in runs:
        if name in existing:
            _dvc(["exp", "remove", name])
        args = ["exp", "run", "--queue" if queue else "--temp", *copy, "-n", name,
                *(arg for value in sets for arg in ("-S", value))]
        print(f"sweep: dvc {' '.join(args)}", flush=True)
        if subprocess.run(["dvc", *args]).returncode != 0:
            raise MsaError(f"dvc exp run for {name} failed (its output is above)")
    return [] if queue else [name for name, *_ in runs]


def run_ablation(overrides: list[str], modes=params.MODES, prefix: str = "ablation") -> list[str]:
    """The modality ablation: a sweep over `mode`; featurize is shared through DVC's cache."""
    return run_sweep("mode", list(modes), overrides, prefix)
