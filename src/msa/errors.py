"""One error type for every failure a user can fix, and the wrapper that prints it as one line."""

from __future__ import annotations

import functools
import sys


class MsaError(Exception):
    """A problem with the user's data, params or workspace, stated in one line."""


# What a stage that stopped leaves: DVC has removed its outputs, and `dvc exp run -S` has
# written the refused value into params.yaml. Both come back from the last commit.
WAY_BACK = ("the way back to the last committed params and outputs: "
            "git checkout params.yaml && dvc checkout")


def one_line_errors(main, way_back: str | None = None):
    """Run `main`, turning an MsaError into `error: <message>` on stderr and exit status 2;
    with `way_back`, a second line says how to return to a working state."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except MsaError as exc:
            # One line whatever the message quotes (a path or a cell may hold a line break).
            message = str(exc).replace("\r", "\\r").replace("\n", "\\n")
            print(f"error: {message}", file=sys.stderr)
            if way_back:
                print(way_back, file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper


def stage_errors(main):
    """A stage's `main`: its errors one line, then the way back (`WAY_BACK`)."""
    return one_line_errors(main, WAY_BACK)
