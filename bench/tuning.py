"""Each encoder frozen, adapted or tuned, on one lab5 fold (part of `make bench`).

With the packaged encoders (MiniLM-L6, EfficientNet-Lite0), the default params and bf16 where
the CPU runs it natively, fold 0 of lab5 is trained four ways, each in a process of its own (so
that its peak memory is its own):
    heads      both encoders frozen, their features cached (featurize, then the heads regime
               with its default early stopping)
    text       finetune: the text encoder tuned in full, the image encoder frozen (CLMLF's way)
    lora       finetune: both encoders adapted by LoRA (rank 8)
    full       finetune: both encoders tuned in full
The finetune runs train a fixed `--epochs` (no early stopping: the cost per epoch and the score
at that budget are what is compared). Writes bench/tuning-<capability>-<precision>.json and its
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, lab5_folder, machine, now, revision, scratch, timed
from page import publish, render_tuning

TUNINGS = {"text": ("full", "frozen"), "lora": ("lora", "lora"), "full": ("full", "full")}


def run_one(way: str, lab5: Path, fold: int, epochs: int) -> dict:
    """One way of training fold `fold`, in this process: its scores and times."""
    from msa import LABELS, params, precision
    from msa.data import folds, reading
    from msa.evaluation import metrics
    from msa.features import extract
    from msa.training import driver, finetune, heads

    base = params.Params()
    pairs, _ = reading.prepare(lab5, show_progress=False)
    labelled = [q for q in pairs if q.split == "train"]
    label_of = {q.guid: q.label for q in labelled}
    assignment = folds.assign_folds(labelled, base.fold.n_splits, base.fold.seed, base.fold.group)
    out: dict = {"fit_pairs": sum(f != fold for f in assignment.values())}
    epoch_s: list[float] = []
    if way == "heads":
        dtype = precision.resolve(base.precision)
        start = time.perf_counter()
        cache = extract.featurize(labelled, base.featurize, base.augment, dtype,
                                  show_progress=False)
        out["featurize_s"] = time.perf_counter() - start
        start = time.perf_counter()
        result = driver.train_fold(heads.Heads(cache, base.mode, base.train, base.seed, dtype),
                                   assignment, fold)
        out["train_s"] = time.perf_counter() - start
        out["trained_parameters"] = sum(v.numel() for v in result.state.values())
    else:
        text, image = TUNINGS[way]
        p = dataclasses.replace(base, train=dataclasses.replace(
            base.train, regime="finetune", epochs=epochs, early_stopping="none",
            text_tuning=text, image_tuning=image))
        timed_epoch = finetune.FinetuneRun.train_epoch

        def train_epoch(self, epoch):
            begin = time.perf_counter()
            loss = timed_epoch(self, epoch)
            epoch_s.append(time.perf_counter() - begin)
            out["trained_parameters"] = sum(q.numel() for q in self.model.parameters()
                                            if q.requires_grad)
            return loss

        finetune.FinetuneRun.train_epoch = train_epoch
        accelerator = finetune.make_accelerator(p)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as state:
            regime = finetune.Finetune(accelerator, p, extract.encoder_identity(p.featurize),
                                       labelled, state, p.train.regime, show_progress=False)
            result = driver.train_fold(regime, assignment, fold)
        out["train_s"] = time.perf_counter() - start
        out["provenance"] = finetune.provenance(accelerator, p.train.regime).to_json()
    y = [label_of[g] for g in result.val_guids]
    predicted = [LABELS[i] for i in result.val_probs.argmax(1)]
    # heads refits after choosing (train.early_stopping refit): those epochs count too
    trained = result.epochs_run + (result.best_epoch if way == "heads" and base.train.refits
                                   else 0)
    return out | metrics.scores(y, predicted) | {
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
        "epochs_trained": trained, "train_epoch_s": epoch_s,
        "epoch_s": out["train_s"] / trained}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab5", default=os.environ.get("LAB5", str(REPO.parent / "shared/lab5")))
    parser.add_argument("--epochs", type=int, default=2, help="finetune: epochs trained")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--ways", nargs="+", default=["heads", *TUNINGS])
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: that way alone
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    lab5 = lab5_folder(args.lab5)
    if args.one:
        Path(args.result).write_text(json.dumps(run_one(args.one, lab5, args.fold, args.epochs)))
        return
    work, logs = scratch("msa-tuning-")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PYTHONHASHSEED="0")
    result = {"machine": machine(), "fold": args.fold, "epochs": args.epochs, "ways": {}}
    for way in args.ways:
        into = work / f"{way}.json"
        wall, rss, _ = timed([sys.executable, __file__, "--one", way, "--result", str(into),
                              "--lab5", str(lab5), "--fold", str(args.fold),
                              "--epochs", str(args.epochs)], REPO, env, logs / f"{way}.log")
        result["ways"][way] = json.loads(into.read_text()) | {"wall_s": wall,
                                                             "peak_rss_gib": rss}
        print(f"tuning: {way}: {wall:.0f} s, peak RSS {rss:.2f} GiB, accuracy "
              f"{result['ways'][way]['accuracy']:.4f}", flush=True)
    result["date"], result["git_revision"] = now(), revision()
    publish(Path(args.out), "tuning", result, render_tuning)


if __name__ == "__main__":
    main()
