"""One error type for every failure a user can fix, and the wrapper that prints it as one line."""

from __future__ import annotations

import functools
import sys


class MsaError(Exception):
    """A problem with the user's data, params or workspace, stated in one line."""


def one_line_errors(main):
    """Run `main`, turning an MsaError into `error: <message>` on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except MsaError as exc:
            # One line whatever the message quotes (a path or a cell may hold a line break).
            message = str(exc).replace("\r", "\\r").replace("\n", "\\n")
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
