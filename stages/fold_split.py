"""Stage fold_split: (grouped) StratifiedKFold over the labelled pairs; the fold of every guid."""

import argparse

from msa import params
from msa.data import folds, prepared
from msa.errors import stage_errors


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    p = params.load()
    pairs = prepared.read(args.manifest)
    assignment = folds.assign_folds(pairs, p.fold.n_splits, p.fold.seed, p.fold.group)
    folds.write_folds(assignment, pairs, args.out)


if __name__ == "__main__":
    main()
