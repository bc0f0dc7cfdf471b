"""Training progress while it runs, through DVCLive: `dvclive/metrics.json` holds the latest
epoch (how far a running experiment has got; a plain output, so `dvc exp show` compares the
scores alone), `dvclive/plots/metrics/` every epoch so far, one step per fold-epoch. The
finished run's log is metrics/train_log.csv."""

from __future__ import annotations

import math

from msa import epoch_log



class EpochLog:
    """Called with each epoch's log row; writes nothing where `folder` is None (tests, and
    every process but the main one)."""

    def __init__(self, folder: str | None = "dvclive"):
        self.live = None
        if folder is not None:
            from dvclive import Live

            self.live = Live(folder, report=None, save_dvc_exp=False, dvcyaml=None)

    def __call__(self, row: dict) -> None:
        if self.live is None:
            return
        for name in epoch_log.COLUMNS:
            value = int(row[name]) if name in epoch_log.COUNTERS else float(row[name])
            if not math.isnan(value):  # stop_score under early_stopping none
                self.live.log_metric(name, value, plot=name not in epoch_log.COUNTERS)
        self.live.next_step()

    def close(self) -> None:
        if self.live is not None:
            self.live.end()
