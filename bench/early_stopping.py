"""Early-stopping rules side by side over training seeds, on one workspace's features and folds.

    python bench/early_stopping.py --workspace WS --seeds 0 1 2 \
        --variant none: --variant refit:early_stopping=refit,monitor=val_loss,epochs=10

WS is a checkout whose featurize and fold_split stages have run (on ../shared/lab5 for the
figures in docs/). Each variant is `name:key=value,...` over the workspace's train params. One
JSON line per (variant, seed) is appended to --out as it finishes, so a cut run keeps what it did.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import yaml

from msa import LABELS, params, precision
from msa.data import folds
from msa.evaluation import metrics
from msa.features import store
from msa.training import driver, heads, lexical


def parse_variant(text: str, base: params.Params) -> tuple[str, params.TrainParams]:
    name, _, settings = text.partition(":")
    raw = params.to_dict(base)
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        raw["train"][key] = yaml.safe_load(value)  # as dvc exp run -S reads a value
    return name, params.from_dict(raw).train


def held_out(refit: driver.FoldResult, choosing: driver.Fit, cache) -> driver.FoldResult:
    """The fold's result had the choosing run's model been kept (the holdout rule)."""
    probs = choosing.val_probs
    if refit.lexical is not None:
        probs = lexical.blend(probs, lexical.predict_proba(
            refit.lexical, cache.texts_of(cache.rows(refit.val_guids))), refit.lexical_weight)
    return dataclasses.replace(refit, state=choosing.state, val_probs=probs)


def score(name, seed, mode, train_params, results, cache, label_of, wall, dtype) -> dict:
    rows = driver.oof_rows(results, dict(zip(cache.guids, cache.labels)))
    summary = metrics.summarize(mode, [label_of[g] for g, *_ in rows],
                                [LABELS[int(p.argmax())] for *_, p in rows],
                                [f for _, f, *_ in rows], driver.fold_epochs(results))
    return {"variant": name, "seed": seed, "mode": mode,
            "train": dataclasses.asdict(train_params),
            "accuracy": summary["accuracy"]["mean"], "macro_f1": summary["macro_f1"]["mean"],
            "best_epochs": [r.best_epoch for r in results],
            "epochs_run": [r.epochs_run for r in results], "wall_s": wall,
            # Per fold, per epoch: the monitor on the hold-out and the scored fold's own figures,
            # so what a shorter patience would have chosen can be read off a long run.
            "curves": [{"fold": row["fold"], "epoch": row["epoch"],
                        "stop_score": row["stop_score"], "val_accuracy": row["val_accuracy"],
                        "val_macro_f1": row["val_macro_f1"]} for row in driver.train_log(results)],
            "produced_by": {"featurize": cache.produced_by.to_json(),
                            "train": precision.provenance(dtype).to_json()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", required=True, type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--out", type=Path, default=Path("bench/early_stopping.jsonl"))
    args = parser.parse_args()
    base = params.load(args.workspace / "params.yaml")
    cache = store.load(args.workspace / "data/features")
    assignment = folds.read_folds(args.workspace / "data/folds.csv")
    dtype = precision.resolve(base.precision)
    label_of = dict(zip(cache.guids, cache.labels))
    variants = [parse_variant(v, base) for v in args.variant]
    for seed in args.seeds:
        for name, train_params in variants:
            # A refit run first chooses its epoch count by the holdout rule: that run's own
            # result is kept too, as the holdout variant of the same settings, at no extra cost.
            choosing = []
            real_fit = driver.fit

            def recording_fit(*fit_args):
                result = real_fit(*fit_args)
                if fit_args[1].chooser == "holdout":  # fit(regime, phase, ...)
                    choosing.append(result)
                return result

            driver.fit = recording_fit
            started = time.perf_counter()
            try:
                results = driver.cross_validate(
                    heads.Heads(cache, base.mode, train_params, seed, dtype), assignment,
                    show_progress=False)
            finally:
                driver.fit = real_fit
            wall = round(time.perf_counter() - started, 1)
            runs = [(name, results)]
            if train_params.early_stopping == "refit":
                runs.append((name.replace("refit", "holdout", 1) if "refit" in name
                             else name + "-holdout", [held_out(r, c, cache)
                                                      for r, c in zip(results, choosing)]))
            for run_name, run_results in runs:
                record = score(run_name, seed, base.mode, train_params, run_results, cache,
                               label_of, wall, dtype)
                with args.out.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(record) + "\n")
                print(f"{run_name} seed {seed}: {record['accuracy']:.4f} / "
                      f"{record['macro_f1']:.4f}, best epochs {record['best_epochs']}, run "
                      f"{record['epochs_run']}, {record['wall_s']} s", flush=True)
    by_variant: dict[str, list[dict]] = {}
    for line in args.out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        by_variant.setdefault(record["variant"], []).append(record)
    for name, records in by_variant.items():
        print(f"{name}: mean accuracy {np.mean([r['accuracy'] for r in records]):.4f}, "
              f"macro-F1 {np.mean([r['macro_f1'] for r in records]):.4f} over seeds "
              f"{[r['seed'] for r in records]}")


if __name__ == "__main__":
    main()
