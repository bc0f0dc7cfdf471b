"""Stage train: one model per fold for params.mode; logs, checkpoints, out-of-fold probabilities.

train.regime heads trains on the cached features, in one process whatever the launch; finetune
trains the encoders too, from the raw pairs, under `accelerate launch` (msa.launch), and resumes a
killed run from `--resume`. Both run on the one cross-validation driver (msa.training.driver).
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
    if p.train.regime == "finetune":
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

    regime = _finetune(p, args) if p.train.regime == "finetune" else _heads(p, args)
    progress = live.EpochLog(args.live if regime.is_main else None)
    results = driver.cross_validate(regime, folds.read_folds(args.folds), on_epoch=progress)
    progress.close()
    if regime.is_main:
        checkpoints.save_models(results, p.mode, regime.encoders, args.models, p.train.regime,
                                regime.record())
        records.write_oof(driver.oof_rows(results, regime.label_of), args.oof)
        records.write_train_log(driver.train_log(results), args.log)
        records.write_summary(args.summary, p.mode, driver.fold_epochs(results),
                              regime.produced_by())
    regime.close()


def _heads(p, args):
    from msa import device, precision
    from msa.features import store
    from msa.training.heads import Heads

    where = device.resolve(p.device)
    return Heads(store.load(args.features), p.mode, p.train, p.seed,
                 precision.resolve(p.precision, where), where)


def _finetune(p, args):
    from msa.data import prepared
    from msa.features import extract
    from msa.training import finetune

    accelerator = finetune.make_accelerator(p)
    finetune.prepare_state_dir(accelerator, args.resume,
                               finetune.fingerprint(p, [args.manifest, args.folds]))
    pairs = [q for q in prepared.read(args.manifest) if q.split == "train"]
    return finetune.Finetune(accelerator, p, extract.encoder_identity(p.featurize), pairs,
                             args.resume)


if __name__ == "__main__":
    main()
