"""Stage find_data: the data folder is there, said before DVC reads it.

DVC hashes a stage's dependencies before its command runs, so a missing data.root (a fresh
clone before the demo data is written, a misspelt -S data.root=...) would reach the user as
DVC's "No such file or directory" and cost prepare's committed outputs. This stage depends on
the param alone and runs first, so msa says what to do instead. Its record is cached, not
committed: a fresh clone runs it again."""

import argparse

from msa import files, params
from msa.data import data_root
from msa.errors import stage_errors


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", required=True, help="where to say which folder was found")
    args = parser.parse_args()
    root = params.load().data.root
    data_root.find(root)
    files.write_json(args.record, {"data.root": root})


if __name__ == "__main__":
    main()
