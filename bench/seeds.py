"""The demo's modality ablation over three training seeds, `make ablation` itself (part of
`make bench`): in a fresh clone with an empty DVC cache, the demo data written, featurize run
once in the workspace and `msa ablation` (9 runs, which take the features from DVC's cache),
timed cold; then the same target again, which finds every run finished and only writes the
report. The target:
at most 6 minutes cold on either CPU kind (AVX2 measured on an AVX-512 machine with
`ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2`).
Writes bench/seeds-<capability>-<precision>.json and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from common import REPO, clone, machine, now, revision, scratch, timed
from page import publish, render_seeds

TARGET_S = 360
SEEDS = 3  # msa ablation's default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    work, logs = scratch("msa-seeds-")
    workspace, env = clone(work, "demo")
    command = ["make", "-o", "setup", "ablation"]  # the clone uses this interpreter's stack
    cold, rss, output = timed(command, workspace, env, logs / "cold.log")
    print(f"seeds: make ablation ({SEEDS} seeds), cold: {cold:.1f} s", flush=True)
    warm, _, again = timed(command, workspace, env, logs / "warm.log")
    print(f"seeds: the same again: {warm:.1f} s", flush=True)
    result = {"machine": machine(), "date": now(), "git_revision": revision(workspace),
              "command": "make ablation", "seeds": SEEDS, "target_s": TARGET_S,
              "cold_s": cold, "peak_rss_gib": rss, "warm_s": warm,
              "runs": output.count("sweep: dvc exp run"),
              "featurize_runs": output.count("Running stage 'featurize'"),
              "runs_again": again.count("sweep: dvc exp run"),
              "kept_again": again.count("ran before with these params; kept")}
    publish(Path(args.out), "seeds", result, render_seeds)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
