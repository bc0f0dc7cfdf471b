"""The fine-tuning regime on lab5 (part of `make bench`): seconds per epoch of one fold, the
projection for a full cross-validated run, and that fold's score against `heads` on it.

Both regimes run with the default params (the folds, the hold-out, the patience, the lexical
blend) on fold 0, finetune for at most `--epochs` epochs (default 3: a CPU fold-epoch takes
minutes), heads for its default train.epochs on features made here. Writes
bench/finetune-<capability>-<precision>.json and prints a markdown section for RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path


from common import REPO, machine, revision
from page import publish, render_finetune


def fold_scores(result, label_of) -> dict:
    from msa import LABELS
    from msa.evaluation import metrics

    y = [label_of[g] for g in result.val_guids]
    predicted = [LABELS[i] for i in result.val_probs.argmax(1)]
    return {**metrics.scores(y, predicted), "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab5", default=os.environ.get("LAB5", str(REPO.parent / "shared/lab5")))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    from msa import params, precision
    from msa.data import folds, reading
    from msa.features import extract
    from msa.training import driver, finetune, heads

    base = params.Params()
    tuned = dataclasses.replace(base, train=dataclasses.replace(
        base.train, regime="finetune", epochs=args.epochs))
    pairs, _ = reading.prepare(args.lab5, show_progress=False)
    labelled = [q for q in pairs if q.split == "train"]
    label_of = {q.guid: q.label for q in labelled}
    assignment = folds.assign_folds(labelled, base.fold.n_splits, base.fold.seed, base.fold.group)
    result = {"machine": machine(), "fold": args.fold, "pairs": len(labelled),
              "fit_pairs_per_fold": None}

    dtype = precision.resolve(base.precision)
    start = time.perf_counter()
    cache = extract.featurize(labelled, base.featurize, base.augment, dtype, show_progress=False)
    featurize_s = time.perf_counter() - start
    start = time.perf_counter()
    heads_result = driver.train_fold(heads.Heads(cache, base.mode, base.train, base.seed, dtype),
                                     assignment, args.fold)
    result["heads"] = {**fold_scores(heads_result, label_of), "train_s": time.perf_counter() - start,
                       "featurize_s": featurize_s}
    print("heads", result["heads"], flush=True)

    epoch_s, eval_s = [], []
    train_epoch, probabilities = (finetune.FinetuneRun.train_epoch,
                                  finetune.FinetuneRun.probabilities)

    def timed_epoch(self, epoch):
        begin = time.perf_counter()
        loss = train_epoch(self, epoch)
        epoch_s.append(time.perf_counter() - begin)
        result["fit_pairs_per_fold"] = len(self.train_loader.dataset)
        return loss

    def timed_probabilities(self, name):
        begin = time.perf_counter()
        probs = probabilities(self, name)
        eval_s.append(time.perf_counter() - begin)
        return probs

    finetune.FinetuneRun.train_epoch = timed_epoch
    finetune.FinetuneRun.probabilities = timed_probabilities
    accelerator = finetune.make_accelerator(tuned)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as state:
        regime = finetune.Finetune(accelerator, tuned, extract.encoder_identity(tuned.featurize),
                                   labelled, Path(state), tuned.train.regime)
        tuned_result = driver.train_fold(regime, assignment, args.fold)
    total = time.perf_counter() - start
    per_epoch = total / tuned_result.epochs_run
    result["finetune"] = {
        **fold_scores(tuned_result, label_of), "epochs_cap": args.epochs, "total_s": total,
        "train_epoch_s": epoch_s, "eval_s_per_epoch": sum(eval_s) / len(epoch_s),
        "fold_epoch_s": per_epoch,
        "provenance": finetune.provenance(accelerator, tuned.train.regime).to_json(),
        # the default cap (train.epochs) for every fold, as an upper bound; early stopping
        # usually ends sooner
        "epochs_default": base.train.epochs, "folds": base.fold.n_splits,
        "projected_full_run_h": per_epoch * base.train.epochs * base.fold.n_splits / 3600,
        "log": tuned_result.log,
    }
    print("finetune", {k: v for k, v in result["finetune"].items() if k != "log"}, flush=True)
    result["git_revision"] = revision()
    publish(Path(args.out), "finetune", result, render_finetune)



if __name__ == "__main__":
    main()
