"""The fold models read back (each loaded by the regime that trained it), the fold ensemble that
predicts new pairs, and the predictions file (the lab5 format)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from msa import LABELS
from msa.features.store import FeatureSet
from msa.files import atomic_write_text
from msa.parallel import ALONE, Shares
from msa.data.prepared import Pair
from msa.training import checkpoints, lexical, regimes
from msa.training.checkpoints import FoldModel, ModelsRecord


def load_models(folder: str | Path,
                dtype: str | None = None) -> tuple[list[FoldModel], ModelsRecord]:
    """The fold models of a models folder, each loaded by the regime that trained it; `dtype`
    (bf16 | fp32) overrides the precision the heads' tuned text layers were trained in (None
    keeps it, so the out-of-fold probabilities are reproduced exactly)."""
    summary = checkpoints.read_index(folder)
    regime = regimes.of_models(summary)
    models = []
    for fold in summary.folds:
        path, checkpoint = checkpoints.read_fold(folder, fold)
        models.append(checkpoints.with_lexical(regime.fold_network(summary, checkpoint, path,
                                                                   dtype),
                                               folder, fold, summary.lexical_weight))
    return models, summary


def ensemble_proba(models: list[FoldModel], summary: ModelsRecord, pairs: list[Pair],
                   features_of: Callable[[], FeatureSet | None],
                   device: torch.device = torch.device("cpu"),
                   shares: Shares = ALONE) -> np.ndarray | None:
    """Mean over the fold models of their class probabilities for `pairs`, each blended with
    its lexical model as its out-of-fold ones were, the networks run on `device` as the regime
    that trained them predicts (msa.training.regimes); on the main process, None on the others.

    Models that read the pairs' features get them from `features_of()` on the main process
    (every process calls it: it may featurize, sharing the pairs); they must come from the
    encoders the models were trained on. Models trained end to end read the pairs themselves,
    each process its share of them."""
    for model in models:
        model.network.to(device)
    network_probs = regimes.of_models(summary).probabilities(models, summary, pairs,
                                                             features_of, device, shares)
    if not shares.is_main:
        return None
    texts = [q.text for q in pairs]
    return np.mean([blend(model, probs, texts) for model, probs in zip(models, network_probs)],
                   axis=0)


def blend(model: FoldModel, probs: np.ndarray, texts: list[str]) -> np.ndarray:
    """The network's probabilities blended with the fold's lexical model on `texts`."""
    if model.lexical is None:
        return probs
    return lexical.blend(probs, lexical.predict_proba(model.lexical, texts), model.lexical_weight)


def write_predictions(guids: list[str], probs: np.ndarray, path: str | Path) -> None:
    """The lab5 format: a `guid,tag` header, then one row per pair in input order."""
    rows = "".join(f"{g},{LABELS[i]}\n" for g, i in zip(guids, probs.argmax(1)))
    atomic_write_text(path, "guid,tag\n" + rows)


def write_probabilities(guids: list[str], probs: np.ndarray, path: str | Path) -> None:
    """The class probabilities behind the predictions: guid, then one column a class."""
    header = "guid," + ",".join(f"prob_{label}" for label in LABELS) + "\n"
    rows = "".join(f"{g}," + ",".join(f"{x:.6f}" for x in row) + "\n"
                   for g, row in zip(guids, probs))
    atomic_write_text(path, header + rows)


def revision(folder: str | Path) -> str:
    """The models' revision, in words: the git commit whose dvc.lock names this folder's
    content, or why none does (DVC's `data status`)."""
    import subprocess

    try:
        from dvc.repo import Repo

        with Repo() as repo:
            status = repo.data_status(targets=[str(folder)], granular=False,
                                      untracked_files="no")
    except Exception:  # noqa: BLE001 - no DVC repository here, or none that tracks the folder
        return "not tracked by DVC here"
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip() or "none yet"
    key = Path(folder).as_posix().rstrip("/") + "/"

    def among(section: str) -> bool:  # DVC's sections: {"modified": [...], "added": [...]}
        return any(key in listed for listed in (status.get(section) or {}).values())

    if among("uncommitted"):
        return f"none: {key} differs from what dvc.lock names (not the output of any run)"
    if among("committed"):
        return (f"dvc.lock's in the workspace, not yet committed to git (a run or an applied "
                f"experiment since git {head})")
    if key in (status.get("unchanged") or []):
        return f"git {head}, whose dvc.lock names them"
    return "not tracked by DVC here"


def describe(summary: ModelsRecord, folder: str | Path, revision: str) -> str:
    """Which models predict, in one line: their folder, its revision, the mode, regime and
    encoders (and how they were tuned)."""
    tuning = summary.tuning
    how = f", text {tuning.text}, image {tuning.image}" if tuning else ""
    return (f"predict: the models in {folder} (revision: {revision}): mode {summary.mode}, "
            f"regime {regimes.of_models(summary).name}{how}, {len(summary.folds)} folds, "
            f"encoders {summary.encoders.text_model} + {summary.encoders.image_model}")
