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
STAGES = ("prepare", "fold_split", "featurize", "train", "evaluate", "plot", "predict")

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
