"""The typed, validated params object read from params.yaml.

Every key is a dataclass field; an unknown key, a wrong type or a value out of range fails at
load time with the key's dotted name and what is allowed, before any work starts.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from msa import epoch_log
from msa.errors import MsaError

MODES = ("text", "image", "multimodal")


class ParamsError(MsaError):
    """A params.yaml key is missing, misspelt, of the wrong type or out of range."""


class _Yaml12Loader(yaml.SafeLoader):
    """Reads booleans as DVC does (YAML 1.2): only true/false. PyYAML alone reads the `no`,
    `off` or `on` that `dvc exp run -S key=no` writes unquoted as a boolean."""


_BOOL = "tag:yaml.org,2002:bool"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


@dataclass(frozen=True)
class ManifestColumns:
    id: str = "id"
    text: str = "text"              # the text inline; or
    text_path: str = "text_path"    # a text file, relative to the manifest's folder
    image_path: str = "image_path"  # relative to the manifest's folder
    label: str = "label"            # empty: a post to predict
    split: str = "split"            # optional: train | test


@dataclass(frozen=True)
class DataParams:
    root: str = "data/demo"
    # lab5 (msa.data.lab5) | mvsa_single | mvsa_multiple (msa.data.mvsa, as released) | manifest:
    # a CSV or JSONL table of posts (msa.data.post_table)
    format: Literal["lab5", "mvsa_single", "mvsa_multiple", "manifest"] = "lab5"
    manifest_file: str = "posts.csv"  # manifest: the table, inside data.root
    columns: ManifestColumns = field(default_factory=ManifestColumns)
    # mvsa: the release names no test posts; a stratified share drawn with test_seed, or a file
    # in data.root listing the ids to predict (one per line)
    test_fraction: float = 0.1
    test_seed: int = 0
    test_list: str = ""


@dataclass(frozen=True)
class FoldParams:
    n_splits: int = 5
    seed: int = 0  # which pairs share a fold; apart from `seed`, so training seeds share folds
    # none: every pair is split alone | text: posts with the same text (case, URLs and spacing
    # aside) share a fold, so no copy is scored by a model trained on another.
    group: Literal["none", "text"] = "none"


@dataclass(frozen=True)
class FeaturizeParams:
    # A packaged alias (all-MiniLM-L6-v2), a Hugging Face name or a local model folder.
    text_model: str = "all-MiniLM-L6-v2"
    text_pooling: Literal["mean", "cls"] = "mean"
    text_max_length: int = 128
    # Top layers of the (BERT-family) text encoder that train fine-tunes; 0 (the default, for a
    # train stage of seconds on any CPU) keeps it frozen. Featurize caches the per-token states
    # entering them, so train never reruns the rest.
    text_tuned_layers: int = 0
    # A packaged alias (efficientnet_lite0/1/2), resnet50 or another timm architecture (these
    # two need image_weights).
    image_model: str = "efficientnet_lite0"
    # Local state_dict file for resnet50 or a timm architecture; "random" builds it untrained
    # (for tests only).
    image_weights: str = ""
    text_batch_size: int = 64
    # 0: by precision, 32 in bf16 and 8 in fp32 (small batches stay in cache; measured faster)
    image_batch_size: int = 0


@dataclass(frozen=True)
class AugmentParams:
    views: int = 4
    crop_scale_min: float = 0.5
    hflip_p: float = 0.5
    blur_p: float = 0.2
    grid_distortion_p: float = 0.2
    color_jitter_p: float = 0.5
    color_jitter_strength: float = 0.2
    seed: int = 0  # the augmented views; apart from `seed`, so training seeds share features


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 10  # at most, where early stopping chooses how many
    batch_size: int = 64
    lr: float = 1e-3
    text_lr: float = 1e-4  # the fine-tuned text layers (featurize.text_tuned_layers > 0)
    weight_decay: float = 1e-2
    warmup_ratio: float = 0.1
    clip_grad_norm: float = 1.0
    patience: int = 3
    monitor: Literal[epoch_log.SCORES] = "val_macro_f1"
    # How many epochs a fold's model trains (msa.training.driver): chosen on a hold-out of the training
    # folds (refit then fits every training pair that long, its schedule spread over them;
    # holdout keeps the choosing model), on the scored fold (fold: the seed design's way,
    # optimistic), or train.epochs (none).
    early_stopping: Literal["none", "holdout", "refit", "fold"] = "refit"
    holdout_fraction: float = 0.1
    hidden_dim: int = 128
    image_hidden_dim: int = 512
    attention_heads: int = 8
    attention_dropout: float = 0.1
    dropout: float = 0.3  # projections and classifier
    # Loss weights are sklearn's "balanced" weights to this power: 1 balanced, 0 unweighted.
    class_weight_power: float = 0.0
    label_smoothing: float = 0.0
    # Text and multimodal modes: the share of a TF-IDF logistic regression over the posts' text
    # in the blended probabilities (msa.training.lexical; 0: the network alone), and its inverse
    # regularisation strength.
    lexical_weight: float = 0.3
    lexical_c: float = 4.0
    # heads: the head (and the tuned text layers) on cached features (msa.training.heads); finetune:
    # both encoders and the head end to end from the raw pairs, the images augmented afresh
    # every epoch, under Hugging Face Accelerate (msa.training.finetune)
    regime: Literal["heads", "finetune"] = "heads"
    encoder_lr: float = 2e-5  # finetune: both encoders (the head trains at train.lr)
    gradient_accumulation_steps: int = 1  # finetune: batches per optimizer step
    # finetune: auto is the `precision` param's choice on a CPU, bf16 (or fp16 where bf16 is
    # not supported) on a GPU
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    launch: str = "cpu"  # finetune: the launch, configs/accelerate/<launch>.yaml
    # finetune: DataLoader processes that decode and augment the images (1 measured fastest on
    # 2 CPU cores; a GPU machine wants more)
    num_workers: int = 1

    @property
    def holdout_chooses(self) -> bool:
        """The epoch is chosen on a hold-out of the training folds (and the rule's knobs apply)."""
        return self.early_stopping in ("holdout", "refit")

    @property
    def refits(self) -> bool:
        """A fresh model fits every training pair for the epochs the hold-out chose."""
        return self.early_stopping == "refit"


@dataclass(frozen=True)
class Params:
    mode: Literal["text", "image", "multimodal"] = "multimodal"
    seed: int = 0  # training: initialisation, batch order, the view drawn, the hold-out
    # Where the encoders autocast (featurize; the tuned text layers in train and predict):
    # auto is bf16 where the CPU runs it natively (AVX-512 BF16, AMX) and fp32 elsewhere,
    # where bf16 is emulated and 7-22x slower (msa.precision).
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    data: DataParams = field(default_factory=DataParams)
    fold: FoldParams = field(default_factory=FoldParams)
    featurize: FeaturizeParams = field(default_factory=FeaturizeParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    train: TrainParams = field(default_factory=TrainParams)


# (dotted key, check, what is allowed) for constraints the types cannot express.
_RANGES = [
    # train derives each fold's seed as seed * 1000 + fold, which numpy and sklearn need < 2**32
    ("seed", lambda p: 0 <= p.seed < 10**6, "an integer in [0, 10**6)"),
    ("data.test_fraction", lambda p: 0 < p.data.test_fraction < 1, "a number in (0, 1)"),
    ("data.test_seed", lambda p: 0 <= p.data.test_seed < 2**32, "an integer in [0, 2**32)"),
    ("fold.n_splits", lambda p: p.fold.n_splits >= 2, "an integer >= 2"),
    ("fold.seed", lambda p: 0 <= p.fold.seed < 2**32, "an integer in [0, 2**32)"),
    ("augment.seed", lambda p: 0 <= p.augment.seed < 2**32, "an integer in [0, 2**32)"),
    ("featurize.text_max_length", lambda p: p.featurize.text_max_length >= 8, "an integer >= 8"),
    ("featurize.text_tuned_layers", lambda p: p.featurize.text_tuned_layers >= 0,
     "an integer >= 0 (0: frozen text encoder)"),
    ("featurize.text_batch_size", lambda p: p.featurize.text_batch_size >= 1, "an integer >= 1"),
    ("featurize.image_batch_size", lambda p: p.featurize.image_batch_size >= 0,
     "an integer >= 0 (0: by precision)"),
    ("augment.views", lambda p: p.augment.views >= 0, "an integer >= 0"),
    ("augment.crop_scale_min", lambda p: 0 < p.augment.crop_scale_min <= 1, "a number in (0, 1]"),
    ("augment.hflip_p", lambda p: 0 <= p.augment.hflip_p <= 1, "a probability in [0, 1]"),
    ("augment.blur_p", lambda p: 0 <= p.augment.blur_p <= 1, "a probability in [0, 1]"),
    ("augment.grid_distortion_p", lambda p: 0 <= p.augment.grid_distortion_p <= 1,
     "a probability in [0, 1]"),
    ("augment.color_jitter_p", lambda p: 0 <= p.augment.color_jitter_p <= 1,
     "a probability in [0, 1]"),
    ("augment.color_jitter_strength", lambda p: 0 <= p.augment.color_jitter_strength <= 1,
     "a number in [0, 1]"),
    ("train.epochs", lambda p: p.train.epochs >= 1, "an integer >= 1"),
    ("train.batch_size", lambda p: p.train.batch_size >= 1, "an integer >= 1"),
    ("train.lr", lambda p: p.train.lr > 0, "a number > 0"),
    ("train.text_lr", lambda p: p.train.text_lr > 0, "a number > 0"),
    ("train.weight_decay", lambda p: p.train.weight_decay >= 0, "a number >= 0"),
    ("train.warmup_ratio", lambda p: 0 <= p.train.warmup_ratio < 1, "a number in [0, 1)"),
    ("train.clip_grad_norm", lambda p: p.train.clip_grad_norm > 0, "a number > 0"),
    ("train.patience", lambda p: p.train.patience >= 1, "an integer >= 1"),
    ("train.holdout_fraction", lambda p: 0 < p.train.holdout_fraction <= 0.5,
     "a number in (0, 0.5]"),
    ("train.hidden_dim", lambda p: p.train.hidden_dim >= 1, "an integer >= 1"),
    ("train.image_hidden_dim", lambda p: p.train.image_hidden_dim >= 1, "an integer >= 1"),
    ("train.attention_heads",
     lambda p: p.train.attention_heads >= 1 and p.train.hidden_dim % p.train.attention_heads == 0,
     "an integer >= 1 that divides train.hidden_dim"),
    ("train.dropout", lambda p: 0 <= p.train.dropout < 1, "a number in [0, 1)"),
    ("train.attention_dropout", lambda p: 0 <= p.train.attention_dropout < 1,
     "a number in [0, 1)"),
    ("train.class_weight_power", lambda p: 0 <= p.train.class_weight_power <= 1,
     "a number in [0, 1] (1: balanced, 0: unweighted)"),
    ("train.label_smoothing", lambda p: 0 <= p.train.label_smoothing < 1, "a number in [0, 1)"),
    ("train.lexical_weight", lambda p: 0 <= p.train.lexical_weight <= 1,
     "a number in [0, 1] (0: the network alone)"),
    ("train.lexical_c", lambda p: p.train.lexical_c > 0, "a number > 0"),
    ("train.encoder_lr", lambda p: p.train.encoder_lr > 0, "a number > 0"),
    ("train.gradient_accumulation_steps", lambda p: p.train.gradient_accumulation_steps >= 1,
     "an integer >= 1"),
    ("train.num_workers", lambda p: p.train.num_workers >= 0, "an integer >= 0 (0: in the "
     "training process)"),
    ("train.launch", lambda p: re.fullmatch(r"[A-Za-z0-9_-]+", p.train.launch) is not None,
     "the name of a file in configs/accelerate/, without .yaml"),
]


_AUGMENT_KNOBS = ("crop_scale_min", "hflip_p", "blur_p", "grid_distortion_p", "color_jitter_p",
                  "color_jitter_strength", "seed")

# (dotted key, what makes it dead or None, what to do) for knobs that other settings leave
# unread: a non-default value there would make an experiment that differs from the baseline in
# name only. Knobs that only `mode` leaves unread (text_lr or the lexical model under image) are
# not refused, so that a modality ablation can run every mode on one set of params.
_DEAD = [
    *[(key, lambda p: (f"data.format is {p.data.format}" if p.data.format != "manifest"
                       else None), "set data.format to manifest, or leave the key at its default")
      for key in ["data.manifest_file", *(f"data.columns.{f.name}"
                                          for f in dataclasses.fields(ManifestColumns))]],
    *[(f"data.{key}", lambda p: (f"data.format is {p.data.format}"
                                 if not p.data.format.startswith("mvsa") else None),
       "the MVSA layouts alone hold out test posts; leave the key at its default")
      for key in ("test_fraction", "test_seed", "test_list")],
    ("data.test_fraction", lambda p: ("data.test_list names the test posts"
                                      if p.data.test_list else None),
     "leave data.test_list empty to draw a share, or leave the key at its default"),
    *[(f"train.{key}",
       lambda p: "train.early_stopping is none" if p.train.early_stopping == "none" else None,
       "set train.early_stopping to holdout (or refit, or fold), or leave the key at its default")
      for key in ("patience", "monitor")],
    ("train.holdout_fraction",
     lambda p: (f"train.early_stopping is {p.train.early_stopping}"
                if not p.train.holdout_chooses else None),
     "set train.early_stopping to holdout or refit, or leave the key at its default"),
    ("featurize.image_weights",
     lambda p: (f"featurize.image_model is {p.featurize.image_model}"
                if p.featurize.image_model.startswith("efficientnet_lite") else None),
     "image_weights is for resnet50 and timm architectures; leave it empty for the packaged "
     "encoders"),
    ("train.text_lr",
     lambda p: ("featurize.text_tuned_layers is 0" if p.featurize.text_tuned_layers == 0
                else "train.regime is finetune" if p.train.regime == "finetune" else None),
     "tune some text layers under train.regime heads (finetune tunes the encoders at "
     "train.encoder_lr), or leave the key at its default"),
    *[(f"train.{key}",
       lambda p: "train.regime is heads" if p.train.regime == "heads" else None,
       "set train.regime to finetune, or leave the key at its default")
      for key in ("encoder_lr", "gradient_accumulation_steps", "mixed_precision", "launch",
                  "num_workers")],
    ("train.lexical_c",
     lambda p: "train.lexical_weight is 0" if p.train.lexical_weight == 0 else None,
     "give the lexical model a weight, or leave the key at its default"),
    *[(f"augment.{key}", lambda p: "augment.views is 0" if p.augment.views == 0 else None,
       "draw some views, or leave the key at its default") for key in _AUGMENT_KNOBS],
]


def _value(params, key: str):
    return functools.reduce(getattr, key.split("."), params)


def _refuse_dead_knobs(params: Params) -> None:
    defaults = Params()
    for key, dead_because, remedy in _DEAD:
        value = _value(params, key)
        reason = dead_because(params)
        if reason and value != _value(defaults, key):
            raise ParamsError(f"{key}: {value!r} is never read while {reason}; {remedy}")


def _convert(value, hint, key: str):
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ParamsError(f"{key}: {value!r} is not allowed; use one of {', '.join(allowed)}")
        return value
    if dataclasses.is_dataclass(hint):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a section of keys, got {value!r}")
        return _build(hint, value, key + ".")
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        # YAML reads 1e-3 (no dot) as a string; accept what float() accepts.
        if isinstance(value, bool):
            raise ParamsError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ParamsError(f"{key}: expected a number, got {value!r}") from None
    if hint is str:
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ParamsError(f"{key}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported param type {hint!r} for {key}")


def _build(cls, raw: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        raise ParamsError(
            f"{prefix}{unknown[0]}: unknown key; the keys here are {', '.join(names)}"
        )
    return cls(**{k: _convert(v, hints[k], prefix + k) for k, v in raw.items()})


def from_dict(raw: dict) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml must be a mapping of keys")
    params = _build(Params, raw)
    for key, ok, allowed in _RANGES:
        if not ok(params):
            raise ParamsError(f"{key}: {_value(params, key)!r} is not allowed; use {allowed}")
    _refuse_dead_knobs(params)
    return params


def load_raw(path: str | Path = "params.yaml") -> dict:
    """The file's keys as DVC reads them, unchecked."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None


def parse_value(text: str):
    """A value as `dvc exp run -S key=text` writes it into params.yaml."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader) if text else ""
    except yaml.YAMLError:
        return text


def load(path: str | Path = "params.yaml") -> Params:
    return from_dict(load_raw(path))


def to_dict(params: Params) -> dict:
    return dataclasses.asdict(params)
