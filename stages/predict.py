"""Stage predict: the fold ensemble on the posts to predict, in the lab5 format. Under a launch of
several processes (params `launch`) they share the posts and the main process writes the file."""

import argparse

from msa import params
from msa.errors import stage_errors


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--features", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    p = params.load()
    from msa import launch

    launch.relaunch_if_spread(p.launch)
    # Torch and the encoders load after the params check, so a refused param fails at once.
    from msa import device, parallel, precision
    from msa.data import prepared
    from msa.evaluation import predict
    from msa.features import store

    test_pairs = [q for q in prepared.read(args.manifest) if q.split == "test"]
    where = device.resolve(p.device)
    shares = parallel.Shares.of_this_process()
    models, summary = predict.load_models(args.models, precision.resolve(p.precision, where))
    probs = predict.ensemble_proba(
        models, summary, test_pairs,
        lambda: store.load(args.features) if shares.is_main else None, where, shares)
    if shares.is_main:
        predict.write_predictions([q.guid for q in test_pairs], probs, args.out)
        print(f"predict: {len(test_pairs)} test pairs -> {args.out}"
              + (f" ({shares.processes} processes)" if shares.processes > 1 else ""))

if __name__ == "__main__":
    main()
