"""Stage predict: the fold ensemble on test_without_label.txt, in the lab5 format."""

import argparse

from msa import params
from msa.errors import one_line_errors


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--features", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    p = params.load()
    # Torch and the encoders load after the params check, so a refused param fails at once.
    from msa import checkpoints, features, precision, predict, prepared

    dtype = precision.resolve(p.precision)
    test_pairs = [q for q in prepared.read(args.manifest) if q.split == "test"]
    guids = [q.guid for q in test_pairs]
    models, summary = checkpoints.load_models(args.models, dtype)
    if summary.get("regime") == "finetune":
        # The encoders were trained too: the fold models read the raw pairs.
        probs = predict.ensemble_pair_proba(models, test_pairs, summary)
    else:
        cache = features.load(args.features)
        checkpoints.check_compatible(summary, cache)
        probs = predict.ensemble_proba(models, cache, cache.rows(guids))
    predict.write_predictions(guids, probs, args.out)
    print(f"predict: {len(guids)} test pairs -> {args.out}")


if __name__ == "__main__":
    main()
