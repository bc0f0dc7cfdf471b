"""What the bench scripts share: where the repository is, the stages, the machine a figure was
measured on (and the kind of CPU it names: capability and precision), and a timed command."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("find_data", "prepare", "fold_split", "featurize", "train", "evaluate", "plot",
          "predict")

# Variables that make torch, oneDNN and MKL dispatch to a lower instruction set than the CPU has:
# with all three at AVX2, an AVX-512 machine measures what an AVX2-only one runs.
ISA_OVERRIDES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def machine() -> dict:
    """The CPU, the capability torch dispatches to, and the precision `auto` resolves to."""
    from msa import precision

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "cpu_capability": precision.cpu_capability(),
            "native_bf16": precision.native_bf16(),
            "precision": precision.resolve("auto"),
            "isa_overrides": {k: os.environ[k] for k in ISA_OVERRIDES if k in os.environ}}


def kind(m: dict) -> str:
    return f"{m['cpu_capability'].lower()}-{m['precision']}"


def timed(cmd: list[str], cwd: Path, env: dict, log: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (GiB) over the process tree, and the output of `cmd`."""
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed; see {log}")
    return wall, usage.ru_maxrss / 2**20, text  # ru_maxrss is in KiB on Linux


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def revision(folder: Path = REPO) -> str:
    """The commit a checkout is at."""
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                          text=True).stdout.strip()


def now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def clone(work: Path, name: str, rev: str = "HEAD") -> tuple[Path, dict]:
    """A fresh clone of the repository at `rev` in `work`, with an empty DVC cache of its own
    (nothing from earlier runs can be reused), and the environment its stages run in."""
    workspace = work / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(workspace)], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=workspace, check=True)
    env = dict(os.environ, PYTHONPATH=str(workspace / "src"), DVC_NO_ANALYTICS="1",
               PYTHONHASHSEED="0", GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@msa",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@msa")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    subprocess.run(["dvc", "config", "--local", "cache.dir", str(work / f"{name}-dvc-cache")],
                   cwd=workspace, env=env, check=True)
    return workspace, env


def lab5_folder(path: str) -> Path:
    """The lab5 folder a bench runs on, or an exit saying where it looked."""
    folder = Path(path).resolve()
    if not (folder / "train.txt").is_file():
        sys.exit(f"bench: no lab5 data at {folder} (set LAB5=...)")
    return folder


def scratch(prefix: str) -> tuple[Path, Path]:
    """A temporary folder for a bench's clones, and its logs folder."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix=prefix))
    (work / "logs").mkdir()
    return work, work / "logs"


def evaluated(workspace: Path) -> dict:
    """What the evaluate stage wrote in a clone: the scores and their details, one document."""
    from msa.evaluation import metrics

    return metrics.read(workspace / "metrics/metrics.json", workspace / "metrics/details.json")
