"""Stage train: one model per fold for params.mode; logs, checkpoints, out-of-fold probabilities.

The regime (msa.training.regimes) says how: heads trains on the cached features, in one process
whatever the launch; finetune trains the encoders too, from the raw pairs, under `accelerate
launch` (msa.launch), and resumes a killed run from `--resume`. Both run on the one
cross-validation driver (msa.training.driver).
"""

import argparse

from msa import params
from msa.errors import stage_errors


@stage_errors
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
    from msa.training import regimes

    regime = regimes.of(p.train.regime)
    if regime.launched:
        from msa import launch

        if not launch.launched():
            try:
                return launch.relaunch(p.launch)
            except KeyboardInterrupt:
                from msa.errors import Interrupted
                from msa.training import kept

                raise Interrupted(kept.summary(args.resume)) from None
    # Torch and the encoders load after the params check, so a refused param fails at once.
    from msa.data import folds
    from msa.evaluation import records
    from msa.training import checkpoints, driver, live

    trainer = regime.trainer(p, regimes.TrainPaths(args.manifest, args.features, args.folds,
                                                   args.resume))
    progress = live.EpochLog(args.live if trainer.is_main else None)
    results = driver.cross_validate(trainer, folds.read_folds(args.folds), on_epoch=progress)
    progress.close()
    if trainer.is_main:
        checkpoints.save_models(results, p.mode, trainer.encoders, args.models, regime.name,
                                trainer.record())
        records.write_oof(driver.oof_rows(results, trainer.label_of), args.oof)
        records.write_train_log(driver.train_log(results), args.log)
        records.write_summary(args.summary, p.mode, driver.fold_epochs(results),
                              trainer.produced_by())
    trainer.close()


if __name__ == "__main__":
    main()
