"""What the featurize stage costs under each training regime (part of `make bench`).

In fresh clones with empty DVC caches, timing every stage on its own (`dvc repro -s STAGE`):
  * lab5: prepare, then featurize under `train.regime: heads` (every post encoded, the
    augmented views of the labelled ones cached) and under `finetune` (which reads the raw
    pairs in train: a record of the encoders alone);
  * the demo data (`msa demo-data`), the whole pipeline under `finetune`, one epoch and no early
    stopping (the training is not what is measured), at this revision and at `--before REV`
    (default: none), so that a change to featurize under finetune shows beside the old cost.
Writes bench/regimes-<capability>-<precision>.json and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from common import (REPO, STAGES, clone, lab5_folder, machine, now, revision, scratch,
                    timed)
from page import publish, render_regimes

FINETUNE_DEMO = {"regime": "finetune", "epochs": 1, "early_stopping": "none"}


def set_params(workspace: Path, root: str, **train) -> None:
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["data"]["root"] = root
    params["train"].update(train)
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def stage(workspace: Path, env: dict, name: str, logs: Path, label: str) -> dict:
    wall, rss, _ = timed(["dvc", "repro", "-s", name], workspace, env, logs / f"{label}.log")
    print(f"regimes: {label}: {wall:.1f} s, peak RSS {rss:.2f} GiB", flush=True)
    return {"wall_s": wall, "peak_rss_gib": rss}


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def lab5(lab5_root: Path, work: Path, logs: Path) -> dict:
    workspace, env = clone(work, "lab5")
    set_params(workspace, str(lab5_root))
    out = {"prepare": stage(workspace, env, "prepare", logs, "lab5-prepare")}
    out["pairs"] = len((workspace / "data/prepared/manifest.jsonl").read_text().splitlines())
    for regime in ("heads", "finetune"):
        set_params(workspace, str(lab5_root), regime=regime)
        out[regime] = stage(workspace, env, "featurize", logs, f"lab5-featurize-{regime}")
        out[regime]["bytes"] = folder_bytes(workspace / "data/features")
    return out


def demo(rev: str, work: Path, logs: Path, name: str) -> dict:
    workspace, env = clone(work, name, rev)
    subprocess.run(["msa", "demo-data", "data/demo"], cwd=workspace, env=env, check=True,
                   capture_output=True)
    set_params(workspace, "data/demo", **FINETUNE_DEMO)
    stages = {s: stage(workspace, env, s, logs, f"{name}-{s}") for s in STAGES}
    return {"revision": revision(workspace), "stages": stages,
            "total_s": sum(s["wall_s"] for s in stages.values()),
            "features_bytes": folder_bytes(workspace / "data/features")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab5", default=os.environ.get("LAB5", str(REPO.parent / "shared/lab5")))
    parser.add_argument("--before", help="a revision to measure the demo run at as well")
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    lab5_root = lab5_folder(args.lab5)
    work, logs = scratch("msa-regimes-")
    result = {"machine": machine(), "settings": {"demo_train": FINETUNE_DEMO},
              "lab5": lab5(lab5_root, work, logs), "demo": {"after": demo("HEAD", work, logs,
                                                                          "after")}}
    if args.before:
        result["demo"]["before"] = demo(args.before, work, logs, "before")
    result["date"], result["git_revision"] = now(), result["demo"]["after"]["revision"]
    publish(Path(args.out), "regimes", result, render_regimes)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
