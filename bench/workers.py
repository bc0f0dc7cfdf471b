"""The Done-when of "Many workers": `msa sweep train.patience=1,2,4,8 --seeds 3 --workers 2`
on the demo data (12 trials, two at a time, each worker in a clone of its own), then the same
set with one worker (`--force`: every run again, in DVC's temporary copies), in a fresh clone
with an empty DVC cache after featurize ran once; both timed, and their reports compared (the
same but for the first line, the command). Part of `make bench`.
Writes bench/workers-<capability>-<precision>.json and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from common import REPO, clone, machine, now, revision, scratch, timed
from page import publish, render_workers

SWEEP = ["msa", "sweep", "train.patience=1,2,4,8", "--seeds", "3"]


def _body(report: Path) -> list[str]:
    return [line for line in report.read_text().splitlines() if not line.startswith("Made by")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    work, logs = scratch("msa-workers-")
    workspace, env = clone(work, "demo")
    for step in (["msa", "demo-data", "data/demo"], ["dvc", "repro", "featurize"]):
        subprocess.run(step, cwd=workspace, env=env, check=True, capture_output=True)
    report = workspace / "reports" / "train.patience.md"
    two, _, said = timed([*SWEEP, "--workers", "2"], workspace, env, logs / "two.log")
    print(f"workers: 2 workers: {two:.1f} s", flush=True)
    with_two = _body(report)
    one, _, _ = timed([*SWEEP, "--force"], workspace, env, logs / "one.log")
    print(f"workers: 1 worker: {one:.1f} s", flush=True)
    result = {"machine": machine(), "date": now(), "git_revision": revision(workspace),
              "command": " ".join(SWEEP), "trials": 12, "two_workers_s": two,
              "one_worker_s": one,
              "by_worker": {str(w): said.count(f"sweep: worker {w}: ") // 2 for w in (0, 1)},
              "same_report": _body(report) == with_two}
    publish(Path(args.out), "workers", result, render_workers)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
