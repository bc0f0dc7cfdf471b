"""The workers' loop on a real SQLite storage: every trial once, however many workers take
them; a twin trial yields to the earlier; a dead worker's trial is run again by a live one."""

import time

import optuna
from optuna.trial import TrialState

from msa.experiments import storage, trials, workers
from msa.experiments.workspaces import RunFailed


class Recorder:
    """A workspace that 'runs' an experiment by noting it (the real ones run dvc exp run)."""

    def __init__(self, index, ran, fail=()):
        self.index, self.ran, self.fail = index, ran, set(fail)

    def prepare(self):
        pass

    def run(self, name, sets, copy):
        time.sleep(0.05)
        self.ran.append(name)
        if name in self.fail:
            raise RunFailed("it failed on purpose")
        return {"rev": "0" * 40, "metrics": {"macro_f1": 0.5, "accuracy": 0.6}}


def _study(tmp_path, names, heartbeat=1):
    store = storage.open_storage(None, tmp_path, heartbeat=heartbeat)
    study = optuna.create_study(study_name="t", storage=store, direction="maximize")
    for name in names:
        study.enqueue_trial({}, user_attrs={trials.SETTING: name[:-6],
                                            trials.EXPERIMENTS: [name]})
    return study


def _job(trial):
    name = trial.user_attrs[trials.EXPERIMENTS][0]
    return name[:-6], [(name, (), ())]


def _complete(study):
    return sorted(t.user_attrs[trials.EXPERIMENTS][0]
                  for t in study.get_trials(states=(TrialState.COMPLETE,)))


def test_three_workers_run_every_trial_exactly_once(tmp_path):
    names = [f"s-{k}-seed0" for k in range(12)]
    study, ran = _study(tmp_path, names), []
    workers.run_workers(study, [Recorder(i, ran) for i in range(3)],
                        lambda: workers.take_waiting(study), _job, "macro_f1", "sweep")
    assert sorted(ran) == sorted(names) == _complete(study)
    takers = {t.user_attrs[trials.WORKER] for t in study.get_trials()}
    assert len(takers) > 1 and all(w.startswith(trials.this_command()) for w in takers)
    assert all(t.value == 0.5 for t in study.get_trials())


def test_a_twin_trial_yields_to_the_earlier_one(tmp_path):
    study, ran = _study(tmp_path, ["a-seed0", "b-seed0", "a-seed0"]), []
    workers.work(study, Recorder(0, ran), lambda: workers.take_waiting(study), _job,
                 "macro_f1", print)
    assert ran == ["a-seed0", "b-seed0"]
    twin = study.get_trials()[2]
    assert twin.state == TrialState.PRUNED and twin.user_attrs[trials.DUPLICATE_OF] == 0


def test_a_failed_run_fails_its_trial_and_the_others_go_on(tmp_path):
    study, ran = _study(tmp_path, ["a-seed0", "b-seed0"]), []
    workers.work(study, Recorder(0, ran, fail={"a-seed0"}), lambda: workers.take_waiting(study),
                 _job, "macro_f1", print)
    first, second = study.get_trials()
    assert first.state == TrialState.FAIL and "on purpose" in first.user_attrs[trials.ERROR]
    assert second.state == TrialState.COMPLETE


def test_a_dead_workers_trial_is_retried_once_by_a_live_one(tmp_path):
    study, ran = _study(tmp_path, ["a-seed0", "b-seed0"], heartbeat=1), []
    dead = workers.take_waiting(study)  # taken, one heartbeat, then silence: a killed worker
    study._storage.record_heartbeat(dead._trial_id)
    started = time.monotonic()
    workers.work(study, Recorder(0, ran), lambda: workers.take_waiting(study), _job,
                 "macro_f1", print)
    assert time.monotonic() - started >= 3  # it waited out the grace period (3 heartbeats)
    assert sorted(ran) == ["a-seed0", "b-seed0"] == _complete(study)
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    retry = study.get_trials()[2]
    assert retry.system_attrs["failed_trial"] == dead.number


def test_the_heartbeat_beats_while_the_trial_runs(tmp_path):
    study = _study(tmp_path, ["a-seed0"], heartbeat=1)
    trial = workers.take_waiting(study)
    with workers.Heartbeat(study, trial) as beat:
        time.sleep(4)  # past the grace period, beating
        optuna.storages.fail_stale_trials(study)
        assert study.get_trials()[0].state == TrialState.RUNNING
    assert not beat.thread.is_alive()
    time.sleep(4)  # silent past the grace period: stale
    optuna.storages.fail_stale_trials(study)
    assert study.get_trials()[0].state == TrialState.FAIL


class Interrupting(Recorder):
    def run(self, name, sets, copy):
        raise KeyboardInterrupt


def test_ctrl_c_gives_the_trial_back_at_once(tmp_path):
    study = _study(tmp_path, ["a-seed0"], heartbeat=60)
    try:
        workers.work(study, Interrupting(0, []), lambda: workers.take_waiting(study), _job,
                     "macro_f1", print)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("Ctrl-C went unsaid")
    given_back, retry = study.get_trials()
    assert given_back.state == TrialState.FAIL and retry.state == TrialState.WAITING
    assert retry.user_attrs[trials.EXPERIMENTS] == ["a-seed0"]
    ran = []
    workers.work(study, Recorder(0, ran), lambda: workers.take_waiting(study), _job,
                 "macro_f1", print)  # the same command again runs it
    assert ran == ["a-seed0"] and _complete(study) == ["a-seed0"]
