"""The experiments DVC holds, as `dvc exp show --json` records them: their names, revisions,
params and the scores that compare them; the rest of what evaluate wrote is read at each
revision. Reports take their figures from here, never from files in the workspace, so a report
always matches `dvc exp show`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from msa.errors import MsaError
from msa.experiments import naming
from msa.evaluation.metrics import METRICS_FILE, details_at


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


def named(pool: list[Experiment], name: str) -> list[Experiment]:
    """The experiment of that name; else the runs of the setting of that name (its seeds, named
    by msa.experiments.naming); else those whose revision starts with it."""
    return ([e for e in pool if e.name == name]
            or [e for e in pool if naming.setting_of(e.name) == name]
            or [e for e in pool if e.rev.startswith(name)][:1])


def _with_details(experiments: list[Experiment]) -> list[Experiment]:
    """DVC shows only the scores that compare experiments; the rest of what evaluate wrote (per
    class, per fold, the baseline) is read at each one's revision."""
    for e in experiments:
        e.metrics = details_at(e.rev) | e.metrics
    return experiments


def select(names: list[str], all_commits: bool = False) -> list[Experiment]:
    """Experiments by name, by setting (every seed of it) or by revision prefix; none named: the
    commit's own results (the baseline the others are tested against), then its experiments."""
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
        match = named(pool, name)
        if not match and name in unfinished:
            raise MsaError(f"experiment {name!r} has no results of its own ({unfinished[name]}; "
                           "see dvc exp show, and dvc queue logs for a failed run)")
        if not match:
            raise MsaError(f"no experiment or revision {name!r} with {METRICS_FILE} "
                           "(see dvc exp show)")
        chosen.extend(e for e in match if e not in chosen)
    return _with_details(chosen)


def differing_params(experiments: list[Experiment]) -> list[str]:
    keys = sorted({k for e in experiments for k in e.params})
    return [k for k in keys if len({json.dumps(e.params.get(k)) for e in experiments}) > 1]


def finished() -> list[Experiment]:
    """The current commit's experiments that finished with results of their own."""
    return parse_exp_show(json.loads(_dvc(["exp", "show", "--json"])))[1]
