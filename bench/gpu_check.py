"""The GPU check, one short device run: featurize lab5, the heads regime in the three modes, and
one fold of finetune (both encoders tuned in full, then adapted by LoRA), with the packaged
encoders, on the GPU; the same featurize and heads on
the CPU beside it; the GPU's features checked against the CPU's. Seconds per step, images a
second, peak GPU memory and accuracy go to bench/results-gpu.json and a section of
bench/RESULTS.md.

The GPU machine has no DVC (and no network), so this runs the library itself, step by step, on
the parcels bench/gpu_pack.py makes (`make gpu-check`). Where no GPU is at hand, `--device cpu`
runs the device's steps on the CPU, and the results say so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from msa import LABELS, device, params, precision  # noqa: E402
from msa.data import folds as folds_module  # noqa: E402
from msa.data import reading  # noqa: E402
from msa.evaluation import metrics  # noqa: E402
from msa.features import extract  # noqa: E402
from msa.training import driver, finetune  # noqa: E402
from msa.training.heads import Heads  # noqa: E402
from page import render_gpu, write_section  # noqa: E402



class Step:
    """Wall seconds and peak GPU memory of a step."""

    def __init__(self, where: torch.device):
        self.where = where

    def __enter__(self):
        if self.where.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.where.type == "cuda":
            torch.cuda.synchronize()
        self.seconds = round(time.perf_counter() - self.start, 1)
        self.peak_gib = (round(torch.cuda.max_memory_allocated() / 2**30, 2)
                         if self.where.type == "cuda" else None)


def the_params(pack: Path, device_setting: str) -> params.Params:
    """params.yaml's, on the pack's lab5 and text encoder."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw.update(device=device_setting)
    raw["data"]["root"] = str(pack / "posts" / "lab5")
    raw["featurize"]["text_model"] = str(pack / "weights" / "all-MiniLM-L6-v2-fp16")
    return params.from_dict(raw)


def finetune_params(p: params.Params, epochs: int, tuning: str = "full") -> params.Params:
    """Finetune for `epochs`, both encoders tuned `tuning` (full, or lora)."""
    return dataclasses.replace(p, train=dataclasses.replace(
        p.train, regime="finetune", epochs=epochs, early_stopping="none",
        num_workers=min(8, os.cpu_count() or 1), text_tuning=tuning, image_tuning=tuning))


def featurize(pairs, p, where: torch.device, dtype: str) -> tuple[dict, object]:
    with Step(where) as step:
        cache = extract.featurize(pairs, p.featurize, p.augment, dtype, device=where)
    images = len(pairs) + p.augment.enabled * p.augment.views * sum(q.split == "train"
                                                                    for q in pairs)
    return {"seconds": step.seconds, "images": images,
            "images_per_second": round(images / step.seconds, 1), "peak_gpu_gib": step.peak_gib,
            "precision": dtype}, cache


def cosines(a: np.ndarray, b: np.ndarray) -> dict:
    a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    return {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}


def heads(cache, p, folds: dict, where: torch.device, dtype: str) -> dict:
    out = {}
    for mode in params.MODES:
        regime = Heads(cache, mode, p.train, p.seed, dtype, where)
        with Step(where) as step:
            results = driver.cross_validate(regime, folds, show_progress=False)
        out[mode] = _scores(results, regime.label_of) | {"seconds": step.seconds,
                                                              "peak_gpu_gib": step.peak_gib}
    return out


def _scores(results, label_of: dict) -> dict:
    """Accuracy and macro-F1, the mean over the folds scored, as metrics.json's."""
    rows = driver.oof_rows(results, label_of)
    per_fold = metrics.per_fold([label for _, _, label, _ in rows],
                                [LABELS[int(np.argmax(probs))] for *_, probs in rows],
                                [fold for _, fold, _, _ in rows])
    return {name: round(float(np.mean([s[name] for s in per_fold])), 4)
            for name in ("accuracy", "macro_f1")}


def finetune_fold(pairs, p, folds: dict, limit: int, where: torch.device) -> dict:
    """Fold 0 of finetune (`train.epochs` epochs, no early stopping), on `limit` pairs if set."""
    labelled = [q for q in pairs if q.split == "train"][:limit or None]
    folds = {q.guid: folds[q.guid] for q in labelled}
    accelerator = finetune.make_accelerator(p)
    with tempfile.TemporaryDirectory() as state:
        regime = finetune.Finetune(accelerator, p, extract.encoder_identity(p.featurize),
                                   labelled, state, p.train.regime, show_progress=False)
        with Step(where) as step:
            result = driver.train_fold(regime, folds, 0)
        train_pairs = sum(f != 0 for f in folds.values())
        scores = _scores([result], regime.label_of)
    return scores | {"fold": 0, "pairs": len(labelled), "epochs": p.train.epochs,
                     "seconds": step.seconds, "peak_gpu_gib": step.peak_gib,
                     "train_pairs_per_second": round(
                         train_pairs * p.train.epochs / step.seconds, 1),
                     "mixed_precision": accelerator.mixed_precision}


def machine(where: torch.device) -> dict:
    import transformers

    info = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version(),
            "cpu_cores": os.cpu_count(), "cpu_capability": precision.cpu_capability(),
            "native_bf16": precision.native_bf16(), "device": where.type,
            "revision": _revision()}
    if where.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO, text=True,
                              capture_output=True).stdout.strip()
    except OSError:
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=REPO / ".gpu")
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu",
                        help="where the device's steps run (cpu: where no GPU is at hand)")
    parser.add_argument("--reference", choices=("cpu", "none"), default="cpu",
                        help="featurize (fp32) and heads on the CPU beside the device")
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--finetune-pairs", type=int, default=0,
                        help="labelled pairs finetune trains and scores on (0: all)")
    parser.add_argument("--limit", type=int, default=0, help="posts (0: all)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results-gpu.json")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--render", action="store_true",
                        help="only write --out's results into --results")
    args = parser.parse_args()
    if args.render:
        return write_section(args.results, render_gpu(json.loads(args.out.read_text())))

    p = the_params(args.pack.resolve(), args.device)
    where = device.resolve(p.device)
    device_dtype = precision.resolve(p.precision, where)
    pairs, _ = reading.prepare(p.data.root, p.data, show_progress=False)
    pairs = pairs[:args.limit] if args.limit else pairs
    folds = folds_module.assign_folds(pairs, p.fold.n_splits, p.fold.seed, p.fold.group)
    # The CPU's side is fp32, the exact reference the device's (bf16 where it has it) meets.
    legs = {"device": (where, device_dtype)} | (
        {"cpu": (torch.device("cpu"), "fp32")} if args.reference == "cpu" else {})
    r = {"machine": machine(where), "posts": len(pairs), "folds": p.fold.n_splits,
         "featurize": {}, "heads": {}}
    caches = {}
    for leg, (leg_device, dtype) in legs.items():
        print(f"gpu_check: featurize on {leg} ({leg_device}, {dtype})", flush=True)
        r["featurize"][leg], caches[leg] = featurize(pairs, p, leg_device, dtype)
        print(f"gpu_check: heads on {leg}", flush=True)
        r["heads"][leg] = heads(caches[leg], p, folds, leg_device, dtype)
        print(json.dumps({leg: [r["featurize"][leg], r["heads"][leg]]}), flush=True)
    if "cpu" in caches:
        r["features_match"] = {name: cosines(getattr(caches["device"], name),
                                             getattr(caches["cpu"], name))
                               for name in ("text", "image", "image_views")}
    for tuning, key in (("full", "finetune"), ("lora", "finetune_lora")):
        print(f"gpu_check: finetune, fold 0, encoders {tuning}", flush=True)
        r[key] = finetune_fold(pairs, finetune_params(p, args.finetune_epochs, tuning), folds,
                               args.finetune_pairs, where) | {"tuning": tuning}
    args.out.write_text(json.dumps(r, indent=2) + "\n")
    write_section(args.results, render_gpu(r))
    print(render_gpu(r))


if __name__ == "__main__":
    main()
