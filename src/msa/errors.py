"""One error type for every failure a user can fix, and the wrapper that prints it as one line."""

from __future__ import annotations

import functools
import signal
import sys
import threading


class MsaError(Exception):
    """A problem with the user's data, params or workspace, stated in one line."""


# What a stage that stopped leaves: `dvc exp run -S` has written the refused value into
# params.yaml, stages before it may have rewritten dvc.lock, and DVC has removed its outputs.
# The params, dvc.lock and the outputs DVC keeps in git (`cache: false`; tests/test_pipeline.py
# checks that these paths hold every one) come back from git, the others from DVC's cache.
# The index is read from the commit first: DVC rewrites git's index (dulwich) keeping the stat
# data of a file a stage then rewrote with as many bytes in the same second, and git would take
# it for unchanged and leave it (tests/test_errors.py).
KEPT_IN_GIT = ("params.yaml", "dvc.lock", "data/folds.csv", "metrics", "plots", "dvclive",
               "predictions")
WAY_BACK = ("the way back to the last committed params and outputs: "
            f"git read-tree HEAD && git checkout {' '.join(KEPT_IN_GIT)} && dvc checkout")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying what the interrupted work kept and how to go on from it."""


# What a stage that Ctrl-C stopped leaves, where it says nothing more of its own.
RUN_AGAIN = "the stage stopped; `dvc repro` (or `dvc exp run`) runs it again"


def _one_line(text: str) -> str:
    """One line whatever the text quotes (a path or a cell may hold a line break)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def hear_ctrl_c() -> None:
    """SIGINT raises KeyboardInterrupt here even where this process started with it ignored.

    A shell without job control starts its background jobs (`cmd &` in a script, CI steps, batch
    schedulers, nohup'd pipelines) with SIGINT ignored, and Python then leaves it ignored: a
    SIGINT sent on purpose (kill -INT, a scheduler's cancel) would pass unheard, a launched
    stage's processes would run on, and dvc would carry on to the next stage.
    """
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def one_line_errors(main, way_back: str | None = None):
    """Run `main`, turning an MsaError into `error: <message>` on stderr and exit status 2,
    with `way_back` a second line saying how to return to a working state; and Ctrl-C into
    `interrupted: <what was kept, how to go on>` and exit status 130."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        hear_ctrl_c()
        try:
            return main(*args, **kwargs)
        except MsaError as exc:
            print(f"error: {_one_line(str(exc))}", file=sys.stderr)
            if way_back:
                print(way_back, file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt as exc:
            said = str(exc) if isinstance(exc, Interrupted) else RUN_AGAIN
            print(f"\ninterrupted: {_one_line(said)}", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper


def stage_errors(main):
    """A stage's `main`: its errors one line, then the way back (`WAY_BACK`)."""
    return one_line_errors(main, WAY_BACK)
