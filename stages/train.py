"""Stage train: one model per fold for params.mode; logs, checkpoints, out-of-fold probabilities."""

import argparse

from msa import params
from msa.errors import one_line_errors


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", required=True)
    parser.add_argument("--folds", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--oof", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--summary", required=True)
    args = parser.parse_args()
    p = params.load()
    # Torch and the encoders load after the params check, so a refused param fails at once.
    from msa import checkpoints, features, folds, precision, records, train

    cache = features.load(args.features)
    assignment = folds.read_folds(args.folds)
    dtype = precision.resolve(p.precision)
    results = train.train_cross_validated(cache, assignment, p.mode, p.train, p.seed, dtype)
    checkpoints.save_models(results, p.mode, cache.encoders, args.models)
    records.write_oof(train.oof_rows(results, cache), args.oof)
    records.write_train_log(train.epoch_log(results), args.log)
    records.write_summary(args.summary, p.mode, train.fold_epochs(results),
                          {"featurize": cache.produced_by or {},
                           "train": precision.provenance(dtype)})


if __name__ == "__main__":
    main()
