"""Workers: each asks the study for a trial no one runs, runs its experiments in its own
workspace while it sends a heartbeat, and records what they finished with; then the next.

A trial is taken by setting it from waiting to running in the storage, which one worker alone
can do. A worker that finds none waiting waits while others still run theirs: a worker that
dies leaves its trial running until its heartbeats are missed, then any waiting worker fails it
and Optuna enqueues it again (storage.RETRIES times at most). Two trials of one run, which two
machines may enqueue at once, run once: the later one yields to the earlier.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

import optuna
from optuna.trial import TrialState

from msa.experiments import trials
from msa.experiments.workspaces import RunFailed

ACTIVE = (TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE)

# What a trial runs: (setting, [(run name, -S values, -C paths), ...]) for a trial taken.
Job = tuple[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]]


def take_waiting(study: optuna.Study) -> optuna.Trial | None:
    """A waiting trial, now this worker's, or None."""
    storage = study._storage
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, frozen._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def earlier_twin(study: optuna.Study, trial: optuna.Trial) -> int | None:
    """The number of another trial of the same runs that finished, or runs and came first."""
    mine = trial.user_attrs.get(trials.EXPERIMENTS)
    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                          TrialState.RUNNING)):
        if other.number == trial.number or other.user_attrs.get(trials.EXPERIMENTS) != mine:
            continue
        if other.state == TrialState.COMPLETE or other.number < trial.number:
            return other.number
    return None


class Heartbeat:
    """Tells the storage, every interval, that the trial's worker is alive."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial):
        self.storage, self.trial_id = study._storage, trial._trial_id
        self.stop = threading.Event()
        self.storage.record_heartbeat(self.trial_id)
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        interval = self.storage.get_heartbeat_interval()
        while not self.stop.wait(interval):
            self.storage.record_heartbeat(self.trial_id)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _interrupted(study: optuna.Study, trial: optuna.Trial) -> None:
    """Ctrl-C: the trial is failed and enqueued again, as a dead worker's is, so the same command
    (here or on another machine) runs it."""
    study.tell(trial, state=TrialState.FAIL)
    callback = study._storage.get_heartbeat_stale_trial_callback()
    if callback is not None:
        callback(study, study._storage.get_trial(trial._trial_id))


def work(study: optuna.Study, workspace, next_trial: Callable[[], optuna.Trial | None],
         job_of: Callable[[optuna.Trial], Job], metric: str, say: Callable[[str], None],
         stopping: threading.Event | None = None) -> None:
    """Trials until none is waiting and no other worker's is running."""
    stopping = stopping or threading.Event()
    workspace.prepare()
    poll = max(1, min(10, study._storage.get_heartbeat_interval() // 2))
    while True:
        optuna.storages.fail_stale_trials(study)
        trial = next_trial()
        if trial is None:
            if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                return
            time.sleep(poll)
            continue
        trial.set_user_attr(trials.WORKER, trials.this_worker(workspace.index))
        setting, runs = job_of(trial)
        twin = earlier_twin(study, trial)
        if twin is not None:
            trial.set_user_attr(trials.DUPLICATE_OF, twin)
            study.tell(trial, state=TrialState.PRUNED)
            continue
        try:
            with Heartbeat(study, trial):
                results, name = {}, setting
                for name, sets, copy in runs:
                    started = time.monotonic()
                    say(f"{name}: started")
                    results[name] = workspace.run(name, sets, copy)
                    score = results[name]["metrics"].get(metric)
                    say(f"{name}: finished in {time.monotonic() - started:.0f} s"
                        + (f", {metric} {score:.4f}" if score is not None else ""))
        except RunFailed as failure:
            if stopping.is_set():  # Ctrl-C stopped its run
                _interrupted(study, trial)
                return
            say(f"{name} failed ({failure}); the others go on")
            trial.set_user_attr(trials.ERROR, str(failure))
            study.tell(trial, state=TrialState.FAIL)
            continue
        except BaseException:
            _interrupted(study, trial)
            raise
        trial.set_user_attr(trials.RESULTS, results)
        scores = [r["metrics"].get(metric) for r in results.values()]
        study.tell(trial, sum(scores) / len(scores) if None not in scores else None,
                   state=TrialState.COMPLETE if None not in scores else TrialState.FAIL)


def run_workers(study: optuna.Study, workspaces: list, next_trial, job_of, metric: str,
                verb: str) -> None:
    """Every workspace's worker at once, until the study has nothing left to run."""
    def say_for(workspace):
        prefix = f"{verb}: " + (f"worker {workspace.index}: " if len(workspaces) > 1 else "")
        return lambda text: print(prefix + text, file=sys.stderr, flush=True)

    if len(workspaces) == 1:
        work(study, workspaces[0], next_trial, job_of, metric, say_for(workspaces[0]))
        return
    errors: list[BaseException] = []
    stopping = threading.Event()

    def one(workspace):
        try:
            work(study, workspace, next_trial, job_of, metric, say_for(workspace), stopping)
        except BaseException as exc:  # noqa: BLE001 - said by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(w,), daemon=True) for w in workspaces]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # the main thread stays awake for Ctrl-C
    except KeyboardInterrupt:
        stopping.set()  # the runs had Ctrl-C too: each worker gives its trial back
        for thread in threads:
            thread.join(30)
        raise
    if errors:
        raise errors[0]
