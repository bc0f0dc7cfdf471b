"""The train stage's small outputs, and their one reader for evaluate, plot and predict.

    data/oof.csv            out-of-fold class probabilities, one row per labelled pair
    metrics/train_log.csv   the per-epoch log of every fold
    metrics/training.json   the mode, each fold's best epoch and epochs run, and what produced
                            the features and models beyond their params (msa.precision)

Readers need neither torch nor the encoders, so the stages that only read these start fast
and depend on no model code.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from msa import LABELS, epoch_log
from msa.errors import MsaError
from msa.files import read_csv, write_csv, write_json, write_table

OOF_COLUMNS = ("guid", "fold", "label", *(f"prob_{x}" for x in LABELS), "predicted")


def write_oof(rows, path: str | Path) -> None:
    """`rows`: (guid, fold, label, class probabilities) in fold then guid order."""
    write_csv(path, list(OOF_COLUMNS),
              [[guid, fold, label, *(f"{p:.6f}" for p in probs), LABELS[int(probs.argmax())]]
               for guid, fold, label, probs in rows])


def read_oof(path: str | Path) -> list[dict]:
    return read_csv(path, "out-of-fold predictions", "train")


def oof_probabilities(rows: list[dict]):
    """The class probabilities of out-of-fold rows, [pairs, classes] in LABELS order."""
    import numpy as np

    return np.array([[float(r[f"prob_{x}"]) for x in LABELS] for r in rows])


OOF_FILE = "data/oof.csv"  # where dvc.yaml's train stage writes them


def read_oof_at(rev: str, name: str) -> list[dict]:
    """The out-of-fold predictions of a git or DVC experiment revision, from DVC's cache (or
    its remote): what that experiment's evaluate read, without retraining anything."""
    import dvc.api

    try:
        text = dvc.api.read(OOF_FILE, rev=rev, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - dvc raises many kinds for a missing output
        raise MsaError(f"{name}: its {OOF_FILE} is not in DVC's cache or remote "
                       f"({exc.__class__.__name__}); `dvc exp pull origin {name}` fetches it "
                       f"where it was pushed with its outputs (`dvc pull` for a commit), `dvc "
                       f"exp apply {name} && dvc repro` computes it again") from None
    return list(csv.DictReader(io.StringIO(text)))


def write_train_log(log: list[dict], path: str | Path) -> None:
    write_table(log, path, epoch_log.COLUMNS)


def read_train_log(path: str | Path) -> list[dict]:
    return [{k: (int(v) if k in epoch_log.COUNTERS else float(v)) for k, v in row.items()}
            for row in read_csv(path, "training log", "train")]


def write_summary(path: str | Path, mode: str, folds: dict[int, dict], produced_by: dict) -> None:
    """`folds`: {fold: {"best_epoch": ..., "epochs_run": ...}}."""
    write_json(path, {"mode": mode, "folds": {str(f): v for f, v in sorted(folds.items())},
                      "produced_by": produced_by})


def read_summary(path: str | Path) -> dict:
    """The training summary, with the folds keyed by int."""
    path = Path(path)
    if not path.is_file():
        raise MsaError(f"{path}: no training summary here (run the train stage first)")
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["folds"] = {int(f): v for f, v in summary["folds"].items()}
    return summary
