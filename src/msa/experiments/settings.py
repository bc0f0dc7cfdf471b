"""Settings: the experiments that differ in the training `seed` alone, as one group, named by
the setting their runs share (msa.experiments.naming); a report leads with them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from msa.errors import MsaError
from msa.experiments import naming
from msa.experiments.dvc_experiments import Experiment, named


@dataclass
class Setting:
    name: str
    runs: list[Experiment]  # one per training seed, in the order they came

    @property
    def seeds(self) -> list:
        return [e.params.get("seed") for e in self.runs]

    @property
    def params(self) -> dict:
        return {k: v for k, v in self.runs[0].params.items() if k != "seed"}

    def by_seed(self, metric: str) -> dict:
        """Each seed's fold mean of `metric`, where the run's metrics.json has it."""
        return {e.params.get("seed"): float(e.metrics[metric]["mean"]) for e in self.runs
                if (e.metrics.get(metric) or {}).get("mean") is not None}

    def mean_std(self, metric: str) -> tuple[float, float | None] | None:
        """The mean over seeds of the fold means of `metric` and their std (n-1; None with one
        seed), or None where no run has it."""
        values = np.array(list(self.by_seed(metric).values()))
        if not len(values):
            return None
        return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else None)


def _without_seed(e: Experiment) -> str:
    return json.dumps({k: v for k, v in e.params.items() if k != "seed"}, sort_keys=True)


def _name(runs: list[Experiment]) -> str:
    """The setting the runs' names share, else the one run's name, else their names."""
    settings = {naming.setting_of(e.name) for e in runs}
    if len(settings) == 1 and None not in settings:
        return settings.pop()
    return runs[0].name if len(runs) == 1 else " + ".join(e.name for e in runs)


def group(experiments: list[Experiment]) -> list[Setting]:
    """The experiments as settings, in the order each first appears. A run named by the rule
    joins only the runs of its own setting, one named otherwise only runs named otherwise; a
    second run of the same params and seed (a commit's own results beside its experiment)
    stands apart."""
    groups: list[tuple[str, list[Experiment]]] = []
    for e in experiments:
        key = (_without_seed(e), naming.setting_of(e.name))
        home = next((runs for k, runs in groups if k == key
                     and e.params.get("seed") not in [r.params.get("seed") for r in runs]), None)
        if home is None:
            groups.append((key, [e]))
        else:
            home.append(e)
    settings, taken = [], set()
    for _, runs in groups:
        name = base = _name(runs)
        k = 1
        while name in taken:
            k += 1
            name = f"{base} ({k})"
        taken.add(name)
        settings.append(Setting(name, runs))
    return settings


def find(settings: list[Setting], name: str) -> Setting:
    """The setting of that name, or the one holding the experiment of that name or revision."""
    for s in settings:
        if s.name == name:
            return s
    for s in settings:
        if named(s.runs, name):
            return s
    raise MsaError(f"--baseline: {name!r} is not among the settings compared "
                   f"({', '.join(s.name for s in settings)})")
