"""The report of a search: its trials, the best with its spread over seeds and how to apply
it, and each param's importance and the history as figures (Optuna's own plots). Every figure
comes from the study, so the same study gives the same report.
"""

from __future__ import annotations

import statistics
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from msa.evaluation.metrics import HEADLINE  # noqa: E402
from msa.experiments import over_seeds, report, trials  # noqa: E402
from msa.files import atomic_write_text  # noqa: E402


def _scores(trial, metric: str) -> list[float]:
    results = trial.user_attrs.get(trials.RESULTS) or {}
    return [r["metrics"][metric] for r in results.values()
            if r["metrics"].get(metric) is not None]


def _spread(scores: list[float]) -> str:
    if not scores:
        return "-"
    mean = statistics.fmean(scores)
    return f"{mean:.4f}" + (f" ± {statistics.stdev(scores):.4f}" if len(scores) > 1 else "")


def _save(axes, path: Path, title: str) -> None:
    figure = axes.figure
    axes.set_title(title, fontsize=9)
    figure.set_size_inches(7, 4.5)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)


def write_search_report(study: optuna.Study, space: list, out_stem: str | Path,
                        metric: str, command: str = "") -> str:
    """OUT.md, OUT-history.png and (two trials or more) OUT-importance.png."""
    out_stem = Path(out_stem)
    folder, stem = out_stem.parent, out_stem.name
    folder.mkdir(parents=True, exist_ok=True)
    title = HEADLINE[metric].title
    every = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(trials.SETTING)]
    complete = [t for t in every if t.state == TrialState.COMPLETE]
    trained = report.machines([(name, r.get("trained_on") or {}) for t in complete
                               for name, r in (t.user_attrs.get(trials.RESULTS) or {}).items()])
    seeds = sorted({len(t.user_attrs.get(trials.EXPERIMENTS) or []) for t in every})
    lines = [
        f"# Search of {', '.join(d.key for d in space)}\n",
        (f"Made by `{command}` at commit {report._commit()}. " if command else "")
        + f"Study `{study.study_name}`: {len(every)} trial(s), {len(complete)} finished. Each "
        f"trial runs its setting at {'/'.join(map(str, seeds))} seed(s) and is scored by "
        f"{title}: the mean over its seeds of each run's cross-validated fold mean (test "
        f"predictions are never read). Trained on: {trained}.\n",
        "| param | sampled from |", "|---|---|",
        *(f"| {d.key} | {d.shown()} |" for d in space), "",
    ]
    if complete:
        best = study.best_trial
        scores = _scores(best, metric)
        first = best.user_attrs[trials.EXPERIMENTS][0]
        lines += [
            f"## Best: {best.user_attrs[trials.SETTING]} (trial {best.number})\n",
            f"{title} {_spread(scores)} (mean ± std over its {len(scores)} seed(s): "
            + ", ".join(f"{s:.4f}" for s in scores) + "), with "
            + ", ".join(f"{k}={v}" for k, v in best.params.items()) + ".\n",
            f"Apply it: `dvc exp apply {first}` puts that run's params and outputs in the "
            "workspace (its seeds differ in `seed` alone); `msa compare "
            f"{best.user_attrs[trials.SETTING]} ...` sets it beside others over its seeds.\n",
        ]
    header = ["trial", "setting", "state", *(d.key for d in space),
              f"{title} (mean ± std over seeds)", "seeds", "worker"]
    rows = [[str(t.number), t.user_attrs[trials.SETTING], t.state.name.lower(),
             *(str(t.params.get(d.key, "-")) for d in space), _spread(_scores(t, metric)),
             str(len(_scores(t, metric))), str(t.user_attrs.get(trials.WORKER, "-"))]
            for t in every]
    lines += ["## Trials\n", *over_seeds.markdown_table(header, rows), ""]
    # Optuna's matplotlib plots are marked experimental since 2.2; pinned, they are not.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    _save(optuna.visualization.matplotlib.plot_optimization_history(study),
          folder / f"{stem}-history.png", f"{study.study_name}\n(trained on {trained})")
    lines.append(f"![history]({stem}-history.png)\n")
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        importances = (optuna.importance.get_param_importances(study, evaluator=evaluator)
                       if len(complete) >= 2 else None)
    except RuntimeError:  # fANOVA finds no variance: every finished trial scored the same
        importances = None
        lines.append(f"Importance: not computed; every finished trial has the same {title}.\n")
    if importances is not None:
        lines += ["## Importance of each param\n",
                  "fANOVA over the finished trials (Optuna's `get_param_importances`): the "
                  f"share of the variance of {title} each param explains.\n",
                  *over_seeds.markdown_table(["param", "importance"], [
                      [k, f"{v:.3f}"] for k, v in importances.items()]), ""]
        _save(optuna.visualization.matplotlib.plot_param_importances(study, evaluator=evaluator),
              folder / f"{stem}-importance.png", f"Importance\n(trained on {trained})")
        lines.append(f"![importance]({stem}-importance.png)\n")
    text = "\n".join(lines)
    atomic_write_text(folder / f"{stem}.md", text)
    return text
