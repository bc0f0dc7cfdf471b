"""Running an experiment set: each setting (a value of one param) at each training seed, one
named DVC experiment per run (msa.experiments.naming), each in a temporary copy of the
repository (`dvc exp run --temp`), one after another, so the workspace stays as it was.

Every run's params are checked before any runs. A run already finished on this commit with the
same params is not run again (`force` reruns it); a run that fails is reported as failed and
the others go on. Stages a run leaves alone come from DVC's cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from msa import params
from msa.data import data_root
from msa.errors import MsaError
from msa.experiments import naming
from msa.experiments.dvc_experiments import _dvc, finished, flatten


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


def _copy_paths(root: str) -> list[str]:
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
    sets: tuple[str, ...]  # dvc exp run -S values
    params: dict  # params.yaml as the run will have it, flattened
    copy: tuple[str, ...]  # -C for a data folder inside the repository
    root: str


@dataclass
class Outcome:
    runs: list[Run]
    ran: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # finished before, with the same params
    failed: list[str] = field(default_factory=list)

    @property
    def done(self) -> list[str]:
        return [r.name for r in self.runs if r.name not in self.failed]


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
            chosen = _with_sets(raw, list(sets))
            try:
                checked = params.from_dict(chosen)
            except MsaError as exc:
                raise MsaError(f"sweep {key}={value}: {exc}") from None
            runs.append(Run(naming.run_name(setting, seed), sets, flatten(chosen),
                            tuple(_copy_paths(checked.data.root)), checked.data.root))
    for root in dict.fromkeys(r.root for r in runs):
        data_root.find(root)
    return runs


def _head() -> str | None:
    """The commit checked out, which the runs' experiments are based on (None outside git)."""
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def execute(runs: list[Run], force: bool = False, queue: bool = False) -> Outcome:
    """Runs (or, with `queue`, queues in DVC's queue) what has not finished with these params."""
    head = _head()
    outcome = Outcome(runs)
    done = {} if force or queue else {e.name: e for e in finished()}
    listed = set(_dvc(["exp", "ls", "--name-only"]).split())
    for run in runs:
        before = done.get(run.name)
        if before is not None and before.params == run.params:
            print(f"sweep: {run.name} ran before with these params; kept (--force runs it "
                  "again)", flush=True)
            outcome.kept.append(run.name)
            continue
        if run.name in listed:
            _dvc(["exp", "remove", run.name])
        args = ["exp", "run", "--queue" if queue else "--temp", *run.copy, "-n", run.name,
                *(arg for value in run.sets for arg in ("-S", value))]
        print(f"sweep: dvc {' '.join(args)}", flush=True)
        if subprocess.run(["dvc", *args]).returncode != 0:
            print(f"sweep: {run.name} failed (its output is above); the others go on",
                  file=sys.stderr, flush=True)
            outcome.failed.append(run.name)
        else:
            outcome.ran.append(run.name)
    now = _head()
    if now != head:  # DVC files each run under the commit checked out when it started
        raise MsaError(f"the commit changed while the set ran ({head} -> {now}), so its "
                       "runs are experiments of both; commit after a set ends, then run the "
                       "same command again to have every run on one commit")
    return outcome


def run_sweep(key: str, values: list[str], overrides: list[str],
              seeds: list[int] | None = None, prefix: str | None = None,
              params_file: str | Path = "params.yaml", queue: bool = False,
              force: bool = False) -> Outcome:
    """One named DVC experiment per value of `key` and training seed, `overrides` set in
    every one."""
    seeds = list(range(naming.DEFAULT_SEEDS)) if seeds is None else seeds
    return execute(plan(key, values, overrides, seeds, prefix, params_file), force, queue)


def run_ablation(overrides: list[str], seeds: list[int] | None = None, modes=params.MODES,
                 prefix: str = "ablation", force: bool = False) -> Outcome:
    """The modality ablation: a sweep over `mode`; featurize is shared through DVC's cache."""
    return run_sweep("mode", list(modes), overrides, seeds, prefix, force=force)
