"""Experiment sets on Optuna's storage with the real dvc, git and (where it can start) a real
PostgreSQL server: two workers in one repository, two machines (clones) sharing a study, a bare
git origin and a folder DVC remote, a killed worker's trial run again, a third clone comparing
what the others ran, a search, and the study in optuna-dashboard in a headless browser."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

import postgres
from conftest import run
from msa.experiments import storage, trials

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_workers")]


def _complete(study) -> dict[str, list]:
    done = {}
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        for name in t.user_attrs[trials.EXPERIMENTS]:
            done.setdefault(name, []).append(t)
    return done


def _study(url: str, verb: str) -> optuna.Study:
    store = optuna.storages.RDBStorage(url)
    names = [n for n in optuna.get_all_study_names(store) if n.startswith(f"msa {verb} ")]
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=store)


def _without_command(report: str) -> list[str]:
    return [line for line in report.splitlines() if not line.startswith("Made by")]


def test_two_workers_run_each_trial_once_and_report_as_one_worker_would(workspace):
    repo, env = workspace
    run("dvc repro featurize", repo, env)
    out = run("msa sweep train.patience=1,2 --seeds 1 --workers 2", repo, env)
    names = ["train-patience-1-seed0", "train-patience-2-seed0"]
    study = _study(storage.embedded_url(repo), "sweep")
    done = _complete(study)
    assert sorted(done) == names and all(len(t) == 1 for t in done.values())
    assert len({t[0].user_attrs[trials.WORKER] for t in done.values()}) == 2, out
    assert all((repo / ".msa" / "workers" / str(i) / ".git").is_dir() for i in (0, 1))
    listed = run("dvc exp ls --name-only", repo, env).split()
    assert set(names) <= set(listed)  # pushed back here from the workers' clones
    two = (repo / "reports" / "train.patience.md").read_text()
    assert "2 setting(s), 2 run(s)" in two
    assert ".msa" not in run("git status --porcelain", repo, env)  # clones, storage: ignored

    run("msa sweep train.patience=1,2 --seeds 1 --force", repo, env)  # one worker, --temp
    assert _without_command((repo / "reports" / "train.patience.md").read_text()) == \
        _without_command(two)

    again = run("msa sweep train.patience=1,2 --seeds 1 --workers 2", repo, env)
    assert "started" not in again and "dvc exp run " not in again
    assert again.count("ran before with these params; kept") == 2
    assert _without_command((repo / "reports" / "train.patience.md").read_text()) == \
        _without_command(two)


def test_a_bad_storage_or_worker_count_is_one_line_before_any_run(workspace):
    repo, env = workspace
    for options, said in [("--storage nowhere", "not a database URL"),
                          ("--storage redis://h/0", "redis is not a database"),
                          ("--workers 0", "--workers 0: 1 or more")]:
        result = subprocess.run(f"msa sweep train.patience=5 --seeds 1 {options}", cwd=repo,
                                env=env, shell=True, capture_output=True, text=True)
        assert result.returncode == 2 and result.stderr.startswith("error: "), result.stderr
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "started" not in result.stdout + result.stderr


def test_search_names_its_best_trial_and_how_to_apply_it(workspace):
    repo, env = workspace
    out = run("msa search train.lr=0.0005..0.005:log train.patience=1,2 --trials 2 --seeds 1",
              repo, env)
    study = _study(storage.embedded_url(repo), "search")
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 2 and len(study.get_trials()) == 2
    best = study.best_trial
    report = (repo / "reports" / "search.md").read_text()
    setting = best.user_attrs[trials.SETTING]
    assert f"## Best: {setting} (trial {best.number})" in report
    assert f"`dvc exp apply {setting}-seed0`" in report
    shown = run("dvc exp show --json", repo, env)
    assert all(f"search-00{k}-seed0" in shown for k in range(2))
    assert (repo / "reports" / "search-history.png").stat().st_size > 5000
    if len({t.value for t in complete}) > 1:  # on a tiny set two trials may tie (AVX2: they do)
        assert "## Importance of each param" in report
        assert (repo / "reports" / "search-importance.png").stat().st_size > 5000
    else:
        assert "Importance: not computed; every finished trial has the same macro-F1." in report
    assert "search: report in" in out
    again = run("msa search train.lr=0.0005..0.005:log train.patience=1,2 --trials 2 "
                "--seeds 1", repo, env)
    assert "started" not in again and len(study.get_trials()) == 2  # resumed: nothing to run
    run(f"dvc exp apply {setting}-seed0", repo, env)
    applied = yaml.safe_load((repo / "params.yaml").read_text())["train"]
    assert applied["lr"] == best.params["train.lr"]
    assert str(applied["patience"]) == best.params["train.patience"]
    run("git checkout -- . && dvc checkout -q", repo, env)


def test_a_study_opens_in_optuna_dashboard_in_a_browser(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium here (.ci/run installs it)")
    store = storage.open_storage(None, tmp_path)  # a set's study, as the runner keeps it
    name = trials.study_name("sweep", "train.patience", "1a2b3c4" + "0" * 33, "0f9e8d7c")
    study = optuna.create_study(study_name=name, storage=store, direction="maximize")
    study.enqueue_trial({"train.patience": "2", "seed": 0}, user_attrs={
        trials.SETTING: "train-patience-2", trials.EXPERIMENTS: ["train-patience-2-seed0"]})
    port = postgres.free_port()
    dashboard = subprocess.Popen(
        [str(Path(sys.executable).parent / "optuna-dashboard"), storage.embedded_url(tmp_path),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        result = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
             "--dump-dom", f"http://127.0.0.1:{port}/dashboard"],
            capture_output=True, text=True, timeout=120)
    finally:
        dashboard.terminate()
        dashboard.wait(10)
    assert name in result.stdout, result.stdout[-2000:]


def _machine(origin: Path, folder: Path, repo: Path, env: dict) -> Path:
    """A clone of the origin as another machine has it: its own DVC cache, the demo data."""
    run(f"git clone -q {origin} {folder}", repo, env)
    shutil.copytree(repo / "data" / "demo", folder / "data" / "demo")
    run("dvc pull --with-deps featurize", folder, env)  # the features the set shares
    return folder


def test_two_machines_share_a_postgres_study_and_a_third_compares(workspace, tmp_path):
    repo, env = workspace
    with postgres.server() as url:
        origin, remote = tmp_path / "origin.git", tmp_path / "dvc-remote"
        run(f"dvc repro featurize && dvc remote add -d shared {remote} && dvc push -q && "
            f"git add -A && git commit -qm 'features, shared remote' && "
            f"git clone -q --bare . {origin}", repo, env)
        first = _machine(origin, tmp_path / "first", repo, env)
        second = _machine(origin, tmp_path / "second", repo, env)
        command = ["msa", "sweep", "train.patience=1,2,3", "--seeds", "1", "--storage", url,
                   "--heartbeat", "2"]
        logs = tmp_path / "first.log", tmp_path / "second.log"
        a = subprocess.Popen(command, cwd=first, env=env, stdout=open(logs[0], "w"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        # The first machine finishes a trial and takes another; then the second starts and
        # takes the last; then the first is killed mid-trial.
        killed = None
        for _ in range(600):
            names = optuna.get_all_study_names(optuna.storages.RDBStorage(url))
            study = optuna.load_study(study_name=names[0], storage=url) if names else None
            ours = [t for t in study.get_trials() if str(
                t.user_attrs.get(trials.WORKER, "")).split("/")[1:2] == [str(a.pid)]] \
                if study else []
            if (sum(t.state == TrialState.COMPLETE for t in ours) == 1
                    and any(t.state == TrialState.RUNNING for t in ours)):
                killed = next(t for t in ours if t.state == TrialState.RUNNING)
                break
            assert a.poll() is None, logs[0].read_text()
            time.sleep(0.5)
        assert killed is not None, logs[0].read_text()
        b = subprocess.Popen(command, cwd=second, env=env, stdout=open(logs[1], "w"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(120):  # the second machine has taken the last trial
            if all(t.state != TrialState.WAITING for t in study.get_trials()) and len(
                    study.get_trials(states=(TrialState.RUNNING,))) == 2:
                break
            time.sleep(0.5)
        os.killpg(a.pid, signal.SIGKILL)
        a.wait()
        assert b.wait(timeout=400) == 0, logs[1].read_text()

        done = _complete(study)
        runs = [f"train-patience-{v}-seed0" for v in (1, 2, 3)]
        assert sorted(done) == runs and all(len(t) == 1 for t in done.values())
        by = {name: t[0].user_attrs[trials.WORKER].split("/")[1] for name, t in done.items()}
        assert sorted(by.values()) == sorted([str(a.pid), str(b.pid), str(b.pid)])
        name = killed.user_attrs[trials.EXPERIMENTS][0]
        assert study.get_trials()[killed.number].state == TrialState.FAIL
        assert done[name][0].system_attrs["failed_trial"] == killed.number
        assert by[name] == str(b.pid)
        said = logs[1].read_text()
        assert "pulled 1 experiment(s) from origin" in said, said
        report = (second / "reports" / "train.patience.md").read_text()
        assert "3 setting(s), 3 run(s)" in report

        third = _machine(origin, tmp_path / "third", repo, env)
        out = run(" ".join(command), third, env)
        assert "started" not in out and "pulled 3 experiment(s) from origin" in out
        assert (third / "reports" / "train.patience.md").read_text() == report
        out = run("msa compare train-patience-1 train-patience-3 --out reports/two", third, env)
        assert "| train-patience-3 | accuracy | 1 | " in out
