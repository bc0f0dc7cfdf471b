"""The report of experiments side by side (msa sweep, ablation, compare): settings first, over
their seeds, then every run. Scores come from `dvc exp show --json` and each run's out-of-fold
predictions from DVC at its revision, never from files in the workspace, so a report always
matches `dvc exp show`.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path

from msa import LABELS
from msa.evaluation import paired, records
from msa.evaluation.metrics import HEADLINE
from msa.experiments import differences, figures, gallery, over_seeds, stability
from msa.experiments import settings as settings_module
from msa.experiments.dvc_experiments import Experiment
from msa.experiments.stability import SeedPredictions
from msa.files import atomic_write_text, write_csv


def _figure(metrics: dict, name: str, key: str = "mean") -> float | None:
    """One figure of an experiment's metrics.json, or None where it has none (an experiment
    made before that score existed)."""
    value = (metrics.get(name) or {}).get(key)
    return None if value is None else float(value)


def _shown(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" + (f" ± {spread:.4f}" if spread is not None else "")


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
    lines = over_seeds.markdown_table(header, rows) + [""]
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


def for_terminal(report: str) -> str:
    """A report as a terminal shows it: without the Markdown line of its chart."""
    return "\n".join(line for line in report.splitlines() if not line.startswith("![")) + "\n"




def trained_on(made: dict) -> str:
    """What trained a run, from its produced_by["train"] (details.json)."""
    if made.get("gpu") or made.get("device", "cpu") != "cpu":
        return f"GPU {made.get('gpu') or made.get('device')}, {made.get('precision', '?')}"
    if made:
        return (f"CPU {made.get('cpu_capability', '?')} "
                f"({'native' if made.get('native_bf16') else 'no native'} bf16), "
                f"{made.get('precision', '?')}, {made.get('threads', '?')} threads")
    return "not recorded"


def machines(runs: list[tuple[str, dict]]) -> str:
    """What trained these runs ((name, produced_by["train"]) each), said once where one did."""
    seen = {}
    for name, made in runs:
        seen.setdefault(trained_on(made), []).append(name)
    if len(seen) == 1:
        return next(iter(seen))
    return "; ".join(f"{said} ({', '.join(names)})" for said, names in seen.items())


def _machines(experiments: list[Experiment]) -> str:
    return machines([(e.name, (e.metrics.get("produced_by") or {}).get("train") or {})
                     for e in experiments])


def _with_seed(experiments: list[Experiment], param_columns: list[str]) -> list[str]:
    """The columns of the table of every run: the seed first where the runs' seeds differ."""
    if "seed" in param_columns or len({json.dumps(e.params.get("seed"))
                                       for e in experiments}) < 2:
        return param_columns
    return ["seed", *param_columns]


def _commit() -> str:
    """The commit checked out here, which the experiments of a set are based on."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True)
    return done.stdout.strip() if done.returncode == 0 else "none"


def write_report(experiments: list[Experiment], out_stem: str | Path, title: str,
                 param_columns: list[str], baseline: str | None = None, failed=(),
                 resamples: int = paired.RESAMPLES, command: str = "", not_pulled=()) -> str:
    """The report of an experiment set: its settings (runs that differ in the seed alone) over
    their seeds, each against the baseline setting (the first, or the one named), each post
    across the seeds, the posts behind each difference; then every run, and each run against
    the baseline's first pair by pair. Writes OUT.md, OUT.png (the settings), OUT-stability.png,
    OUT-posts.csv and a gallery OUT-SETTING-posts.jpg for each setting compared."""
    out_stem = Path(out_stem)  # its name may hold dots (reports/train.patience)
    folder, stem = out_stem.parent, out_stem.name
    all_settings = settings_module.group(experiments)
    base = settings_module.find(all_settings, baseline) if baseline else all_settings[0]
    read = functools.cache(lambda rev, name: records.read_oof_at(rev, name))
    predictions = {s.name: SeedPredictions.from_rows(
        s.name, {e.params.get("seed"): read(e.rev, e.name) for e in s.runs})
        for s in all_settings}
    base_p = predictions[base.name]
    comparisons, unpaired = {}, []
    for s in all_settings:
        if s is base:
            continue
        reason = paired.unpaired_reason(base_p.pairing(), predictions[s.name].pairing())
        if reason:
            unpaired.append((s, reason))
        else:
            comparisons[s.name] = over_seeds.compare(base, s, base_p, predictions[s.name],
                                                     resamples)
    machines = _machines(experiments)  # every figure says what trained its runs
    galleries, changes = {}, []
    posts = gallery.posts_at(base.runs[0].rev) if comparisons else {}
    for name, c in comparisons.items():
        changes += stability.change_rows(name, base_p, predictions[name])
        if not len(c.fixes) and not len(c.breaks):
            continue
        galleries[name] = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{stem}-{name}-posts.jpg")
        gallery.plot(base.name, name, base_p, predictions[name], c.fixes, c.breaks, posts,
                     folder / galleries[name], f"; trained on {machines}")
    if comparisons:
        write_csv(folder / f"{stem}-posts.csv", list(stability.CHANGE_COLUMNS), changes)
    stable = [(s.name, stability.stability(predictions[s.name])) for s in all_settings]
    runs = len(experiments)
    text = "\n".join([
        f"# {title}\n",
        (f"Made by `{command}` at commit {_commit()}. " if command else "")
        + f"{len(all_settings)} setting(s), {runs} run(s); trained on: {machines}."
        + (f" Failed, so left out: {', '.join(failed)} (running the same command again runs "
           "only them)." if failed else "")
        + (f" Finished on another machine and not pulled here, so left out: "
           f"{', '.join(not_pulled)} (dvc exp pull origin NAME)." if not_pulled else "") + "\n",
        "## Settings over seeds\n",
        *over_seeds.settings_table(all_settings, param_columns, comparisons, base),
        *over_seeds.against(base, list(comparisons.values()), unpaired, resamples),
        f"\n![{title}]({stem}.png)",
        *over_seeds.stability_section(stable, f"{stem}-stability.png"),
        *over_seeds.posts_section(base, list(comparisons.values()), f"{stem}-posts.csv",
                                  galleries),
        "\n## Every run\n",
        table(experiments, _with_seed(experiments, param_columns)).rstrip("\n"),
        differences.section(experiments, base.runs[0], resamples, read).rstrip("\n"),
    ]) + "\n"
    atomic_write_text(folder / f"{stem}.md", text)
    figures.settings_chart(all_settings, experiments[0].metrics.get("majority_baseline") or {},
                           folder / f"{stem}.png", f"{title}\n(trained on {machines})")
    figures.stability_chart(stable, folder / f"{stem}-stability.png",
                            f"{title}: each post across the seeds\n(trained on {machines})")
    return text
