"""How the pipeline grows with the data: every stage on demo data of 1k to 64k posts.

    python bench/scale.py [--sizes 1000 4000 16000 64000] [--views 0]
        [--image-model mobilenetv3_small_050 --image-weights random]

For each size it writes `msa demo-data` (lab5 layout, 90% labelled) outside the repository,
then runs every stage (`dvc repro -s STAGE`) in one fresh clone with the default params but
`data.root`, `augment.views` and the image encoder given here, and records each stage's wall
time and peak RSS, per post. The defaults trade the packaged EfficientNet-Lite0 (about 40 ms an
image on 2 cores: 43 minutes for 64k clean images alone) for a random-weight MobileNetV3 of the
same pipeline, and no augmented views: what grows with the data is the pipeline's own work,
which this measures; the encoder's cost per image is a constant that bench.py measures on lab5.
Writes bench/scale-<capability>-<precision>.json and the scaling section of bench/RESULTS.md,
and bench/scale-<capability>-<precision>.png (seconds per post and peak RSS against size).
Targets: time per post at the largest size within 1.5x of that at 4k (whole pipeline), and
peak RSS under 4 GiB at the largest size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import yaml

from common import REPO, STAGES, clone, kind, machine, now, revision, timed
from page import render_scale, write_page

FLAT_FROM = 4000  # the size time per post is compared against
FLAT_RATIO = 1.5
RSS_LIMIT_GIB = 4.0


def run_size(n_posts: int, workspace: Path, data: Path, env: dict, logs: Path,
             settings: dict) -> dict:
    from msa.data.demo import write_demo_data

    n_labelled = int(n_posts * 0.9)
    write_demo_data(data, n_labelled=n_labelled, n_test=n_posts - n_labelled, seed=0)
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["data"]["root"] = str(data)
    if settings["views"]:
        params["augment"]["views"] = settings["views"]
    else:  # no augmented views: augmentation off
        params["augment"]["enabled"] = False
    params["featurize"]["image_model"] = settings["image_model"]
    params["featurize"]["image_weights"] = settings["image_weights"]
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = {}
    for stage in STAGES:
        wall, rss, _ = timed(["dvc", "repro", "-s", stage], workspace, env,
                             logs / f"{n_posts}-{stage}.log")
        stages[stage] = {"wall_s": wall, "peak_rss_gib": rss, "s_per_post": wall / n_posts}
        print(f"scale: {n_posts} posts, {stage}: {wall:.1f} s, peak RSS {rss:.2f} GiB",
              flush=True)
    metrics = json.loads((workspace / "metrics/metrics.json").read_text())
    training = json.loads((workspace / "metrics/training.json").read_text())
    total = sum(s["wall_s"] for s in stages.values())
    return {"posts": n_posts, "stages": stages, "total_s": total, "s_per_post": total / n_posts,
            "peak_rss_gib": max(s["peak_rss_gib"] for s in stages.values()),
            "epochs_run": [f["epochs_run"] for f in training["folds"].values()],
            "accuracy": metrics["accuracy"]["mean"]}


def targets(r: dict) -> dict:
    by_size = {s["posts"]: s for s in r["sizes"]}
    largest = by_size[max(by_size)]
    out = {"peak_rss": {"target": f"< {RSS_LIMIT_GIB:g} GiB at {largest['posts']} posts",
                        "measured": f"{largest['peak_rss_gib']:.2f} GiB",
                        "met": largest["peak_rss_gib"] < RSS_LIMIT_GIB}}
    if FLAT_FROM in by_size and max(by_size) > FLAT_FROM:
        ratio = largest["s_per_post"] / by_size[FLAT_FROM]["s_per_post"]
        out["flat_time_per_post"] = {
            "target": f"<= {FLAT_RATIO}x from {FLAT_FROM} to {largest['posts']} posts",
            "measured": f"{ratio:.2f}x", "met": ratio <= FLAT_RATIO}
    return out


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s["posts"] for s in r["sizes"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for stage in STAGES:
        left.plot(sizes, [s["stages"][stage]["s_per_post"] * 1000 for s in r["sizes"]],
                  marker="o", label=stage)
        right.plot(sizes, [s["stages"][stage]["peak_rss_gib"] for s in r["sizes"]],
                   marker="o", label=stage)
    left.plot(sizes, [s["s_per_post"] * 1000 for s in r["sizes"]], "k--", marker="o",
              label="total")
    right.axhline(RSS_LIMIT_GIB, color="red", linestyle=":", label="4 GiB")
    for ax, label in ((left, "ms per post"), (right, "peak RSS (GiB)")):
        ax.set_xscale("log")
        ax.set_xlabel("posts")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    left.set_yscale("log")
    left.legend(fontsize=7)
    fig.suptitle(f"msa scaling, {r['machine']['cpu_capability']} {r['machine']['precision']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 64000])
    parser.add_argument("--views", type=int, default=0)
    parser.add_argument("--image-model", default="mobilenetv3_small_050")
    parser.add_argument("--image-weights", default="random")
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    settings = {"views": args.views, "image_model": args.image_model,
                "image_weights": args.image_weights}

    work = Path(tempfile.mkdtemp(prefix="msa-scale-"))
    logs = work / "logs"
    logs.mkdir()
    workspace, env = clone(work, "repo")
    out = Path(args.out)
    result = {"sizes": [], "settings": settings, "machine": machine(), "git_revision": revision()}
    name = f"scale-{kind(result['machine'])}"
    result["figure"] = f"{name}.png"
    for n_posts in sorted(args.sizes):
        data = work / f"data-{n_posts}"
        result["sizes"].append(run_size(n_posts, workspace, data, env, logs, settings))
        shutil.rmtree(data)  # the next size's data replaces it
        # Written after every size, so a run cut short keeps the sizes it finished.
        result["date"] = now()
        result["targets"] = targets(result)
        plot(result, out / result["figure"])
        (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        write_page(out)
    print(render_scale(result))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
