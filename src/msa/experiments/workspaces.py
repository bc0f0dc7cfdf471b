"""Where a worker runs its experiments, one at a time, each a named DVC experiment.

One worker runs them as msa always has, in a temporary copy of the repository (`dvc exp run
--temp`). Several workers never share a repository (DVC's repository lock and queue race: dvc
#7419, #10673): each has a clone of its own under .msa/workers/, on the commit checked out here
with the workspace's changes on top, sharing this repository's DVC cache, and pushes each
experiment it finishes back here, so `dvc exp show` and `msa compare` see it as if run here.
Where the experiments are shared with other machines, each is pushed on to the git remote and
its outputs to the DVC remote (`dvc exp push`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from msa.errors import MsaError
from msa.evaluation.metrics import DETAILS_FILE, METRICS_FILE
from msa.experiments import storage, trials


class RunFailed(Exception):
    """A run that did not finish; its message says where its output is."""


def _git(args: list[str], cwd: Path, **kwargs) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise MsaError(f"git {' '.join(args)} in {cwd} failed: {message}")
    return done.stdout


def experiment_refs(repo: Path, name: str) -> list[tuple[str, str]]:
    """(ref, revision) of the experiments of that name, any baseline (refs/exps/AB/CDEF.../NAME)."""
    listed = _git(["for-each-ref", "--format=%(refname) %(objectname)", "refs/exps"], repo)
    return [tuple(line.split()) for line in listed.splitlines()
            if line.split()[0].rsplit("/", 1)[-1] == name and "/exec/" not in line]


def experiments_of(repo: Path, commit: str) -> set[str]:
    """The names of the experiments based on that commit (refs/exps/AB/CDEF.../NAME)."""
    listed = _git(["for-each-ref", "--format=%(refname)", f"refs/exps/{commit[:2]}/{commit[2:]}/"],
                  repo)
    return {ref.rsplit("/", 1)[-1] for ref in listed.split()}


def _forget(repo: Path, name: str) -> None:
    """An experiment of that name is replaced by the run that takes its name."""
    for ref, _ in experiment_refs(repo, name):
        _git(["update-ref", "-d", ref], repo)


def _results(repo: Path, name: str) -> dict:
    """What the run of that name finished with: its revision and headline scores."""
    refs = experiment_refs(repo, name)
    if not refs:
        raise RunFailed(f"{name}: DVC made no experiment of that name")
    rev = refs[0][1]
    metrics = json.loads(_git(["show", f"{rev}:{METRICS_FILE}"], repo))
    details = json.loads(_git(["show", f"{rev}:{DETAILS_FILE}"], repo))
    return {"rev": rev, "metrics": trials.headline(metrics),
            "trained_on": (details.get("produced_by") or {}).get("train") or {}}


@dataclass(frozen=True)
class Source:
    """What every worker's workspace starts from: this repository's commit and changes."""

    repo: Path
    head: str  # full commit id
    changes: bytes  # git diff HEAD --binary: the workspace's changes to tracked files
    untracked: tuple[str, ...]  # files git does not ignore and does not track
    copies: tuple[str, ...]  # data folders inside the repository that git ignores (-C)
    share: str | None  # the git remote experiments are pushed on to, or None

    @classmethod
    def of(cls, repo: Path, copies: tuple[str, ...], share: str | None) -> Source:
        head = _git(["rev-parse", "HEAD"], repo).strip()
        changes = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=repo,
                                 capture_output=True, check=True).stdout
        untracked = _git(["ls-files", "--others", "--exclude-standard"], repo).split("\n")
        own = f"{storage.STATE_DIR}/"  # never the workers' own clones, where git sees them
        return cls(repo, head, changes, tuple(u for u in untracked if u and not u.startswith(own)),
                   copies, share)


class TempCopy:
    """The repository itself, each run in a temporary copy DVC makes (`dvc exp run --temp`)."""

    def __init__(self, source: Source, index: int = 0):
        self.source, self.index, self.log = source, index, None

    def prepare(self) -> None:
        pass

    def run(self, name: str, sets: tuple[str, ...], copy: tuple[str, ...]) -> dict:
        repo = self.source.repo
        _forget(repo, name)
        args = ["exp", "run", "--temp", *copy, "-n", name,
                *(arg for value in sets for arg in ("-S", value))]
        print(f"sweep: dvc {' '.join(args)}", flush=True)
        if subprocess.run(["dvc", *args], cwd=repo).returncode != 0:
            raise RunFailed("its output is above")
        finished = _results(repo, name)
        if self.source.share:
            _push(repo, self.source.share, name, cache=True)
        return finished


def _push(repo: Path, remote: str, name: str, cache: bool, log=None) -> None:
    done = subprocess.run(["dvc", "exp", "push", "-f", *([] if cache else ["--no-cache"]),
                           remote, name], cwd=repo, stdout=log or subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        said = (done.stdout or "").strip().splitlines()
        raise RunFailed(f"dvc exp push {remote} {name} failed"
                        + (f": {said[-1]}" if said else f" (see {log.name})" if log else ""))


def _copy_tree(source: Path, target: Path) -> None:
    """A data folder, hard-linked where the file system allows (the data are only read)."""
    try:
        shutil.copytree(source, target, copy_function=os.link)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


class Clone:
    """A clone of the repository of this worker's own, sharing its DVC cache."""

    UPSTREAM = "msa-shared"  # the clone's name for the remote experiments are shared on

    def __init__(self, source: Source, index: int):
        self.source, self.index = source, index
        self.path = source.repo / storage.STATE_DIR / "workers" / str(index)
        self.log_path = self.path.parent / f"{index}.log"
        self.log = None

    def prepare(self) -> None:
        repo, path = self.source.repo, self.path
        if not (path / ".git").is_dir():
            shutil.rmtree(path, ignore_errors=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            _git(["clone", "--quiet", "--no-checkout", str(repo), str(path)], repo)
        _git(["fetch", "--quiet", "origin", self.source.head], path)
        _git(["checkout", "--quiet", "--force", "--detach", self.source.head], path)
        if (repo / ".dvc" / "config.local").is_file():  # a remote's credentials, say
            shutil.copy(repo / ".dvc" / "config.local", path / ".dvc" / "config.local")
        cache = subprocess.run(["dvc", "cache", "dir"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip()
        subprocess.run(["dvc", "cache", "dir", "--local", cache], cwd=path, check=True,
                       capture_output=True)
        remotes = _git(["remote"], path).split()
        if self.source.share:
            url = _git(["remote", "get-url", self.source.share], repo).strip()
            if not Path(url).is_absolute() and (repo / url).exists():
                url = str((repo / url).resolve())
            verb = "set-url" if self.UPSTREAM in remotes else "add"
            _git(["remote", verb, self.UPSTREAM, url], path)
        for folder in self.source.copies:
            shutil.rmtree(path / folder, ignore_errors=True)
            _copy_tree(repo / folder, path / folder)
        self.log = open(self.log_path, "a", encoding="utf-8")

    def _reset(self) -> None:
        """The clone's workspace as the repository's: its commit, then its changes on top."""
        path = self.path
        _git(["checkout", "--quiet", "--force", "--detach", self.source.head], path)
        _git(["clean", "-fdq"], path)
        if self.source.changes:
            done = subprocess.run(["git", "apply", "--binary", "-"], cwd=path,
                                  input=self.source.changes, capture_output=True)
            if done.returncode != 0:
                raise MsaError(f"worker {self.index}: the workspace's changes do not apply to "
                               f"its clone: {done.stderr.decode(errors='replace').strip()}")
        for name in self.source.untracked:
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.source.repo / name, path / name)

    def run(self, name: str, sets: tuple[str, ...], copy: tuple[str, ...]) -> dict:
        self._reset()
        _forget(self.path, name)
        args = ["exp", "run", "-n", name, *(arg for value in sets for arg in ("-S", value))]
        self.log.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} dvc {' '.join(args)}\n")
        self.log.flush()
        env = {**os.environ, **_device_of(self.index)}
        done = subprocess.run(["dvc", *args], cwd=self.path, stdout=self.log,
                              stderr=subprocess.STDOUT, env=env)
        if done.returncode != 0:
            raise RunFailed(f"its output is in {self.log_path}")
        finished = _results(self.path, name)
        _push(self.path, "origin", name, cache=False, log=self.log)  # the cache is shared
        if self.source.share:
            _push(self.path, self.UPSTREAM, name, cache=True, log=self.log)
        return finished


def _device_of(index: int) -> dict:
    """A GPU of its own for each worker, where there are GPUs; nothing to set where none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        devices = [d for d in visible.split(",") if d.strip()]
    else:
        found = shutil.which("nvidia-smi") and subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True).stdout
        devices = [str(i) for i, line in enumerate((found or "").splitlines())
                   if line.startswith("GPU")]
    return {"CUDA_VISIBLE_DEVICES": devices[index % len(devices)]} if devices else {}


def workspaces(source: Source, count: int) -> list:
    if count == 1:
        return [TempCopy(source)]
    print(f"{count} workers, each in a clone of this repository under "
          f"{storage.STATE_DIR}/workers/ (its log beside it)", file=sys.stderr, flush=True)
    return [Clone(source, i) for i in range(count)]
