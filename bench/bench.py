"""The real-data benchmark (`make bench`): the whole pipeline from an empty DVC cache on lab5.

In a fresh clone of this repository (so the working tree is never touched) it runs, with the
default params and encoders:
  * every stage once (`dvc repro -s STAGE`), timing each and recording its peak RSS;
  * `dvc exp run -S mode=image` and `-S mode=text` right after, timing them and checking that
    nothing before train reran;
  * a plain featurizer beside ours on the same pairs (fp32, eager, one process, PIL decoding at
    full size, the same encoders, clean view only), for the speed ratio and the largest feature
    difference.
Writes bench/results-<capability>-<precision>.json for the machine it runs on and renders
bench/RESULTS.md from every such file, so figures from CPUs of other kinds stay beside it.
`ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 make bench` on an
AVX-512 machine runs the kernels an AVX2-only CPU runs (bf16 then emulated, so `auto` is fp32).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from common import (REPO, STAGES, clone, evaluated, lab5_folder, machine, now, revision,
                    scratch, timed)
from page import publish, render_pipeline

TARGETS = {  # name: (description, check on results)
    "multimodal_accuracy": (">= 0.75", lambda r: r["modes"]["multimodal"]["accuracy"]["mean"] >= 0.75),
    "multimodal_macro_f1": (">= 0.66", lambda r: r["modes"]["multimodal"]["macro_f1"]["mean"] >= 0.66),
    "text_accuracy": (">= 0.72", lambda r: r["modes"]["text"]["accuracy"]["mean"] >= 0.72),
    "image_accuracy": (">= 0.66", lambda r: r["modes"]["image"]["accuracy"]["mean"] >= 0.66),
    "fusion_gain": ("multimodal >= best single mode + 0.02", lambda r: r["fusion_gain"] >= 0.02),
    # bf16 where the CPU has it natively; in fp32 (AVX2 machines) the bar is 1.5x.
    "featurize_speed": (lambda r: f">= {speed_target(r)}x the plain baseline",
                        lambda r: r["featurizer"]["speedup"] >= speed_target(r)),
    "features_match": ("within bf16 tolerance (cosine >= 0.99)",
                       lambda r: r["featurizer"]["min_cosine"] >= 0.99),
    "cold_repro": ("<= 600 s", lambda r: r["cold_repro_s"] <= 600),
    "exp_run_image": ("<= 60 s, nothing before train reruns",
                      lambda r: r["exp_run"]["image"]["wall_s"] <= 60
                      and not r["exp_run"]["image"]["reran_before_train"]),
    "peak_rss": ("<= 4 GiB", lambda r: r["peak_rss_gib"] <= 4),
}


def speed_target(r: dict) -> float:
    return 3.0 if r["machine"]["precision"] == "bf16" else 1.5


def plain_features(pairs, params) -> tuple[np.ndarray, np.ndarray, float]:
    """The plain way: fp32, eager, batches in one process, PIL decoding at full size."""
    import torch
    from PIL import Image
    from torchvision.transforms import v2 as T

    from transformers import AutoModel, AutoTokenizer

    from msa.features import backbones, encoders

    start = time.perf_counter()
    source = encoders.resolve_text_model(params.text_model)
    tokenizer, text_model = AutoTokenizer.from_pretrained(source), AutoModel.from_pretrained(source)
    image_model, spec = backbones.build_image_encoder(params.image_model, params.image_weights)
    # timm's eval transform for the model: PIL resize of the short side, centre crop, normalise
    transform = T.Compose([
        T.Resize(round(spec.input_size / spec.crop_pct), interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(spec.input_size), T.ToImage(), T.ToDtype(torch.float32, scale=True),
        T.Normalize(spec.mean, spec.std)])
    texts, images = [], []
    with torch.no_grad():
        for i in range(0, len(pairs), 32):
            batch = pairs[i:i + 32]
            enc = tokenizer([p.text for p in batch], padding=True, truncation=True,
                            max_length=params.text_max_length, return_tensors="pt")
            hidden = text_model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            texts.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
            pixels = torch.stack([transform(Image.open(p.image).convert("RGB")) for p in batch])
            images.append(image_model(pixels).numpy())
    return np.concatenate(texts), np.concatenate(images), time.perf_counter() - start


def compare_featurizers(workspace: Path, n_pairs: int, rounds: int) -> dict:
    """Ours then the plain one, `rounds` times in turn: the ratio of each round, and their
    median, so that a drift of the machine's speed moves both sides of a ratio alike."""
    import statistics

    from msa import params, precision
    from msa.data import prepared
    from msa.features import extract

    p = params.load(workspace / "params.yaml")
    pairs = prepared.read(workspace / "data/prepared/manifest.jsonl")
    step = max(1, len(pairs) // n_pairs)
    subset = [pair for pair in pairs[::step][:n_pairs]]
    for pair in subset:
        pair.split = "test"  # clean view only, as the plain featurizer does
    ours_times, plain_times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        ours = extract.featurize(subset, p.featurize, p.augment, precision.resolve(p.precision),
                                  show_progress=False)
        ours_times.append(time.perf_counter() - start)
        text, image, plain_s = plain_features(subset, p.featurize)
        plain_times.append(plain_s)
    ratios = [b / a for a, b in zip(ours_times, plain_times)]
    ours_s, plain_s = statistics.median(ours_times), statistics.median(plain_times)

    def min_cosine(a, b):
        return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())

    return {
        "pairs": len(subset), "ours_s": ours_s, "plain_s": plain_s,
        "ours_pairs_per_s": len(subset) / ours_s, "plain_pairs_per_s": len(subset) / plain_s,
        "speedup": statistics.median(ratios), "rounds": rounds,
        "round_speedups": ratios, "round_ours_s": ours_times, "round_plain_s": plain_times,
        "max_abs_diff": {"text": float(np.abs(ours.text - text).max()),
                         "image": float(np.abs(ours.image - image).max())},
        "min_cosine": min(min_cosine(ours.text, text), min_cosine(ours.image, image)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab5", default=os.environ.get("LAB5", str(REPO.parent / "shared/lab5")))
    parser.add_argument("--baseline-pairs", type=int, default=1000,
                        help="pairs for the plain-vs-ours featurizer comparison")
    parser.add_argument("--speed-rounds", type=int, default=3,
                        help="times each featurizer runs, in turn, for the speed ratio")
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    lab5 = lab5_folder(args.lab5)

    work, logs = scratch("msa-bench-")
    workspace, env = clone(work, "repo")
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    mode_default = params["mode"]
    params["data"]["root"] = str(lab5)
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    results = {"stages": {}, "exp_run": {}, "modes": {}}
    for stage in STAGES:
        wall, rss, _ = timed(["dvc", "repro", "-s", stage], workspace, env, logs / f"{stage}.log")
        results["stages"][stage] = {"wall_s": wall, "peak_rss_gib": rss}
        print(f"bench: {stage}: {wall:.1f} s, peak RSS {rss:.2f} GiB", flush=True)
    n_pairs = len((workspace / "data/prepared/manifest.jsonl").read_text().splitlines())
    results["stages"]["featurize"]["pairs_per_s"] = n_pairs / results["stages"]["featurize"]["wall_s"]
    results["cold_repro_s"] = sum(s["wall_s"] for s in results["stages"].values())
    results["modes"][mode_default] = evaluated(workspace)
    subprocess.run("git add -A && git commit -qm bench-base", shell=True, cwd=workspace, env=env,
                   check=True)

    for mode in [m for m in ("image", "text", "multimodal") if m != mode_default]:
        wall, rss, text = timed(["dvc", "exp", "run", "-n", f"bench-{mode}", "-S", f"mode={mode}"],
                                workspace, env, logs / f"exp-{mode}.log")
        reran = [s for s in ("prepare", "fold_split", "featurize")
                 if f"Running stage '{s}'" in text]
        results["exp_run"][mode] = {"wall_s": wall, "peak_rss_gib": rss,
                                    "reran_before_train": reran}
        results["modes"][mode] = evaluated(workspace)
        print(f"bench: dvc exp run -S mode={mode}: {wall:.1f} s", flush=True)

    print("bench: plain featurizer beside ours ...", flush=True)
    sys.path.insert(0, str(workspace / "src"))
    results["featurizer"] = compare_featurizers(workspace, args.baseline_pairs, args.speed_rounds)
    single = max(results["modes"][m]["accuracy"]["mean"] for m in ("text", "image"))
    results["fusion_gain"] = results["modes"]["multimodal"]["accuracy"]["mean"] - single
    results["peak_rss_gib"] = max(
        [s["peak_rss_gib"] for s in results["stages"].values()]
        + [e["peak_rss_gib"] for e in results["exp_run"].values()])
    results["machine"] = machine()
    results["produced_by"] = results["modes"]["multimodal"].get("produced_by", {})
    results["targets"] = {name: {"target": desc(results) if callable(desc) else desc,
                                 "met": bool(check(results))}
                          for name, (desc, check) in TARGETS.items()}
    results["date"], results["git_revision"], results["data"] = now(), revision(), str(lab5)
    publish(Path(args.out), "results", results, render_pipeline)
    shutil.rmtree(work, ignore_errors=True)



if __name__ == "__main__":
    main()
