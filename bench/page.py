"""bench/RESULTS.md, written here alone: one section per results file of bench/ (the pipeline
on each kind of CPU, fine-tuning, scaling, the GPU check), rendered from the JSON the bench
scripts write, so that figures from other machines stay beside a new one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from common import STAGES, kind

MODES = ("text", "image", "multimodal")
SECTION = "## GPU check (bench/gpu_check.py)"



def _stages(*timed: dict) -> list[str]:
    """The pipeline's stages that any of these runs timed (results from before a stage existed
    lack it), in pipeline order."""
    return [stage for stage in STAGES if any(stage in t for t in timed)]

def publish(out: Path, stem: str, result: dict, render) -> None:
    """bench/<stem>-<capability>-<precision>.json for this machine, the page with it, and its
    section on the terminal."""
    (out / f"{stem}-{kind(result['machine'])}.json").write_text(
        json.dumps(result, indent=2) + "\n")
    write_page(out)
    print(render(result))


def write_page(out: Path) -> None:
    """bench/RESULTS.md from every results file here: the pipeline's, fine-tuning's,
    scaling's, then the GPU check's."""
    every = [json.loads(f.read_text()) for f in sorted(out.glob("results-*.json"))
             if f.name != "results-gpu.json"]
    tuned = [json.loads(f.read_text()) for f in sorted(out.glob("finetune-*.json"))]
    scaled = [json.loads(f.read_text()) for f in sorted(out.glob("scale-*.json"))]
    regimes = [json.loads(f.read_text()) for f in sorted(out.glob("regimes-*.json"))]
    tunings = [json.loads(f.read_text()) for f in sorted(out.glob("tuning-*.json"))]
    costs = [json.loads(f.read_text()) for f in sorted(out.glob("encoder-costs-*.json"))]
    seeds = [json.loads(f.read_text()) for f in sorted(out.glob("seeds-*.json"))]
    workers = [json.loads(f.read_text()) for f in sorted(out.glob("workers-*.json"))]
    gpu = out / "results-gpu.json"
    (out / "RESULTS.md").write_text(
        "# Benchmark on lab5\n\nOne section per kind of CPU measured (`make bench` writes its "
        "own and keeps the others).\n\n" + "\n".join(render_pipeline(r) for r in every)
        + "".join("\n" + render_finetune(r) + "\n" for r in tuned)
        + "".join("\n" + render_regimes(r) + "\n" for r in regimes)
        + "".join("\n" + render_tuning(r) + "\n" for r in tunings)
        + "".join("\n" + render_encoder_costs(r) + "\n" for r in costs)
        + "".join("\n" + render_scale(r) + "\n" for r in scaled)
        + "".join("\n" + render_seeds(r) + "\n" for r in seeds)
        + "".join("\n" + render_workers(r) + "\n" for r in workers)
        + ("\n" + render_gpu(json.loads(gpu.read_text())) if gpu.is_file() else ""))


def render_pipeline(r: dict) -> str:
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


def render_finetune(r: dict) -> str:
    m, h, f = r["machine"], r["heads"], r["finetune"]
    return "\n".join([
        f"### Fine-tuning end to end (`train.regime: finetune`), fold {r['fold']} of lab5",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['cpu_capability']}"
        f"{' (lowered: ' + ' '.join(m['isa_overrides'].values()) + ')' if m['isa_overrides'] else ''}, "
        f"mixed precision {f['provenance']['mixed_precision']}, one process; default encoders "
        f"(MiniLM-L6 + EfficientNet-Lite0, both trained), {r['fit_pairs_per_fold']} pairs "
        f"fitted per fold, at most {f['epochs_cap']} epochs (heads: its default "
        "train.epochs with early stopping).",
        "",
        "| regime | accuracy | macro-F1 | epochs (best / run) | time |",
        "|---|---|---|---|---|",
        f"| heads (cached features) | {h['accuracy']:.4f} | {h['macro_f1']:.4f} | "
        f"{h['best_epoch']} / {h['epochs_run']} | train {h['train_s']:.0f} s "
        f"(+ featurize {h['featurize_s']:.0f} s, shared by all folds) |",
        f"| finetune | {f['accuracy']:.4f} | {f['macro_f1']:.4f} | {f['best_epoch']} / "
        f"{f['epochs_run']} | {f['fold_epoch_s']:.0f} s per fold-epoch (training "
        f"{np.mean(f['train_epoch_s']):.0f} s, evaluation {f['eval_s_per_epoch']:.0f} s) |",
        "",
        f"At revision {r.get('git_revision', '?')[:7]}. A full run ({f['folds']} folds, up to "
        f"{f['epochs_default']} epochs each) projects to at most "
        f"{f['projected_full_run_h']:.1f} h here.",
    ])


def _size(n: int) -> str:
    return next(f"{n / 2**k:.1f} {unit}" for k, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB"),
                                                        (0, "B")) if n >= 2**k or k == 0)


def _heading(title: str, r: dict, script: str, precision: str | None = None) -> list[str]:
    """A section's title (the CPU kind it was measured on) and its first line: when, at which
    revision, on what, by which script."""
    m = r["machine"]
    return [f"## {title}: {m['cpu_capability']}, {precision or m['precision']}", "",
            f"{r['date']}, revision `{r['git_revision'][:10]}`, {m['cpu']}, {m['cores']} cores "
            f"({script})."]


def render_regimes(r: dict) -> str:
    lab5, demo = r["lab5"], r["demo"]
    lines = _heading("Featurize under each regime", r, "bench/regimes.py")
    lines[-1] += " Cold: fresh clones, empty DVC caches, each stage timed alone."
    lines += ["", f"lab5, {lab5['pairs']} usable pairs (prepare {lab5['prepare']['wall_s']:.1f} s):",
             "", "| featurize under `train.regime` | wall (s) | peak RSS (GiB) | data/features |",
             "|---|---|---|---|"]
    for regime in ("heads", "finetune"):
        f = lab5[regime]
        lines.append(f"| {regime} | {f['wall_s']:.1f} | {f['peak_rss_gib']:.2f} | "
                     f"{_size(f['bytes'])} |")
    runs = [(name, demo[name]) for name in ("before", "after") if name in demo]
    train = r["settings"]["demo_train"]
    lines += ["", "The demo data (`msa demo-data`), a cold `dvc repro` under `train.regime: "
              f"finetune` (train.epochs {train['epochs']}, early_stopping "
              f"{train['early_stopping']}: the training is not what is measured):", "",
              "| stage | " + " | ".join(f"{name} (`{run['revision'][:7]}`), s"
                                       for name, run in runs) + " |",
              "|---|" + "---|" * len(runs)]
    for stage in _stages(*(run["stages"] for _, run in runs)):
        lines.append(f"| {stage} | " + " | ".join(
            f"{run['stages'][stage]['wall_s']:.1f}" if stage in run["stages"] else "-"
            for _, run in runs) + " |")
    lines.append("| **total** | " + " | ".join(f"{run['total_s']:.1f}" for _, run in runs)
                 + " |")
    lines.append("| data/features | " + " | ".join(_size(run["features_bytes"])
                                                   for _, run in runs) + " |")
    return "\n".join(lines)


_WAYS = {"heads": "frozen, features cached (heads)", "text": "text tuned, image frozen",
         "lora": "LoRA on both (rank 8)", "full": "both tuned in full"}


def render_tuning(r: dict) -> str:
    lines = _heading("Encoders frozen, adapted or tuned", r, "bench/tuning.py")
    lines[-1] += (f" Fold {r['fold']} of lab5, the packaged encoders (MiniLM-L6, "
                  f"EfficientNet-Lite0), default params; finetune trains {r['epochs']} epochs "
                  "without early stopping, heads with its own (refit); each way in a process of "
                  "its own.")
    lines += ["", "| encoders | accuracy | macro-F1 | s per epoch (training) | epochs | parameters "
             "trained | wall (s) | peak RSS (GiB) |", "|---|---|---|---|---|---|---|---|"]
    for way, w in r["ways"].items():
        training = (f" ({sum(w['train_epoch_s']) / len(w['train_epoch_s']):.0f})"
                    if w["train_epoch_s"] else "")
        extra = (f"; featurize {w['featurize_s']:.0f} s" if "featurize_s" in w else "")
        lines.append(f"| {_WAYS.get(way, way)} | {w['accuracy']:.4f} | {w['macro_f1']:.4f} | "
                     f"{w['epoch_s']:.{1 if w['epoch_s'] < 10 else 0}f}{training} | "
                     f"{w['epochs_trained']} | "
                     f"{w['trained_parameters']:,} | {w['wall_s']:.0f}{extra} | "
                     f"{w['peak_rss_gib']:.2f} |")
    lines += ["", f"{r['ways'].get('heads', {}).get('fit_pairs', '?')} pairs fitted; s per "
              "epoch: the whole fold's time over the epochs trained, with the scored fold's "
              "evaluation (in brackets: training alone)."]
    return "\n".join(lines)


def render_encoder_costs(r: dict) -> str:
    lines = _heading("Encoders per 1,000 posts", r, "bench/encoder_costs.py", r["precision"])
    lines[-1] += (f" The first {r['posts']} lab5 posts, clean views, {r['precision']}; all but "
                  "the packaged pair at their published sizes with random weights (what they "
                  "cost, not what they score), the text families reading MiniLM's WordPiece "
                  "tokens as a stand-in for their own.")
    lines += ["", "| text encoder | s per 1,000 posts | | image encoder | s per 1,000 posts |",
             "|---|---|---|---|---|"]
    text, image = list(r["text"].items()), list(r["image"].items())
    for k in range(max(len(text), len(image))):
        left = f"{text[k][0]} | {text[k][1]:.1f}" if k < len(text) else " | "
        right = f"{image[k][0]} | {image[k][1]:.1f}" if k < len(image) else " | "
        lines.append(f"| {left} | | {right} |")
    return "\n".join(lines)


def _lowered(r: dict) -> str:
    """Where an AVX2 machine was measured on this CPU: how its instruction set was lowered."""
    overrides = r["machine"].get("isa_overrides") or {}
    return (" Instruction set lowered by " + ", ".join(f"{k}={v}" for k, v in overrides.items())
            + " (an AVX2 machine's kernels on this CPU).") if overrides else ""


def render_seeds(r: dict) -> str:
    lines = _heading("The demo's ablation over seeds", r, "bench/seeds.py")
    lines[-1] += _lowered(r)
    met = "yes" if r["cold_s"] <= r["target_s"] else "no"
    what = (f"`{r['command']}`" if r.get("command") else
            f"`msa ablation --seeds {r['seeds']}`") + f" ({r['seeds']} seeds)"
    lines += ["", f"| {what} on the demo data | wall (s) | target | met |", "|---|---|---|---|",
              f"| cold: fresh clone, empty DVC cache ({r['runs']} runs, featurize run "
              f"{r['featurize_runs']}x) | {r['cold_s']:.1f} | <= {r['target_s']} s | {met} |",
              f"| the same again ({r['runs_again']} runs, {r['kept_again']} kept) | "
              f"{r['warm_s']:.1f} | | |",
              "", f"Peak RSS of the cold run's process tree: {r['peak_rss_gib']:.2f} GiB."]
    return "\n".join(lines)


def render_scale(r: dict) -> str:
    m, s = r["machine"], r["settings"]
    lines = [f"## Scaling: {m['cpu_capability']}, {m['precision']}", "",
             f"{r['date']}, revision `{r['git_revision'][:10]}`, {m['cpu']}, {m['cores']} cores. "
             f"`msa demo-data` (lab5 layout, 90% labelled), default params but "
             f"`augment.views={s['views']}` and image encoder `{s['image_model']}` "
             f"(weights: {s['image_weights'] or 'packaged'}): the pipeline's own growth, not "
             "the encoder's constant cost per image (bench/scale.py says why).", "",
             "| figure | target | measured | met |", "|---|---|---|---|"]
    for name, t in r["targets"].items():
        lines.append(f"| {name} | {t['target']} | {t['measured']} | "
                     f"{'yes' if t['met'] else '**no**'} |")
    stages = _stages(*(size["stages"] for size in r["sizes"]))
    header = " | ".join(f"{stage} ms/post (GiB)" for stage in stages)
    lines += ["", f"| posts | {header} | total ms/post | total s | peak RSS GiB | epochs run |",
              "|---" * (len(stages) + 5) + "|"]
    for size in r["sizes"]:
        cells = " | ".join(f"{size['stages'][st]['s_per_post'] * 1000:.2f} "
                           f"({size['stages'][st]['peak_rss_gib']:.2f})"
                           if st in size["stages"] else "-" for st in stages)
        lines.append(f"| {size['posts']} | {cells} | {size['s_per_post'] * 1000:.2f} | "
                     f"{size['total_s']:.0f} | {size['peak_rss_gib']:.2f} | "
                     f"{' '.join(map(str, size['epochs_run']))} |")
    lines += ["", f"![time per post and peak RSS against size]({r['figure']})"]
    return "\n".join(lines)


def render_gpu(r: dict) -> str:
    m = r["machine"]
    where = (m.get("gpu") or "GPU") if m["device"] == "cuda" else (
        "no GPU: the device's steps forced onto the CPU")
    lines = [SECTION, "",
             f"{m['date']}, revision `{m['revision']}`, {where}; torch {m['torch']}, "
             f"transformers {m['transformers']}; {m['cpu_cores']} CPU cores "
             f"({m['cpu_capability']}, native bf16 {m['native_bf16']}). lab5 as "
             f"bench/gpu_pack.py packs it ({r['posts']} posts, images at the clean view's size, "
             "the text encoder's weights in float16 on both sides).", "",
             "| step | device | seconds | images/s (text included) | peak GPU GiB |",
             "|---|---|---|---|---|"]
    for leg, f in r["featurize"].items():
        lines.append(f"| featurize ({f['precision']}) | {leg} | {f['seconds']} | "
                     f"{f['images_per_second']} | {f['peak_gpu_gib'] or '-'} |")
    for leg, by_mode in r["heads"].items():
        for mode, h in by_mode.items():
            lines.append(f"| heads, {mode}, {r['folds']} folds | {leg} | {h['seconds']} | - | "
                         f"{h['peak_gpu_gib'] or '-'} |")
    tuned = [r[key] for key in ("finetune", "finetune_lora") if r.get(key)]
    for f in tuned:
        how = f" (encoders {f['tuning']})" if "tuning" in f else ""
        lines.append(f"| finetune{how}, fold 0, {f['pairs']} pairs, {f['epochs']} epoch(s), "
                     f"{f['mixed_precision']} | device | {f['seconds']} | - | "
                     f"{f['peak_gpu_gib'] or '-'} |")
    lines += ["", "| mode | " + " | ".join(f"accuracy, macro-F1 ({leg})" for leg in r["heads"])
              + " |", "|---|" + "---|" * len(r["heads"])]
    for mode in MODES:
        lines.append(f"| {mode} | " + " | ".join(
            f"{r['heads'][leg][mode]['accuracy']:.4f}, {r['heads'][leg][mode]['macro_f1']:.4f}"
            for leg in r["heads"]) + " |")
    for f in tuned:
        how = f" (encoders {f['tuning']})" if "tuning" in f else ""
        lines += ["", f"finetune{how}, fold 0: accuracy {f['accuracy']:.4f}, macro-F1 "
                      f"{f['macro_f1']:.4f}; {f['train_pairs_per_second']} training pairs a "
                      "second."]
    if r.get("features_match"):
        match = "; ".join(f"{name} {c['min']} / {c['mean']}"
                          for name, c in r["features_match"].items())
        lines += ["", f"Device features against the CPU's fp32 (cosine per row, min / mean): "
                      f"{match}."]
    return "\n".join(lines) + "\n"


def write_section(results_md: Path, section: str) -> None:
    text = results_md.read_text() if results_md.is_file() else ""
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.S)
    text = pattern.sub(lambda _: section.rstrip("\n") + "\n", text) if pattern.search(text) \
        else text.rstrip("\n") + "\n\n" + section
    results_md.write_text(text)


def render_workers(r: dict) -> str:
    lines = _heading("The demo's sweep over seeds by two workers", r, "bench/workers.py")
    lines[-1] += _lowered(r)
    lines += ["", f"| `{r['command']}` on the demo data ({r['trials']} trials; featurize ran once "
              "before) | wall (s) |", "|---|---|",
              f"| `--workers 2` (worker 0: {r['by_worker']['0']} trials, worker 1: "
              f"{r['by_worker']['1']}) | {r['two_workers_s']:.1f} |",
              f"| one worker (`--force`) | {r['one_worker_s']:.1f} |", "",
              "The two reports are the same but for their first line (the command): "
              f"{'yes' if r['same_report'] else 'NO'}. Each worker's stages take the threads "
              "they would alone, so two workers share the cores."]
    return "\n".join(lines)
