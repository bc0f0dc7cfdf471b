"""msa search: Optuna's TPE samples settings from a space of params; each trial runs its
setting at every seed (one named DVC experiment each) and is scored by the mean over its seeds
of each run's cross-validated fold mean of the metric. Test predictions are never read.

A space is `KEY=LOW..HIGH` (a float), `KEY=LOW..HIGH:log` (sampled on a log scale), `KEY=LOW..
HIGH:int` (a whole number), `KEY=LOW..HIGH:int:log`, or `KEY=A,B,C` (one of those values).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.distributions import (BaseDistribution, CategoricalDistribution,
                                  FloatDistribution, IntDistribution)
from optuna.trial import TrialState

from msa import params
from msa.data import data_root
from msa.errors import MsaError
from msa.evaluation.metrics import HEADLINE
from msa.experiments import naming, runner, storage, trials, workers, workspaces


@dataclass(frozen=True)
class Dimension:
    key: str
    distribution: BaseDistribution
    spec: str  # as the user wrote it

    def values_to_check(self) -> list:
        d = self.distribution
        return list(d.choices) if isinstance(d, CategoricalDistribution) else [d.low, d.high]

    def sample(self, trial: optuna.Trial):
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return trial.suggest_categorical(self.key, d.choices)
        if isinstance(d, IntDistribution):
            return trial.suggest_int(self.key, d.low, d.high, log=d.log)
        return trial.suggest_float(self.key, d.low, d.high, log=d.log)

    def shown(self) -> str:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return "one of " + ", ".join(str(c) for c in d.choices)
        kind = "whole numbers" if isinstance(d, IntDistribution) else "numbers"
        return f"{kind} from {d.low} to {d.high}" + (", log scale" if d.log else "")


def _number(text: str, whole: bool, spec: str):
    try:
        return int(text) if whole else float(text)
    except ValueError:
        raise MsaError(f"search: {spec!r}: {text!r} is not a{' whole' if whole else ''} "
                       "number") from None


def parse_dimension(spec: str) -> Dimension:
    """One `KEY=...` of the space, or one line saying what is wrong with it."""
    key, sep, body = spec.partition("=")
    key, body = key.strip(), body.strip()
    if not sep or not key or not body:
        raise MsaError(f"search: {spec!r}: expected KEY=LOW..HIGH[:log|:int] or KEY=A,B,C "
                       "(e.g. train.lr=0.0001..0.01:log)")
    if key == "seed":
        raise MsaError("search: seed is every trial's own axis; give the seeds with --seeds")
    if ".." not in body:
        choices = [c.strip() for c in body.split(",") if c.strip()]
        if len(choices) < 2:
            raise MsaError(f"search: {spec!r}: name two values or more (one value is -S "
                           f"{key}=VALUE)")
        if len(set(choices)) != len(choices):
            raise MsaError(f"search: {spec!r}: a value is named twice")
        return Dimension(key, CategoricalDistribution(choices), spec)
    bounds, *flags = body.split(":")
    unknown = [f for f in flags if f not in ("log", "int")]
    if unknown or len(set(flags)) != len(flags):
        raise MsaError(f"search: {spec!r}: after the range, :log, :int or :int:log")
    whole, log = "int" in flags, "log" in flags
    low_text, _, high_text = bounds.partition("..")
    low, high = _number(low_text.strip(), whole, spec), _number(high_text.strip(), whole, spec)
    if not low < high:
        raise MsaError(f"search: {spec!r}: the low end must be below the high end")
    if log and low <= 0:
        raise MsaError(f"search: {spec!r}: a log scale needs a low end above 0")
    kind = IntDistribution if whole else FloatDistribution
    return Dimension(key, kind(low, high, log=log), spec)


def parse_space(specs: list[str]) -> list[Dimension]:
    if not specs:
        raise MsaError("search: name the space, e.g. train.lr=0.0001..0.01:log "
                       "train.patience=2,3,5")
    space = [parse_dimension(s) for s in specs]
    keys = [d.key for d in space]
    if len(set(keys)) != len(keys):
        raise MsaError(f"search: a key is named twice ({', '.join(keys)})")
    return space


def check_space(space: list[Dimension], overrides: list[str],
                params_file: str | Path = "params.yaml") -> str:
    """Every end of every range, and every value, as params take it: one line before any run.
    Returns the data folder the runs read."""
    raw = params.load_raw(params_file)
    firsts = [f"{d.key}={d.values_to_check()[0]}" for d in space]
    for d in space:
        for value in d.values_to_check():
            try:
                checked = params.from_dict(runner.with_sets(
                    raw, [*overrides, *firsts, f"{d.key}={value}"]))
            except MsaError as exc:
                raise MsaError(f"search {d.spec}: {d.key}={value}: {exc}") from None
    return checked.data.root


def next_trial(study: optuna.Study, budget: int):
    """A retried trial first; else a new one the sampler proposes while the budget lasts (a
    dead worker's trial counts once, by its retry)."""
    def get():
        waiting = workers.take_waiting(study)
        if waiting is not None:
            return waiting
        every = study.get_trials(deepcopy=False)
        retried = {t.system_attrs.get("failed_trial") for t in every} - {None}
        counted = [t for t in every if not (t.state == TrialState.FAIL
                                            and t.number in retried)]
        return study.ask() if len(counted) < budget else None
    return get


def run_search(specs: list[str], budget: int, metric: str, overrides: list[str],
               seeds: list[int], prefix: str = "search",
               how: runner.Execution = runner.Execution()) -> tuple[optuna.Study, list]:
    if metric not in HEADLINE:
        raise MsaError(f"search: --metric {metric}: one of {', '.join(HEADLINE)}")
    if budget < 1:
        raise MsaError(f"search: --trials {budget}: 1 or more")
    space = parse_space(specs)
    if any(item.partition("=")[0].strip() == "seed" for item in overrides):
        raise MsaError("seed: every trial's own axis; give the seeds with --seeds")
    root = check_space(space, overrides)
    data_root.find(root)
    head = runner.head_commit()
    if head is None:
        raise MsaError("search: not in a git repository with a commit")
    store = storage.open_storage(how.storage_url, Path.cwd(), how.heartbeat)
    share = runner.shared_remote(how.storage_url)
    copy = tuple(runner.copy_paths(root))
    name = trials.study_name("search", ",".join(d.key for d in space), head, trials.digest(
        [[d.spec for d in space], overrides, seeds, metric, prefix]))
    if how.force:
        try:
            optuna.delete_study(study_name=name, storage=store)
        except KeyError:
            pass
    study = optuna.create_study(
        study_name=name, storage=store, direction="maximize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=0, constant_liar=True))
    study.set_user_attr("space", [d.spec for d in space])
    study.set_user_attr("metric", metric)

    def job_of(trial: optuna.Trial):
        chosen = [f"{d.key}={d.sample(trial)}" for d in space]
        setting = trials.search_setting(prefix, trial.number)
        runs = [(naming.run_name(setting, seed), (*overrides, *chosen, f"seed={seed}"), copy)
                for seed in seeds]
        trial.set_user_attr(trials.SETTING, setting)
        trial.set_user_attr(trials.EXPERIMENTS, [r[0] for r in runs])
        return setting, runs

    print(f"search: study {name!r} in {storage.shown(store.url)}; {budget} trials, each at "
          f"seeds {' '.join(map(str, seeds))}", file=sys.stderr, flush=True)
    source = workspaces.Source.of(Path.cwd(), tuple(copy[1::2]), share)
    workers.run_workers(study, workspaces.workspaces(source, how.workers),
                        next_trial(study, budget), job_of, metric, "search")
    return study, space
