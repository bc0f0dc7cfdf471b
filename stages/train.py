"""Stage train: one model per fold for params.mode; logs, checkpoints, out-of-fold probabilities.

train.regime heads trains on the cached features; finetune trains the encoders too, from the
raw pairs, under `accelerate launch` (msa.launch), and resumes a killed run from `--resume`.
"""

import argparse
import shutil

from msa import params
from msa.errors import one_line_errors


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--features", required=True)
    parser.add_argument("--folds", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--oof", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--resume", required=True, help="finetune: where each epoch is saved")
    parser.add_argument("--live", required=True, help="DVCLive's folder: progress while it runs")
    args = parser.parse_args()
    p = params.load()
    if p.train.regime == "finetune":
        from msa import launch

        if not launch.launched():
            launch.relaunch(p.train.launch)
        return finetune(p, args)
    # Torch and the encoders load after the params check, so a refused param fails at once.
    from msa import checkpoints, features, folds, live, precision, records, train

    cache = features.load(args.features)
    assignment = folds.read_folds(args.folds)
    dtype = precision.resolve(p.precision)
    progress = live.EpochLog(args.live)
    results = train.train_cross_validated(cache, assignment, p.mode, p.train, p.seed, dtype,
                                          on_epoch=progress)
    progress.close()
    checkpoints.save_models(results, p.mode, cache.encoders, args.models)
    records.write_oof(train.oof_rows(results, dict(zip(cache.guids, cache.labels))), args.oof)
    records.write_train_log(train.epoch_log(results), args.log)
    records.write_summary(args.summary, p.mode, train.fold_epochs(results),
                          {"featurize": cache.produced_by or {},
                           "train": precision.provenance(dtype)})


def finetune(p, args) -> None:
    from pathlib import Path

    from msa import checkpoints, features, finetune, folds, live, prepared, records, train

    accelerator = finetune.make_accelerator(p)
    progress = live.EpochLog(args.live if accelerator.is_main_process else None)
    pairs = [q for q in prepared.read(args.manifest) if q.split == "train"]
    assignment = folds.read_folds(args.folds)
    encoders = features.encoder_identity(p.featurize)
    resume = Path(args.resume)
    finetune.prepare_state_dir(accelerator, resume,
                               finetune.fingerprint(p, [args.manifest, args.folds]))
    results = finetune.train_cross_validated(accelerator, p, encoders, pairs, assignment, resume,
                                             on_epoch=progress)
    progress.close()
    if accelerator.is_main_process:
        label_of = {q.guid: q.label for q in pairs}
        checkpoints.save_models(results, p.mode, encoders, args.models, "finetune",
                                accelerator.mixed_precision)
        records.write_oof(train.oof_rows(results, label_of), args.oof)
        records.write_train_log(train.epoch_log(results), args.log)
        records.write_summary(args.summary, p.mode, train.fold_epochs(results),
                              {"train": finetune.provenance(accelerator)})
        shutil.rmtree(resume)
    accelerator.wait_for_everyone()
    accelerator.end_training()


if __name__ == "__main__":
    main()
