"""Train regime finetune: both encoders and the head trained end to end, one model per fold,
under Hugging Face Accelerate (one CPU process, one GPU, several GPUs or nodes alike).

The folds, the hold-out that chooses the epoch, refit and the lexical blend are the driver's
(`msa.training.driver`), as in the heads regime; the head, AdamW with warm-up + cosine and the
class-weighted loss are what both regimes train with (`msa.training.recipe`). What differs is
the input: raw pairs, the training images augmented afresh every epoch in DataLoader workers.

Distributed rules kept here: every rank evaluates its shard and the probabilities are gathered
with `gather_for_metrics` (which drops the padding duplicates) before any score is computed,
so every rank takes the same early-stopping decision; `save_state` runs on every rank, plain
files are written by the main process only. The scheduler's length is computed after
`prepare()` (the loader shortens per process); the batch size is per device.

Resumable: after each epoch the phase's state (model, optimizer, scheduler, and the driver's
progress) is saved under `state_dir` (`EpochKeeper`); a run started again with the same
fingerprint resumes from the last saved epoch. Each epoch's randomness (dropout, batch order,
views) is seeded from (seed, fold, epoch), so a resumed run ends where an uninterrupted one
does.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

import msa
from msa import LABEL_INDEX, LABELS, device, modes, precision
from msa.data.prepared import Pair
from msa.features.encoders import resolved
from msa.features.identity import EncoderIdentity
from msa.params import Params
from msa.training import end_to_end, kept, recipe, tuning
from msa.training.driver import Phase, Progress, seed_everything
from msa.training.end_to_end import Collate, EpochShuffle, PairImages

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
    """An Accelerator on the device the `device` param resolves to (msa.device)."""
    from accelerate import Accelerator

    on_gpu = device.resolve(p.device).type != "cpu"
    return Accelerator(
        mixed_precision=mixed_precision(p.train.mixed_precision, p.precision, on_gpu),
        gradient_accumulation_steps=p.train.gradient_accumulation_steps, cpu=not on_gpu)


def provenance(accelerator, regime: str) -> precision.Provenance:
    """msa.precision's record of what ran, with the regime and the world size."""
    ran = precision.provenance({"no": "fp32"}.get(accelerator.mixed_precision,
                                                  accelerator.mixed_precision),
                               accelerator.device)
    return ran.replace(regime=regime, world_size=accelerator.num_processes,
                       mixed_precision=accelerator.mixed_precision)


class FinetuneRun:
    """The pieces one fold's phase trains with, prepared by the accelerator."""

    def __init__(self, regime: "Finetune", phase: Phase):
        accelerator, p, params = regime.accelerator, regime.p, regime.params
        self.accelerator, self.params, self.seed = accelerator, params, phase.seed
        self.show_progress = regime.show_progress
        seed_everything(phase.seed, strict=accelerator.device.type == "cpu")
        seed = phase.seed
        fit_pairs = [regime.pairs[g] for g in phase.fit_guids]
        eval_sets = {"val": [regime.pairs[g] for g in phase.val_guids],
                     **({"stop": [regime.pairs[g] for g in phase.stop_guids]}
                        if phase.chooser == "holdout" else {})}
        epochs = phase.epochs
        accelerator.free_memory()  # the previous phase's model, optimizer and loaders
        model, reader, spec = end_to_end.build(regime.encoders, p.mode, params)
        regime.resolved = resolved(regime.encoders, model.text_encoder, model.image_encoder)
        collate = Collate(reader)
        needs_image = modes.reads_image(p.mode)
        workers = params.num_workers if needs_image else 0
        train_set = PairImages(fit_pairs, spec, p.augment if p.augment.enabled else None,
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
        optimizer = recipe.adamw([(list(model.head.parameters()), params.lr),
                                  (model.trained("text"), params.text_encoder_lr),
                                  (model.trained("image"), params.image_encoder_lr)], params)
        self.model, self.optimizer, self.train_loader, *eval_loaders = accelerator.prepare(
            model, optimizer, *loaders)
        self.eval_loaders = dict(zip(eval_sets, eval_loaders))
        self.eval_sizes = {name: len(pairs) for name, pairs in eval_sets.items()}
        # After prepare(): the loader is this process's shard.
        steps_per_epoch = math.ceil(len(self.train_loader) / params.gradient_accumulation_steps)
        self.scheduler = recipe.warmup_cosine(self.optimizer, params, steps_per_epoch, epochs)
        self.score_criterion, self.criterion = recipe.criteria(
            np.array([LABEL_INDEX[q.label] for q in fit_pairs]), params, accelerator.device)

    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def train_epoch(self, epoch: int) -> float:
        accelerator, params, show_progress = self.accelerator, self.params, self.show_progress
        torch.manual_seed(end_to_end.epoch_seed(self.seed, epoch, 1))
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
        """Class probabilities of every pair of an evaluation set ("val", "stop"), gathered
        from all ranks, in the set's order; each pair exactly once."""
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
        """What trained: the head, and the encoders' adapters or all of a fully tuned one."""
        model = self.accelerator.unwrap_model(self.model)
        return {k: v.detach().cpu().clone()
                for k, v in tuning.trained_state(model, model.tuning).items()}


class EpochKeeper:
    """Keeps each epoch of every phase under `state_dir/fold_F_PHASE/`: Accelerate's state of
    the run (model, optimizer, random states) on every rank, then on the main process the
    driver's progress and the scheduler, pointing at it; the older state goes once the new one
    is complete."""

    def __init__(self, accelerator, state_dir: Path):
        self.accelerator, self.state_dir = accelerator, state_dir
        self._made: set[Path] = set()

    def folder(self, phase: Phase) -> Path:
        """The phase's folder, made once (by the main process, every rank waiting for it)."""
        folder = kept.phase_folder(self.state_dir, phase.fold, phase.name)
        if folder not in self._made:
            if self.accelerator.is_main_process:
                folder.mkdir(parents=True, exist_ok=True)
            self.accelerator.wait_for_everyone()
            self._made.add(folder)
        return folder

    def saved(self, phase: Phase) -> Progress | None:
        folder = self.folder(phase)
        if not kept.progress_file(folder).is_file():
            return None
        # Our own file, written by an earlier run of this phase (numpy scores need full pickle).
        saved = torch.load(kept.progress_file(folder), map_location="cpu", weights_only=False)
        if self.accelerator.is_main_process:
            print(f"finetune: fold {phase.fold} resumes after epoch {saved['progress']['epoch']},"
                  f" saved in {folder}", flush=True)
        return Progress.from_state_dict(saved["progress"], {"scheduler": saved["scheduler"]})

    def restore(self, run: FinetuneRun, phase: Phase, progress: Progress) -> None:
        self.accelerator.load_state(str(kept.epoch_folder(self.folder(phase), progress.epoch)))
        run.scheduler.load_state_dict(progress.run_state["scheduler"])

    def save(self, run: FinetuneRun, phase: Phase, progress: Progress) -> None:
        accelerator, folder = self.accelerator, self.folder(phase)
        latest = kept.epoch_folder(folder, progress.epoch)
        accelerator.save_state(str(latest))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            tmp = kept.progress_file(folder).with_suffix(".tmp")
            torch.save({"progress": progress.state_dict(),
                        "scheduler": run.scheduler.state_dict()}, tmp)
            tmp.replace(kept.progress_file(folder))
            for old in folder.glob(kept.epoch_folder(folder, "*").name):
                if old != latest:
                    shutil.rmtree(old)
        accelerator.wait_for_everyone()


class Finetune:
    """The finetune regime over the labelled pairs, on `accelerator`; `state_dir` keeps each
    phase's epochs, so that a killed run resumes."""


    def __init__(self, accelerator, p: Params, encoders: EncoderIdentity, pairs: list[Pair],
                 state_dir: str | Path, regime: str, show_progress: bool = True):
        self.name = regime  # the regime it trains for: its progress bar, its record
        self.accelerator, self.p, self.encoders = accelerator, p, encoders
        self.mode, self.params, self.seed = p.mode, p.train, p.seed
        self.pairs = {q.guid: q for q in pairs}
        self.label_of = {q.guid: q.label for q in pairs}
        self.state_dir, self.show_progress = Path(state_dir), show_progress
        self.keeper = EpochKeeper(accelerator, self.state_dir)
        self.is_main = accelerator.is_main_process
        self.resolved: dict = {}  # the base weights' hub revisions, the tokens read

    def produced_by(self) -> dict:
        return {"train": provenance(self.accelerator, self.name).to_json()}

    def record(self) -> dict:
        """What models.json adds for these fold models: the mixed precision they trained
        under, how each encoder trained, the revisions of the base weights they load onto
        (where the hub gave them) and the tokens the text encoder reads where its positions
        cap the param (msa.features.encoders.resolved)."""
        return {"mixed_precision": self.accelerator.mixed_precision,
                "tuning": tuning.settings(self.params), **self.resolved}

    def close(self) -> None:
        """The finished run needs no saved epochs; every process ends together."""
        if self.is_main:
            shutil.rmtree(self.state_dir)
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()

    def new_run(self, phase: Phase) -> FinetuneRun:
        return FinetuneRun(self, phase)

    def texts_of(self, guids: list[str]) -> list[str]:
        return [self.pairs[g].text for g in guids]


def prepare_state_dir(accelerator, state_dir: str | Path, fingerprint: str) -> None:
    """Keep the saved epochs only if they come from the same params, code and data."""
    state_dir = Path(state_dir)
    if accelerator.is_main_process:
        mark = state_dir / "fingerprint"
        if state_dir.exists() and (not mark.is_file() or mark.read_text() != fingerprint):
            shutil.rmtree(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        mark.write_text(fingerprint)
    accelerator.wait_for_everyone()


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
    code = sorted(Path(msa.__file__).parent.rglob("*.py"))
    for path in [*map(Path, inputs), *code]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
