"""Train regime finetune: both encoders and the head trained end to end, one model per fold,
under Hugging Face Accelerate (one CPU process, one GPU, several GPUs or nodes alike).

The same rules as the heads regime (msa.train): the folds, the hold-out that chooses the epoch
(train.early_stopping, train.monitor, train.patience), the class weights, warm-up + cosine,
gradient clipping, the lexical blend. What differs is the input: raw pairs, the training
images augmented afresh every epoch in DataLoader workers.

Distributed rules kept here: every rank evaluates its shard and the probabilities are gathered
with `gather_for_metrics` (which drops the padding duplicates) before any score is computed,
so every rank takes the same early-stopping decision; `save_state` runs on every rank, plain
files are written by the main process only. The scheduler's length is computed after
`prepare()` (the loader shortens per process); the batch size is per device.

Resumable: after each epoch the phase's state (model, optimizer, scheduler, and the run so
far) is saved under `state_dir`; a run started again with the same fingerprint resumes from
the last saved epoch. Each epoch's randomness (dropout, batch order, views) is seeded from
(seed, fold, epoch), so a resumed run ends where an uninterrupted one does.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import get_cosine_schedule_with_warmup

from msa import LABEL_INDEX, LABELS, end_to_end, precision
from msa.end_to_end import Collate, EpochShuffle, PairImages
from msa.model import ModelConfig
from msa.params import Params, TrainParams
from msa.prepared import Pair
from msa.train import (EarlyStopping, Fit, FoldResult, blend_lexical, class_weights, epoch_row,
                       scores, seed_everything, split_for_stopping)

# Tokenizers' own threads do not survive the fork into DataLoader workers.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def mixed_precision(setting: str, precision_setting: str, on_gpu: bool) -> str:
    """What train.mixed_precision means here: no | bf16 | fp16."""
    if setting != "auto":
        return setting
    if on_gpu:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if precision.resolve(precision_setting) == "bf16" else "no"


def make_accelerator(p: Params):
    from accelerate import Accelerator

    on_gpu = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "") not in (
        "1", "true", "True")
    return Accelerator(
        mixed_precision=mixed_precision(p.train.mixed_precision, p.precision, on_gpu),
        gradient_accumulation_steps=p.train.gradient_accumulation_steps, cpu=not on_gpu)


def provenance(accelerator) -> dict:
    return {"regime": "finetune", "world_size": accelerator.num_processes,
            "device": accelerator.device.type, "mixed_precision": accelerator.mixed_precision,
            **({"cpu_capability": precision.cpu_capability(),
                "native_bf16": precision.native_bf16(), "threads": torch.get_num_threads()}
               if accelerator.device.type == "cpu" else {"gpu": torch.cuda.get_device_name()})}


class Run:
    """The pieces one fold's phase trains with, prepared by the accelerator."""

    def __init__(self, accelerator, p: Params, encoders: dict, fit_pairs: list[Pair],
                 eval_sets: dict[str, list[Pair]], seed: int, epochs: int):
        params = p.train
        self.accelerator, self.params, self.seed = accelerator, params, seed
        accelerator.free_memory()  # the previous phase's model, optimizer and loaders
        model, tokenizer, spec = end_to_end.build(encoders, p.mode, params)
        collate = Collate(tokenizer, encoders["text_max_length"])
        needs_image = p.mode != "text"
        workers = params.num_workers if needs_image else 0
        train_set = PairImages(fit_pairs, spec, p.augment if p.augment.views else None,
                               needs_image)
        self.config = model.head.config
        # Persistent workers: starting them anew for every pass costs more than a small
        # validation set's decoding.
        # Each loader draws its workers' seed from a generator of its own: from the global one,
        # the draw would shift dropout's stream whenever the workers start (once, persistent).
        def loading():
            return {"collate_fn": collate, "num_workers": workers,
                    "persistent_workers": workers > 0,
                    "generator": torch.Generator().manual_seed(seed)}

        loaders = [DataLoader(train_set, params.batch_size,
                              sampler=EpochShuffle(len(fit_pairs), seed), **loading())]
        for pairs in eval_sets.values():
            loaders.append(DataLoader(PairImages(pairs, spec, None, needs_image),
                                      params.batch_size, **loading()))
        encoder_params = {id(q) for q in model.encoder_parameters()}
        groups = [{"params": [q for q in model.parameters() if id(q) not in encoder_params],
                   "lr": params.lr},
                  {"params": model.encoder_parameters(), "lr": params.encoder_lr}]
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]],
                                      weight_decay=params.weight_decay)
        self.model, self.optimizer, self.train_loader, *eval_loaders = accelerator.prepare(
            model, optimizer, *loaders)
        self.eval_loaders = dict(zip(eval_sets, eval_loaders))
        self.eval_sizes = {name: len(pairs) for name, pairs in eval_sets.items()}
        # After prepare(): the loader is this process's shard.
        steps_per_epoch = math.ceil(len(self.train_loader) / params.gradient_accumulation_steps)
        total = steps_per_epoch * epochs
        self.scheduler = get_cosine_schedule_with_warmup(
            self.optimizer, int(params.warmup_ratio * total), total)
        labels = np.array([LABEL_INDEX[q.label] for q in fit_pairs])
        # The evaluation scores are computed on the CPU, the training loss on the device.
        self.score_criterion = nn.CrossEntropyLoss(
            weight=class_weights(labels, params.class_weight_power),
            label_smoothing=params.label_smoothing)
        self.criterion = copy.deepcopy(self.score_criterion).to(accelerator.device)

    def train_epoch(self, epoch: int, show_progress: bool) -> float:
        accelerator, params = self.accelerator, self.params
        torch.manual_seed(end_to_end.view_seed(self.seed, epoch, 1))
        self.train_loader.set_epoch(epoch)
        self.model.train()
        total = torch.zeros(2, device=accelerator.device)
        for batch in tqdm(self.train_loader, desc=f"epoch {epoch}", unit="batch", leave=False,
                          disable=not (show_progress and accelerator.is_local_main_process)):
            with accelerator.accumulate(self.model):
                loss = self.criterion(end_to_end.logits_of(self.model, batch).float(),
                                      batch["labels"])
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(self.model.parameters(), params.clip_grad_norm)
                self.optimizer.step()
                if accelerator.sync_gradients:
                    self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
            total += torch.stack([loss.detach().float() * len(batch["labels"]),
                                  torch.tensor(float(len(batch["labels"])),
                                               device=accelerator.device)])
        total = accelerator.reduce(total, "sum")
        return float(total[0] / total[1])

    @torch.no_grad()
    def probabilities(self, name: str) -> np.ndarray:
        """Class probabilities of every pair of an evaluation set, gathered from all ranks, in
        the set's order; each pair exactly once."""
        self.model.eval()
        n = self.eval_sizes[name]
        probs = np.zeros((n, len(LABELS)), dtype=np.float32)
        seen = np.zeros(n, dtype=np.int64)
        for batch in self.eval_loaders[name]:
            batch_probs = torch.softmax(end_to_end.logits_of(self.model, batch).float(), dim=-1)
            index, batch_probs = self.accelerator.gather_for_metrics(
                (batch["index"], batch_probs))
            index = index.cpu().numpy()
            probs[index] = batch_probs.cpu().numpy()
            np.add.at(seen, index, 1)
        if not (seen == 1).all():
            raise RuntimeError(f"{name}: gathered {seen.sum()} predictions for {n} pairs")
        return probs

    def state(self) -> dict:
        model = self.accelerator.unwrap_model(self.model)
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _labels(pairs: list[Pair]) -> torch.Tensor:
    return torch.tensor([LABEL_INDEX[q.label] for q in pairs], dtype=torch.long)


def fit(accelerator, p: Params, encoders: dict, fit_pairs: list[Pair], val: list[Pair],
        stop: list[Pair], chooser: str, epochs: int, seed: int, fold: int, phase_dir: Path,
        show_progress: bool, on_epoch=None) -> Fit:
    """Up to `epochs` epochs from the pretrained encoders and a fresh head; the epoch kept is
    chosen as in msa.train.fit. Resumes from `phase_dir` where an earlier run saved epochs."""
    params = p.train
    progress_file = phase_dir / "progress.pt"
    # Our own file, written by an earlier run of this phase (numpy scores need full pickle).
    saved = (torch.load(progress_file, map_location="cpu", weights_only=False)
             if progress_file.is_file() else None)
    if saved:
        if accelerator.is_main_process:
            print(f"finetune: fold {fold} resumes after epoch {saved['epoch']}, saved in "
                  f"{phase_dir}", flush=True)
        for row in saved["log"] if on_epoch else []:
            on_epoch(row)  # DVCLive's record of the run then holds every epoch, as uninterrupted
    if saved and saved["finished"]:
        return Fit(saved["best_state"], ModelConfig(**saved["config"]), saved["log"],
                   saved["best_epoch"], saved["best_probs"])
    seed_everything(seed, strict=accelerator.device.type == "cpu")
    eval_sets = {"val": val, **({"stop": stop} if chooser == "holdout" else {})}
    run = Run(accelerator, p, encoders, fit_pairs, eval_sets, seed, epochs)
    stopping = EarlyStopping(params.monitor, params.patience)
    best, log, start = None, [], 1
    if saved:
        accelerator.load_state(str(phase_dir / f"state-{saved['epoch']}"))
        run.scheduler.load_state_dict(saved["scheduler"])
        stopping.best, stopping.waited = saved["stopping"]
        log, start = saved["log"], saved["epoch"] + 1
        best = Fit(saved["best_state"], run.config, log, saved["best_epoch"], saved["best_probs"])
    criterion = run.score_criterion
    val_y = _labels(val)
    for epoch in range(start, epochs + 1):
        lr = run.scheduler.get_last_lr()[0]
        train_loss = run.train_epoch(epoch, show_progress)
        val_probs = run.probabilities("val")
        log.append(epoch_row(
            fold, epoch, train_loss, lr, scores(val_probs, val_y, criterion), chooser,
            params.monitor, lambda: scores(run.probabilities("stop"), _labels(stop), criterion)))
        stop_score = log[-1]["stop_score"]
        if on_epoch:
            on_epoch(log[-1])
        finished = False
        if chooser == "none" or stopping.improved(stop_score):
            best = Fit(run.state(), run.config, log, epoch, val_probs)
        elif stopping.stop:
            finished = True
        _save_progress(accelerator, run, phase_dir, epoch, stopping, log, best,
                       finished or epoch == epochs)
        if finished:
            break
    return best


def _save_progress(accelerator, run: Run, phase_dir: Path, epoch: int, stopping: EarlyStopping,
                   log: list[dict], best: Fit, finished: bool) -> None:
    """The epoch's state on every rank, then (main process) the run so far, pointing at it;
    the older state goes once the new one is complete."""
    accelerator.save_state(str(phase_dir / f"state-{epoch}"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        tmp = phase_dir / "progress.pt.tmp"
        torch.save({"epoch": epoch, "stopping": (stopping.best, stopping.waited), "log": log,
                    "scheduler": run.scheduler.state_dict(), "config": run.config.to_dict(),
                    "best_state": best.state, "best_epoch": best.best_epoch,
                    "best_probs": best.val_probs, "finished": finished}, tmp)
        tmp.replace(phase_dir / "progress.pt")
        for old in phase_dir.glob("state-*"):
            if old.name != f"state-{epoch}":
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def train_fold(accelerator, p: Params, encoders: dict, pairs: list[Pair], folds: dict[str, int],
               fold: int, state_dir: Path, show_progress: bool, on_epoch=None) -> FoldResult:
    params = p.train
    label_of = {q.guid: q.label for q in pairs}
    by_guid = {q.guid: q for q in pairs}
    val_guids = [g for g, f in folds.items() if f == fold]
    train_guids = [g for g, f in folds.items() if f != fold]
    fold_seed = p.seed * 1000 + fold
    fit_guids, stop_guids = split_for_stopping(train_guids, label_of, params, fold_seed)
    val = [by_guid[g] for g in val_guids]
    chooser = "holdout" if params.early_stopping == "refit" else params.early_stopping
    chosen = fit(accelerator, p, encoders, [by_guid[g] for g in fit_guids], val,
                 [by_guid[g] for g in stop_guids], chooser, params.epochs, fold_seed, fold,
                 _phase(accelerator, state_dir, fold, "choose"), show_progress, on_epoch)
    epochs_run = len(chosen.log)
    if params.early_stopping == "refit":
        refit = fit(accelerator, p, encoders, [by_guid[g] for g in train_guids], val, [], "none",
                    chosen.best_epoch, fold_seed, fold,
                    _phase(accelerator, state_dir, fold, "refit"), show_progress)
        chosen = Fit(refit.state, refit.config, chosen.log, chosen.best_epoch, refit.val_probs)
    result = FoldResult(fold, chosen.state, chosen.config, chosen.log, chosen.best_epoch,
                        epochs_run, val_guids, chosen.val_probs)
    return blend_lexical(result, p.mode, params, lambda guids: [by_guid[g].text for g in guids],
                         train_guids, [LABEL_INDEX[label_of[g]] for g in train_guids])


def _phase(accelerator, state_dir: Path, fold: int, phase: str) -> Path:
    folder = state_dir / f"fold_{fold}_{phase}"
    if accelerator.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    return folder


def prepare_state_dir(accelerator, state_dir: Path, fingerprint: str) -> None:
    """Keep the saved epochs only if they come from the same params, code and data."""
    if accelerator.is_main_process:
        mark = state_dir / "fingerprint"
        if state_dir.exists() and (not mark.is_file() or mark.read_text() != fingerprint):
            shutil.rmtree(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        mark.write_text(fingerprint)
    accelerator.wait_for_everyone()


def train_cross_validated(accelerator, p: Params, encoders: dict, pairs: list[Pair],
                          folds: dict[str, int], state_dir: str | Path,
                          show_progress: bool = True, on_epoch=None) -> list[FoldResult]:
    """One result per fold, from the labelled pairs; `state_dir` holds the resumable state;
    `on_epoch(row)` (the main process's msa.live) sees each epoch's log row."""
    state_dir = Path(state_dir)
    n_folds = max(folds.values()) + 1
    return [train_fold(accelerator, p, encoders, pairs, folds, fold, state_dir, show_progress,
                       on_epoch)
            for fold in tqdm(range(n_folds), desc=f"finetune {p.mode}", unit="fold",
                             disable=not (show_progress and accelerator.is_local_main_process))]


def fingerprint(p: Params, inputs: list[str | Path]) -> str:
    """What a saved run must share with this one to be resumed: the params it reads, the input
    files, and the code."""
    import hashlib
    import json

    from msa import params as params_module

    digest = hashlib.sha256()
    raw = params_module.to_dict(p)
    digest.update(json.dumps({k: raw[k] for k in ("mode", "seed", "precision", "featurize",
                                                  "augment", "train")},
                             sort_keys=True).encode())
    code = sorted(Path(__file__).parent.glob("*.py"))
    for path in [*map(Path, inputs), *code]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
