"""Running a grid set (ablation, sweep): each setting (a value of one param) at each training
seed, one named DVC experiment per run (msa.experiments.naming), each run a trial of the set's
Optuna study (msa.experiments.trials), run by the workers of this command and of any other
that shares the study's storage (msa.experiments.workers), so the workspace stays as it was.

Every run's params are checked before any runs. A run already finished on this commit with the
same params is not run again (`force` reruns it); a run that fails is reported as failed and
the others go on; the same command again runs what has not finished. Stages a run leaves alone
come from DVC's cache.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from msa import params
from msa.data import data_root
from msa.errors import MsaError
from msa.experiments import naming, storage, trials, workers, workspaces
from msa.experiments.dvc_experiments import finished, flatten

METRIC = "macro_f1"  # a grid trial's value: what optuna-dashboard charts


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


def with_sets(raw: dict, sets: list[str]) -> dict:
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


def copy_paths(root: str) -> list[str]:
    """`-C` for a data folder inside the repository: the copy a run happens in holds only what
    git tracks, and DVC copies in what -C names. A folder outside needs an absolute path."""
    if Path(root).is_absolute():
        return []
    if not Path(root).resolve().is_relative_to(Path.cwd().resolve()):
        raise MsaError(f"data.root: {root} is outside the repository; each run happens in a copy "
                       "of it, so give data.root as an absolute path")
    return ["-C", root]


@dataclass(frozen=True)
class Run:
    """One setting at one training seed: one named DVC experiment."""

    name: str
    key: str
    value: str
    seed: int
    sets: tuple[str, ...]  # dvc exp run -S values
    params: dict  # params.yaml as the run will have it, flattened
    copy: tuple[str, ...]  # -C for a data folder inside the repository
    root: str


@dataclass
class Outcome:
    runs: list[Run]
    ran: list[str] = field(default_factory=list)  # by this command's workers
    kept: list[str] = field(default_factory=list)  # finished before, with the same params
    elsewhere: list[str] = field(default_factory=list)  # by the workers of another command
    failed: list[str] = field(default_factory=list)
    not_pulled: list[str] = field(default_factory=list)  # finished elsewhere, not here

    @property
    def done(self) -> list[str]:
        return [r.name for r in self.runs
                if r.name not in self.failed and r.name not in self.not_pulled]


def plan(key: str, values: list[str], overrides: list[str], seeds: list[int],
         prefix: str | None = None, params_file: str | Path = "params.yaml") -> list[Run]:
    """Every (value, seed) run, its params checked: a bad value, or a knob the other settings
    leave unread, fails here, before any run; then each run's data folder is looked for."""
    if key == "seed" or any(item.partition("=")[0].strip() == "seed" for item in overrides):
        raise MsaError("seed: the training seed is every set's own axis; give the seeds with "
                       "--seeds (a count, or a list such as 0,4,7)")
    raw = params.load_raw(params_file)
    prefix = prefix or key.replace(".", "-")
    runs = []
    for value in values:
        setting = naming.setting_name(prefix, value)
        for seed in seeds:
            sets = (*overrides, f"{key}={value}", f"seed={seed}")
            chosen = with_sets(raw, list(sets))
            try:
                checked = params.from_dict(chosen)
            except MsaError as exc:
                raise MsaError(f"sweep {key}={value}: {exc}") from None
            runs.append(Run(naming.run_name(setting, seed), key, value, seed, sets,
                            flatten(chosen),
                            tuple(copy_paths(checked.data.root)), checked.data.root))
    for root in dict.fromkeys(r.root for r in runs):
        data_root.find(root)
    return runs


def head_commit() -> str | None:
    """The commit checked out, which the runs' experiments are based on (None outside git)."""
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def shared_remote(storage_url: str | None, remote: str = "origin") -> str | None:
    """The git remote experiments are pushed on to: where the storage is shared with other
    machines (a URL was given) and the repository has that remote."""
    if storage.is_embedded(storage_url):
        return None
    remotes = subprocess.run(["git", "remote"], capture_output=True, text=True).stdout.split()
    if remote not in remotes:
        print(f"sweep: no git remote {remote!r} here, so the experiments stay in this "
              "repository; other machines see them once pushed (dvc exp push)",
              file=sys.stderr, flush=True)
        return None
    return remote


def open_grid(store, name: str, runs: list[Run], force: bool) -> optuna.Study:
    """The study of a grid set, every run of it a trial: one already finished on this commit with
    the same params is a kept trial, the others are enqueued (again, where their last trial
    failed). Whoever creates the study enqueues first; the others wait for its plan."""
    if force:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=store)
    try:
        study = optuna.create_study(study_name=name, storage=store, direction="maximize")
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study, created = optuna.load_study(study_name=name, storage=store), False
        for _ in range(600):
            if trials.PLAN in study.user_attrs:
                break
            time.sleep(0.1)
    active = {t.user_attrs.get(trials.EXPERIMENTS, [None])[0]: t.state
              for t in study.get_trials(deepcopy=False, states=workers.ACTIVE)}
    done = {} if force else {e.name: e for e in finished()}
    distributions = grid_distributions(runs)
    for run in runs:
        state, before = active.get(run.name), done.get(run.name)
        kept = before is not None and before.params == run.params
        if state == TrialState.COMPLETE or (state is None and kept):
            print(f"sweep: {run.name} ran before with these params; kept (--force runs it "
                  "again)", flush=True)
        if state is not None:
            continue
        attrs = {trials.SETTING: naming.setting_of(run.name), trials.EXPERIMENTS: [run.name]}
        if kept:
            attrs |= {trials.KEPT: True, trials.RESULTS: {run.name: {
                "rev": before.rev, "metrics": trials.headline(before.metrics)}}}
            study.add_trial(optuna.create_trial(
                params={run.key: run.value, "seed": run.seed}, distributions=distributions,
                user_attrs=attrs,
                value=trials.headline(before.metrics).get(METRIC) or 0.0))
        else:
            study.enqueue_trial({run.key: run.value, "seed": run.seed}, user_attrs=attrs)
    if created:
        study.set_user_attr(trials.PLAN, [r.name for r in runs])
    return study


def grid_distributions(runs: list[Run]) -> dict:
    """A grid trial's params as Optuna (and optuna-dashboard) sees them: the value, the seed."""
    return {runs[0].key: CategoricalDistribution(list(dict.fromkeys(r.value for r in runs))),
            "seed": CategoricalDistribution(sorted({r.seed for r in runs}))}


def outcome_of(study: optuna.Study, runs: list[Run]) -> Outcome:
    """Each run of the set by its trials: finished by whom, or failed."""
    outcome = Outcome(runs)
    complete = {t.user_attrs[trials.EXPERIMENTS][0]: t
                for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    mine = trials.this_command()
    for run in runs:
        trial = complete.get(run.name)
        if trial is None:
            outcome.failed.append(run.name)
        elif trial.user_attrs.get(trials.KEPT):
            outcome.kept.append(run.name)
        elif str(trial.user_attrs.get(trials.WORKER, "")).startswith(mine):
            outcome.ran.append(run.name)
        else:
            outcome.elsewhere.append(run.name)
    return outcome


def pull_elsewhere(outcome: Outcome, share: str | None) -> None:
    """The runs other machines finished, pulled from the shared remote; those it does not have
    yet are named."""
    here = workspaces.experiments_of(Path.cwd(), head_commit())
    missing = [n for n in outcome.elsewhere + outcome.ran + outcome.kept if n not in here]
    if missing and share:
        done = subprocess.run(["dvc", "exp", "pull", "-f", share, *missing],
                              capture_output=True, text=True)
        if done.returncode == 0:
            print(f"sweep: pulled {len(missing)} experiment(s) from {share}: "
                  + ", ".join(missing), file=sys.stderr, flush=True)
            missing = []
        else:
            said = (done.stderr.strip().splitlines() or [""])[-1]
            print(f"sweep: dvc exp pull {share} failed ({said})", file=sys.stderr, flush=True)
    outcome.not_pulled = missing


@dataclass(frozen=True)
class Execution:
    """How a set's trials run: the storage of its study (None: the embedded one), the workers
    here, the heartbeat, and whether runs finished before run again."""

    storage_url: str | None = None
    workers: int = 1
    heartbeat: int = storage.HEARTBEAT_SECONDS
    force: bool = False

    def __post_init__(self):
        if self.workers < 1:
            raise MsaError(f"--workers {self.workers}: 1 or more")
        if self.heartbeat < 1:
            raise MsaError(f"--heartbeat {self.heartbeat}: a whole number of seconds, 1 or more")


def execute(runs: list[Run], verb: str, label: str, how: Execution = Execution()) -> Outcome:
    """Runs what has not finished with these params, as the trials of the set's study, by
    `how.workers` workers here and any other command sharing the storage."""
    head = head_commit()
    if head is None:
        raise MsaError(f"{verb}: not in a git repository with a commit; experiments are based "
                       "on one")
    store = storage.open_storage(how.storage_url, Path.cwd(), how.heartbeat)
    share = shared_remote(how.storage_url)
    name = trials.study_name(verb, label, head,
                             trials.digest([(r.name, r.params) for r in runs]))
    copies = tuple(dict.fromkeys(c for r in runs for c in r.copy[1::2]))
    source = workspaces.Source.of(Path.cwd(), copies, share)
    study = open_grid(store, name, runs, how.force)
    by_name, distributions = {r.name: r for r in runs}, grid_distributions(runs)

    def job_of(trial: optuna.Trial):
        for param, distribution in distributions.items():
            trial.suggest_categorical(param, distribution.choices)
        run = by_name[trial.user_attrs[trials.EXPERIMENTS][0]]
        return naming.setting_of(run.name), [(run.name, run.sets, run.copy)]

    print(f"{verb}: study {name!r} in {storage.shown(store.url)}", file=sys.stderr,
          flush=True)
    workers.run_workers(study, workspaces.workspaces(source, how.workers),
                        lambda: workers.take_waiting(study), job_of, METRIC, verb)
    now = head_commit()
    if now != head:  # DVC files each run under the commit checked out when it started
        raise MsaError(f"the commit changed while the set ran ({head[:7]} -> {now[:7]}), so "
                       "its runs are experiments of both; commit after a set ends, then run "
                       "the same command again to have every run on one commit")
    outcome = outcome_of(study, runs)
    pull_elsewhere(outcome, share)
    return outcome


def run_sweep(key: str, values: list[str], overrides: list[str],
              seeds: list[int] | None = None, prefix: str | None = None,
              params_file: str | Path = "params.yaml", how: Execution = Execution(),
              verb: str = "sweep") -> Outcome:
    """One named DVC experiment per value of `key` and training seed, `overrides` set in
    every one."""
    seeds = list(range(naming.DEFAULT_SEEDS)) if seeds is None else seeds
    return execute(plan(key, values, overrides, seeds, prefix, params_file), verb, key, how)


def run_ablation(overrides: list[str], seeds: list[int] | None = None, modes=params.MODES,
                 prefix: str = "ablation", how: Execution = Execution()) -> Outcome:
    """The modality ablation: a sweep over `mode`; featurize is shared through DVC's cache."""
    return run_sweep("mode", list(modes), overrides, seeds, prefix, how=how, verb="ablation")
