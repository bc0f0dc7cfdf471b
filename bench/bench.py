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
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("prepare", "fold_split", "featurize", "train", "evaluate", "plot", "predict")
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


# Variables that make torch, oneDNN and MKL dispatch to a lower instruction set than the CPU has:
# with all three at AVX2, an AVX-512 machine measures what an AVX2-only one runs.
ISA_OVERRIDES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def speed_target(r: dict) -> float:
    return 3.0 if r["machine"]["precision"] == "bf16" else 1.5


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


def plain_features(pairs, params) -> tuple[np.ndarray, np.ndarray, float]:
    """The plain way: fp32, eager, batches in one process, PIL decoding at full size."""
    import torch
    from PIL import Image
    from torchvision.transforms import v2 as T

    from msa.features import backbones

    start = time.perf_counter()
    tokenizer, text_model = backbones.build_text_encoder(params.text_model)
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
    lab5 = Path(args.lab5).resolve()
    if not (lab5 / "train.txt").is_file():
        sys.exit(f"bench: no lab5 data at {lab5} (set LAB5=...)")

    work = Path(tempfile.mkdtemp(prefix="msa-bench-"))
    logs = work / "logs"
    logs.mkdir()
    workspace = work / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(workspace)], check=True)
    env = dict(os.environ, PYTHONPATH=str(workspace / "src"), DVC_NO_ANALYTICS="1",
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@msa",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@msa")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # An empty DVC cache: nothing from earlier runs can be reused.
    subprocess.run(["dvc", "config", "--local", "cache.dir", str(work / "dvc-cache")],
                   cwd=workspace, env=env, check=True)
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
    results["modes"][mode_default] = json.loads((workspace / "metrics/metrics.json").read_text())
    subprocess.run("git add -A && git commit -qm bench-base", shell=True, cwd=workspace, env=env,
                   check=True)

    for mode in [m for m in ("image", "text", "multimodal") if m != mode_default]:
        wall, rss, text = timed(["dvc", "exp", "run", "-n", f"bench-{mode}", "-S", f"mode={mode}"],
                                workspace, env, logs / f"exp-{mode}.log")
        reran = [s for s in ("prepare", "fold_split", "featurize")
                 if f"Running stage '{s}'" in text]
        results["exp_run"][mode] = {"wall_s": wall, "peak_rss_gib": rss,
                                    "reran_before_train": reran}
        results["modes"][mode] = json.loads((workspace / "metrics/metrics.json").read_text())
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
    results["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results["git_revision"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO,
                                             capture_output=True, text=True).stdout.strip()
    results["data"] = str(lab5)
    out = Path(args.out)
    (out / f"results-{kind(results['machine'])}.json").write_text(
        json.dumps(results, indent=2) + "\n")
    write_page(out)
    print(render(results))
    shutil.rmtree(work, ignore_errors=True)


def write_page(out: Path) -> None:
    """bench/RESULTS.md from every results file here: the pipeline's, fine-tuning's, then
    scaling's."""
    from finetune import render as render_finetune
    from scale import render as render_scale

    every = [json.loads(f.read_text()) for f in sorted(out.glob("results-*.json"))]
    tuned = [json.loads(f.read_text()) for f in sorted(out.glob("finetune-*.json"))]
    scaled = [json.loads(f.read_text()) for f in sorted(out.glob("scale-*.json"))]
    (out / "RESULTS.md").write_text(
        "# Benchmark on lab5\n\nOne section per kind of CPU measured (`make bench` writes its "
        "own and keeps the others).\n\n" + "\n".join(render(r) for r in every)
        + "".join("\n" + render_finetune(r) + "\n" for r in tuned)
        + "".join("\n" + render_scale(r) + "\n" for r in scaled))


def render(r: dict) -> str:
    def ms(m, name):
        return f"{m[name]['mean']:.4f} ± {m[name]['std']:.4f} (pooled {m[name]['pooled']:.4f})"

    m = r["machine"]
    forced = ", ".join(f"{k}={v}" for k, v in m["isa_overrides"].items())
    lines = [
        f"## {m['cpu_capability']}, {m['precision']} "
        f"({'native' if m['native_bf16'] else 'no native'} bf16)", "",
        f"{r['date']}, revision `{r['git_revision'][:10]}`, {m['cpu']}, "
        f"{m['cores']} cores, Python {m['python']}. Data: {r['data']}.",
        f"CPU capability {m['cpu_capability']}, native bf16: {m['native_bf16']}, "
        f"precision `auto` -> {m['precision']}"
        + (f"; instruction set lowered by {forced} (an AVX2 machine's kernels on this CPU)"
           if forced else "") + ".",
        "5-fold CV on the labelled pairs, default params and packaged encoders, CPU.", "",
        "### Targets", "", "| figure | target | measured | met |", "|---|---|---|---|",
    ]
    measured = {
        "multimodal_accuracy": f"{r['modes']['multimodal']['accuracy']['mean']:.4f}",
        "multimodal_macro_f1": f"{r['modes']['multimodal']['macro_f1']['mean']:.4f}",
        "text_accuracy": f"{r['modes']['text']['accuracy']['mean']:.4f}",
        "image_accuracy": f"{r['modes']['image']['accuracy']['mean']:.4f}",
        "fusion_gain": f"{r['fusion_gain']:+.4f}",
        "featurize_speed": f"{r['featurizer']['speedup']:.2f}x",
        "features_match": f"min cosine {r['featurizer']['min_cosine']:.5f}",
        "cold_repro": f"{r['cold_repro_s']:.0f} s",
        "exp_run_image": f"{r['exp_run']['image']['wall_s']:.0f} s, reran "
                         f"{r['exp_run']['image']['reran_before_train'] or 'nothing'} before train",
        "peak_rss": f"{r['peak_rss_gib']:.2f} GiB",
    }
    for name, target in r["targets"].items():
        lines.append(f"| {name} | {target['target']} | {measured[name]} | "
                     f"{'yes' if target['met'] else '**no**'} |")
    lines += ["", "### Cross-validated metrics (mean ± std over folds)", "",
              "| mode | accuracy | macro-F1 | weighted-F1 |", "|---|---|---|---|"]
    for mode in ("text", "image", "multimodal"):
        m = r["modes"][mode]
        lines.append(f"| {mode} | {ms(m, 'accuracy')} | {ms(m, 'macro_f1')} | "
                     f"{ms(m, 'weighted_f1')} |")
    base = r["modes"]["multimodal"]["majority_baseline"]
    lines += ["", f"Majority-class baseline: accuracy {base['accuracy']:.4f}, "
                  f"macro-F1 {base['macro_f1']:.4f}.", "",
              "### Stages (cold `dvc repro`, empty DVC cache)", "",
              "| stage | wall (s) | peak RSS (GiB) |", "|---|---|---|"]
    for stage, s in r["stages"].items():
        lines.append(f"| {stage} | {s['wall_s']:.1f} | {s['peak_rss_gib']:.2f} |")
    lines.append(f"| **total** | {r['cold_repro_s']:.1f} | |")
    lines += ["", f"featurize: {r['stages']['featurize']['pairs_per_s']:.1f} pairs/s over all "
                  "usable pairs (text, clean image, and the augmented views of labelled images).", ""]
    for mode, e in r["exp_run"].items():
        lines.append(f"`dvc exp run -S mode={mode}` after it: {e['wall_s']:.1f} s, stages "
                     f"before train rerun: {e['reran_before_train'] or 'none'}.")
    f = r["featurizer"]
    lines += ["", "### Featurizer against the plain baseline (same pairs, clean view)", "",
              f"{f['pairs']} pairs: ours {f['ours_s']:.1f} s ({f['ours_pairs_per_s']:.1f} pairs/s), "
              f"plain {f['plain_s']:.1f} s ({f['plain_pairs_per_s']:.1f} pairs/s): "
              f"{f['speedup']:.2f}x"
              + (f" (median of {f['rounds']} rounds in turn; medians of the times; the rounds' "
                 f"ratios {', '.join(f'{x:.2f}' for x in f['round_speedups'])})"
                 if f.get("rounds", 1) > 1 else " (one run each)")
              + ". Largest absolute difference: text "
              f"{f['max_abs_diff']['text']:.4f}, image {f['max_abs_diff']['image']:.4f}; "
              f"smallest cosine similarity {f['min_cosine']:.5f}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
