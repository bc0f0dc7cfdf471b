"""Which launch command each shipped accelerate config gives."""

import pytest
import torch

from conftest import REPO
from msa import launch
from msa.errors import MsaError


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_one_cpu_process_runs_under_accelerate_with_every_core(monkeypatch):
    monkeypatch.setattr(launch.os, "cpu_count", lambda: 8)
    argv, env = launch.command("cpu", "stages/train.py", ["--log", "x"])
    assert argv[1:4] == ["-m", "accelerate.commands.launch", "--config_file"]
    assert argv[argv.index("--num_cpu_threads_per_process") + 1] == "8"
    assert argv[-3:] == ["stages/train.py", "--log", "x"]
    assert env["OMP_NUM_THREADS"] == "8"


def test_several_cpu_processes_start_through_torchrun_sharing_the_cores(monkeypatch):
    monkeypatch.setattr(launch.os, "cpu_count", lambda: 8)
    argv, env = launch.command("cpu_2proc", "stages/train.py", ["--log", "x"])
    assert argv[1:3] == ["-m", "torch.distributed.run"]
    assert argv[argv.index("--nproc_per_node") + 1] == "2"
    # After "--", torchrun leaves the script's own options alone (--log is also one of its).
    assert argv[-4:] == ["--", "stages/train.py", "--log", "x"]
    assert env == {"OMP_NUM_THREADS": "4", "ACCELERATE_USE_CPU": "true"}


def test_cpu_processes_share_the_threads_the_caller_allows(monkeypatch):
    monkeypatch.setattr(launch.os, "cpu_count", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _, env = launch.command("cpu_2proc", "stages/train.py", [])
    assert env["OMP_NUM_THREADS"] == "1"
    argv, env = launch.command("cpu", "stages/train.py", [])
    assert argv[argv.index("--num_cpu_threads_per_process") + 1] == "2"


def test_all_gpus_sets_the_process_count_and_needs_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    argv, env = launch.command("multi_gpu", "stages/train.py", [])
    assert argv[argv.index("--num_processes") + 1] == "4" and env == {}
    argv, _ = launch.command("multi_node", "stages/train.py", [])
    assert argv[argv.index("--num_processes") + 1] == "8"  # 2 machines x 4 GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(MsaError, match="multi_gpu uses every GPU, and torch sees none"):
        launch.command("multi_gpu", "stages/train.py", [])


def test_an_unknown_launch_names_the_shipped_ones():
    with pytest.raises(MsaError, match="launch: 'tpu' has no configs/accelerate/tpu.yaml; "
                                       "use one of cpu, cpu_2proc, gpu, multi_gpu, multi_node"):
        launch.command("tpu", "stages/train.py", [])


def test_a_launched_process_is_not_launched_again(monkeypatch):
    for key in ("MSA_LAUNCHED", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert not launch.launched()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert launch.launched()


def test_the_world_size_of_each_shipped_launch(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert {name: launch.processes(name) for name in
            ("cpu", "cpu_2proc", "gpu", "multi_gpu", "multi_node")} == {
        "cpu": 1, "cpu_2proc": 2, "gpu": 1, "multi_gpu": 4, "multi_node": 8}
    # featurize and predict start themselves again only where the launch spreads
    assert not launch.spreads("cpu") and not launch.spreads("gpu")
    assert launch.spreads("cpu_2proc") and launch.spreads("multi_gpu")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert not launch.spreads("multi_gpu")


def test_the_default_launch_is_this_process_where_no_config_is(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert not launch.spreads("cpu")
    with pytest.raises(MsaError, match="launch: 'cpu_2proc' has no configs/accelerate/"):
        launch.spreads("cpu_2proc")


SLEEPER = """
import os, sys, time
from pathlib import Path
from msa import launch
from msa.errors import one_line_errors

@one_line_errors
def main():
    if not launch.launched():
        launch.relaunch(sys.argv[1])
    Path(sys.argv[2], str(os.getpid())).write_text("started")
    time.sleep(600)

main()
"""


@pytest.mark.parametrize("name,workers", [("cpu", 1), ("cpu_2proc", 2)])
def test_ctrl_c_ends_the_launched_processes_in_one_line(tmp_path, name, workers):
    """SIGINT to the terminal's foreground group reaches the stage, not the launcher (which
    would print its traceback): the stage ends every launched process and says so in one line."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    started = tmp_path / "started"
    started.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), name, str(started)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(started.iterdir())) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = [int(p.name) for p in started.iterdir()]
    assert len(pids) == workers
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("interrupted: the stage stopped"), err
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
              for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                   for p in pids)
