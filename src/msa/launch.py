"""Starting a stage on the processes the `launch` param names (configs/accelerate/<launch>.yaml).

`dvc repro` runs `python stages/NAME.py`; a stage whose launch starts several processes (and
train under finetune, always) starts itself again through the launcher, which starts one process
per device: featurize and predict then share the posts (msa.parallel), finetune shares each
batch. A stage already started by a launcher (accelerate, torchrun) runs as it is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from msa.errors import MsaError

CONFIGS = Path("configs/accelerate")
_LAUNCHED = "MSA_LAUNCHED"


def launched() -> bool:
    """True inside a process a launcher started."""
    return any(key in os.environ for key in (_LAUNCHED, "LOCAL_RANK", "WORLD_SIZE"))


def config_file(name: str) -> Path:
    path = CONFIGS / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
        raise MsaError(f"launch: {name!r} has no {path}; use one of {', '.join(known)} "
                       "or add the file")
    return path


def _config(name: str) -> dict:
    return yaml.safe_load(config_file(name).read_text(encoding="utf-8")) or {}


def processes(name: str) -> int:
    """How many processes the launch starts, on all its machines together (the world size)."""
    config = _config(name)
    if config.get("use_cpu") or config.get("gpu_ids") != "all":
        return int(config.get("num_processes", 1))  # accelerate's count over all machines
    import torch

    gpus = torch.cuda.device_count()
    if gpus == 0:
        raise MsaError(f"launch: {name} uses every GPU, and torch sees none here; "
                       "use launch: cpu")
    return gpus * int(config.get("num_machines", 1))


def spreads(name: str) -> bool:
    """The launch starts more than one process: featurize and predict start themselves again.
    The default launch is this process alone, also where its config is absent (msa predict
    run outside the repository)."""
    if name == "cpu" and not (CONFIGS / "cpu.yaml").is_file():
        return False
    return processes(name) > 1


def command(name: str, script: str, args: list[str]) -> tuple[list[str], dict]:
    """The launch command line for `script args` under the named config, and the environment
    it adds.

    Processes on the CPU share its cores: each gets cores / processes threads (accelerate's own
    default counts physical cores, one on a 2-vCPU machine, and would halve the speed); the
    cores are OMP_NUM_THREADS where the caller set it (a share of a machine), else all. Several
    CPU processes start through torchrun: `accelerate launch` starts only one for MULTI_CPU
    without MPI.
    """
    path = config_file(name)
    config = _config(name)
    count = processes(name)
    if config.get("use_cpu"):
        cores = int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
        env = {"OMP_NUM_THREADS": str(max(1, cores // count)),
               "ACCELERATE_USE_CPU": "true"}
        if count > 1:
            return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(count), "--", script, *args], env
        return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(path),
                "--num_cpu_threads_per_process", env["OMP_NUM_THREADS"], script, *args], env
    extra = ["--num_processes", str(count)] if config.get("gpu_ids") == "all" else []
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(path),
            *extra, script, *args], {}


def relaunch_if_spread(name: str) -> None:
    """Featurize's and predict's start: where the launch starts several processes and none has
    started this one, run it again under the launcher and exit with its status."""
    if spreads(name) and not launched():
        relaunch(name)


def relaunch(name: str) -> None:
    """Run this script again under the launcher and exit with its status.

    The launcher and its processes run in a session of their own, so that Ctrl-C reaches this
    process alone (not accelerate's or torchrun's, each of which would print its traceback):
    it ends them all at once (SIGKILL), as SIGTERM does, and raises KeyboardInterrupt for the
    stage to say in one line what was kept (a killed finetune run resumes from its last
    finished epoch).
    """
    argv, extra_env = command(name, sys.argv[0], sys.argv[1:])
    started = subprocess.Popen(argv, env={**os.environ, **extra_env, _LAUNCHED: "1"},
                               start_new_session=True)

    def end_them(signum=None, frame=None) -> None:
        import psutil

        # every process under the launcher: torchrun starts each worker in a session of its own
        try:
            tree = [psutil.Process(started.pid)]
            tree += tree[0].children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=30)
        started.wait()
        if signum == signal.SIGTERM:
            sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, end_them)
    try:
        status = started.wait()
    except KeyboardInterrupt:
        end_them()
        raise
    sys.exit(status)
