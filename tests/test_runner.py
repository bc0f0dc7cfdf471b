import pytest

from msa.errors import MsaError
from msa.experiments import runner, workspaces
from msa.experiments.dvc_experiments import Experiment


class FakeDvc:
    """Records the dvc commands a set would run in the repository (one worker: `dvc exp run
    --temp`); `experiment_refs` knows `existing`, `dvc exp show` the finished experiments
    `finished` (name -> flattened params); the set's study is real, in the embedded storage."""

    def __init__(self, monkeypatch, existing=(), fail_on=None, finished=None):
        self.calls, self.existing, self.fail_on = [], set(existing), fail_on
        self.finished = finished or {}
        monkeypatch.setattr(runner, "finished", lambda: [
            Experiment(name, "f" * 40, params, {}) for name, params in self.finished.items()])
        monkeypatch.setattr(runner, "head_commit", lambda: "abc1234" + "0" * 33)
        monkeypatch.setattr(workspaces.Source, "of", classmethod(
            lambda cls, repo, copies, share: cls(repo, "abc1234" + "0" * 33, b"", (), copies,
                                                 share)))
        monkeypatch.setattr(workspaces, "experiment_refs", lambda repo, name: [
            (f"refs/exps/ab/c1234/{name}", "f" * 40)] if name in self.existing else [])
        monkeypatch.setattr(workspaces, "_git", self._git)
        monkeypatch.setattr(workspaces.subprocess, "run", self._run)
        monkeypatch.setattr(workspaces, "_results", lambda repo, name: {
            "rev": "f" * 40, "metrics": {"macro_f1": 0.5}})
        monkeypatch.setattr(runner, "pull_elsewhere", lambda outcome, share: None)

    def _git(self, args, cwd, **kwargs):
        if args[:2] == ["update-ref", "-d"]:  # an experiment of the name is replaced
            self.calls.append(["exp", "remove", args[2].rsplit("/", 1)[-1]])
        return ""

    def _run(self, cmd, **kwargs):
        self.calls.append(cmd[1:])
        failed = self.fail_on is not None and self.fail_on in cmd
        return type("Done", (), {"returncode": 1 if failed else 0})()

    def runs(self):
        return [c for c in self.calls if c[:2] == ["exp", "run"]]


def _params_file(tmp_path, text="train:\n  early_stopping: refit\n"):
    (tmp_path / "data" / "demo").mkdir(parents=True, exist_ok=True)  # the folder each run copies
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_parse_sweep_spec():
    assert runner.parse_sweep("train.patience=1, 2,4,8") == ("train.patience",
                                                             ["1", "2", "4", "8"])
    for bad in ("train.patience", "train.patience=", "=1,2", "train.patience=1,1"):
        with pytest.raises(MsaError, match="sweep: "):
            runner.parse_sweep(bad)


def test_a_sweep_runs_one_named_experiment_per_value_and_seed_with_the_extra_sets(
        monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch, existing={"train-patience-2-seed0"})
    outcome = runner.run_sweep("train.patience", ["1", "2"], ["train.lr=0.01"], seeds=[0, 5],
                               params_file=_params_file(tmp_path))
    assert outcome.done == outcome.ran == [
        "train-patience-1-seed0", "train-patience-1-seed5", "train-patience-2-seed0",
        "train-patience-2-seed5"]
    assert ["exp", "remove", "train-patience-2-seed0"] in dvc.calls  # a rerun replaces it
    # each in a temporary copy (the workspace stays as it was), the untracked data copied in;
    # the training seed alone varies between the runs of a setting
    assert dvc.runs()[:2] == [
        ["exp", "run", "--temp", "-C", "data/demo", "-n", "train-patience-1-seed0", "-S",
         "train.lr=0.01", "-S", "train.patience=1", "-S", "seed=0"],
        ["exp", "run", "--temp", "-C", "data/demo", "-n", "train-patience-1-seed5", "-S",
         "train.lr=0.01", "-S", "train.patience=1", "-S", "seed=5"]]
    assert len(dvc.runs()) == 4


def test_three_seeds_by_default_and_the_seed_is_no_sweep_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch)
    outcome = runner.run_sweep("train.patience", ["1"], [], params_file=_params_file(tmp_path))
    assert outcome.done == [f"train-patience-1-seed{s}" for s in (0, 1, 2)]
    for key, sets in (("seed", []), ("train.patience", ["seed=3"])):
        with pytest.raises(MsaError, match=r"^seed: the training seed is every set's own axis; "
                                           r"give the seeds with --seeds"):
            runner.run_sweep(key, ["1"], sets, params_file=_params_file(tmp_path))
    assert len(dvc.runs()) == 3


def test_a_run_finished_with_the_same_params_is_not_run_again(monkeypatch, tmp_path):
    """Rerunning a sweep with one more value runs only the new runs; --force runs all; a run
    of that name with other params (another -S) runs again."""
    monkeypatch.chdir(tmp_path)
    params_file = _params_file(tmp_path)
    plan = runner.plan("train.patience", ["1", "2"], [], [0, 1], params_file=params_file)
    finished = {r.name: r.params for r in plan}
    finished["train-patience-2-seed1"] = {**finished["train-patience-2-seed1"], "train.lr": 9}
    dvc = FakeDvc(monkeypatch, existing=set(finished), finished=finished)
    outcome = runner.run_sweep("train.patience", ["1", "2", "4"], [], seeds=[0, 1],
                               params_file=params_file)
    assert outcome.kept == ["train-patience-1-seed0", "train-patience-1-seed1",
                            "train-patience-2-seed0"]
    assert outcome.ran == ["train-patience-2-seed1", "train-patience-4-seed0",
                           "train-patience-4-seed1"]
    assert [r[r.index("-n") + 1] for r in dvc.runs()] == outcome.ran
    dvc.calls.clear()
    outcome = runner.run_sweep("train.patience", ["1", "2"], [], seeds=[0, 1],
                               params_file=params_file, how=runner.Execution(force=True))
    assert outcome.kept == [] and len(dvc.runs()) == 4


def test_a_data_folder_outside_the_repository_is_copied_by_nobody(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch)
    lab5 = tmp_path / "lab5"  # absolute
    lab5.mkdir()
    runner.run_sweep("train.lr", ["0.1"], [f"data.root={lab5}"], seeds=[0],
                     params_file=_params_file(tmp_path))
    assert dvc.runs()[0][2:4] == ["--temp", "-n"]  # an absolute root is read where it is
    with pytest.raises(MsaError, match=f"^data.root: {tmp_path}/absent not found; "):
        runner.run_sweep("train.lr", ["0.2"], [f"data.root={tmp_path}/absent"], seeds=[0],
                         params_file=_params_file(tmp_path))
    assert len(dvc.runs()) == 1  # refused before any run
    with pytest.raises(MsaError, match="^data.root: ../lab5 is outside the repository; .*absolute"):
        runner.run_sweep("train.lr", ["0.1"], ["data.root=../lab5"], seeds=[0],
                         params_file=_params_file(tmp_path))


@pytest.mark.parametrize("key, values, match", [
    # a knob the other settings leave unread: refused before any experiment runs
    ("train.early_stopping", ["refit", "none"],
     r"^sweep train.early_stopping=none: train.patience: 5 is never read while "
     r"train.early_stopping is none"),
    ("train.patience", ["2", "0"], r"^sweep train.patience=0: train.patience: 0 is not allowed"),
    ("train.pateince", ["2"], r"^sweep train.pateince=2: train.pateince: unknown key"),
])
def test_every_value_is_checked_before_any_experiment_runs(monkeypatch, tmp_path, key, values,
                                                          match):
    dvc = FakeDvc(monkeypatch)
    params_file = _params_file(tmp_path, "train:\n  early_stopping: refit\n  patience: 5\n")
    with pytest.raises(MsaError, match=match):
        runner.run_sweep(key, values, [], params_file=params_file)
    assert dvc.calls == []


def test_a_failed_run_is_reported_and_the_others_go_on(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch, fail_on="train-patience-1-seed1")
    outcome = runner.run_sweep("train.patience", ["1", "2"], [], seeds=[0, 1],
                               params_file=_params_file(tmp_path))
    assert outcome.failed == ["train-patience-1-seed1"]
    assert outcome.done == ["train-patience-1-seed0", "train-patience-2-seed0",
                            "train-patience-2-seed1"]
    assert len(dvc.runs()) == 4
    assert ("sweep: train-patience-1-seed1 failed (its output is above); the others go on"
            in capsys.readouterr().err)


def test_a_sweep_on_absent_data_says_what_writes_it_before_any_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch)
    _params_file(tmp_path)
    (tmp_path / "data" / "demo").rmdir()
    with pytest.raises(MsaError, match=r"^data.root: data/demo not found; `msa demo-data "
                                       r"data/demo` writes the demo data there \(`make demo`"):
        runner.run_ablation([])
    assert dvc.calls == []


def test_the_ablation_is_a_sweep_over_mode(monkeypatch, tmp_path):
    dvc = FakeDvc(monkeypatch)
    monkeypatch.chdir(tmp_path)
    _params_file(tmp_path)
    assert runner.run_ablation(["train.epochs=3"], seeds=[0]).done == [
        "ablation-text-seed0", "ablation-image-seed0", "ablation-multimodal-seed0"]
    assert dvc.runs()[1] == ["exp", "run", "--temp", "-C", "data/demo", "-n",
                             "ablation-image-seed0", "-S", "train.epochs=3", "-S", "mode=image",
                             "-S", "seed=0"]


def test_a_commit_made_while_a_set_runs_is_one_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    FakeDvc(monkeypatch)
    heads = iter(["abc1234" + "0" * 33, "def5678" + "0" * 33, "def5678" + "0" * 33])
    monkeypatch.setattr(runner, "head_commit", lambda: next(heads))
    with pytest.raises(MsaError, match=r"^the commit changed while the set ran \(abc1234 -> "
                                       r"def5678\), so its runs are experiments of both"):
        runner.run_sweep("train.lr", ["0.1"], [], seeds=[0], params_file=_params_file(tmp_path))


def test_a_worker_count_or_heartbeat_below_one_is_one_line():
    from msa.experiments.runner import Execution

    with pytest.raises(MsaError, match="--workers 0: 1 or more"):
        Execution(workers=0)
    with pytest.raises(MsaError, match="--heartbeat 0"):
        Execution(heartbeat=0)
