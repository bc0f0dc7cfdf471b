"""The typed, validated params object read from params.yaml.

Each param is declared once, below: its type, its default, its range and a one-line help that
says when it applies (`knob`), on pydantic's dataclasses. An unknown key, a wrong type, a value
out of range, or a knob the other settings leave unread (`_DEAD`) fails at load time in one line
that names the dotted key and what is allowed, before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import typing
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, TypeAdapter,
                      ValidationError)
from pydantic.dataclasses import dataclass

from msa import epoch_log, layouts, modes
from msa.errors import MsaError

MODES = modes.NAMES


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


def _not_bool(value):
    if isinstance(value, bool):  # YAML's true is no number here
        raise ValueError("a boolean")
    return value


# The types params are read as: integers as written; numbers also from YAML's strings such as
# 1e-3 (no dot); an empty value is an empty string, or a section at its defaults.
Integer = StrictInt
Flag = StrictBool
Number = Annotated[float, BeforeValidator(_not_bool)]
Text = Annotated[str, BeforeValidator(lambda value: "" if value is None else value)]
_CONFIG = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def section(cls):
    """A nested section of keys, its defaults where params.yaml leaves it empty."""
    return Annotated[cls, BeforeValidator(lambda value: {} if value is None else value)]


def knob(default, help: str, note: str = "", **limits):
    """A param's default, its one-line help (when it applies), and its range: ge, gt, le, lt;
    `note` is said with the range when a value is refused."""
    factory = {"default_factory": default} if callable(default) else {"default": default}
    return Field(**factory, description=help, **limits,
                 json_schema_extra={"note": note} if note else None)


SEED = {"ge": 0, "lt": 2**32}  # numpy's and sklearn's seeds


@dataclass(frozen=True, config=_CONFIG)
class ManifestColumns:
    id: Text = knob("id", "manifest: the column of post ids")
    text: Text = knob("text", "manifest: the text inline; or")
    text_path: Text = knob("text_path", "manifest: a text file, relative to the table's folder")
    image_path: Text = knob("image_path", "manifest: the image, relative to the table's folder")
    label: Text = knob("label", "manifest: the label; empty: a post to predict")
    split: Text = knob("split", "manifest: optional, train | test")


@dataclass(frozen=True, config=_CONFIG)
class DataParams:
    root: Text = knob("data/demo", "the data folder")
    format: Literal[layouts.NAMES] = knob(
        layouts.NAMES[0], "; ".join(f"{name}: {entry.help}"
                                    for name, entry in layouts.LAYOUTS.items()))
    manifest_file: Text = knob("posts.csv", "manifest: the table, inside data.root")
    columns: section(ManifestColumns) = knob(ManifestColumns, "manifest: its column names")
    test_fraction: Number = knob(0.1, "mvsa: a stratified share of the posts held out to "
                                 "predict (the release names none)", gt=0, lt=1)
    test_seed: Integer = knob(0, "mvsa: the seed of that share", **SEED)
    test_list: Text = knob("", "mvsa: or a file in data.root naming them, one id per line")


@dataclass(frozen=True, config=_CONFIG)
class FoldParams:
    n_splits: Integer = knob(5, "folds of StratifiedKFold", ge=2)
    seed: Integer = knob(0, "which pairs share a fold; apart from `seed`, so training seeds "
                         "share folds", **SEED)
    group: Literal["none", "text"] = knob(
        "none", "text: posts with the same text (case, URLs and spacing aside) share a fold, so "
        "no copy is scored by a model trained on another")


@dataclass(frozen=True, config=_CONFIG)
class FeaturizeParams:
    text_model: Text = knob("all-MiniLM-L6-v2", "a packaged alias, a Hugging Face name or a "
                            "local model folder (a CLIP or SigLIP one gives its text tower; "
                            "msa.features.encoders)")
    text_pooling: Literal["mean", "cls"] = knob("mean", "mean over real tokens, or cls")
    text_max_length: Integer = knob(128, "tokens read of a post, at most its encoder's "
                                    "positions", ge=8)
    image_model: Text = knob("efficientnet_lite0", "a packaged alias (efficientnet_lite0/1/2), "
                             "resnet50 or another timm architecture (these need image_weights), "
                             "or a CLIP or SigLIP checkpoint: a Hugging Face name or local folder")
    image_weights: Text = knob("", "resnet50 or a timm architecture: a local state_dict file, "
                               "pretrained (the hub's; msa.features.backbones), or random "
                               "(untrained, tests only)")
    embedding: Literal["projected", "pooled"] = knob(
        "projected", "CLIP and SigLIP towers: the projected embedding (the space the two towers "
        "share) or the pooled state before the projection")
    text_batch_size: Integer = knob(64, "heads: texts a batch featurize encodes", ge=1)
    image_batch_size: Integer = knob(0, "heads: images a batch featurize encodes",
                                     note="0: by precision, 32 in bf16 and 8 in fp32, measured "
                                     "fastest", ge=0)


@dataclass(frozen=True, config=_CONFIG)
class AugmentParams:
    enabled: Flag = knob(True, "the training images augmented: heads draws one of the cached "
                         "views each epoch, finetune a fresh view (msa.features.augment)")
    views: Integer = knob(4, "heads: augmented views featurize caches of each labelled image",
                          ge=1)
    crop_scale_min: Number = knob(0.5, "views: random resized crop, smallest share", gt=0, le=1)
    hflip_p: Number = knob(0.5, "views: horizontal flip, probability", ge=0, le=1)
    blur_p: Number = knob(0.2, "views: blur, probability", ge=0, le=1)
    grid_distortion_p: Number = knob(0.2, "views: grid distortion, probability", ge=0, le=1)
    color_jitter_p: Number = knob(0.5, "views: colour jitter, probability", ge=0, le=1)
    color_jitter_strength: Number = knob(0.2, "views: colour jitter, strength", ge=0, le=1)
    seed: Integer = knob(0, "the augmented views; apart from `seed`, so training seeds share "
                         "features", **SEED)


@dataclass(frozen=True, config=_CONFIG)
class TrainParams:
    epochs: Integer = knob(10, "at most, where early stopping chooses how many", ge=1)
    batch_size: Integer = knob(64, "pairs a batch (finetune: a device)", ge=1)
    lr: Number = knob(1e-3, "AdamW's rate for the head", gt=0)
    weight_decay: Number = knob(1e-2, "AdamW's weight decay", ge=0)
    warmup_ratio: Number = knob(0.1, "share of the steps warming up before the cosine decay",
                                ge=0, lt=1)
    clip_grad_norm: Number = knob(1.0, "gradient norm clipped to", gt=0)
    patience: Integer = knob(3, "holdout, refit, fold: epochs waited after the best", ge=1)
    early_stopping: Literal["none", "holdout", "refit", "fold"] = knob(
        "refit", "how many epochs a fold's model trains (msa.training.driver): chosen on a "
        "hold-out of the training folds (refit then fits every training pair that long; "
        "holdout keeps the choosing model), on the scored fold (fold), or train.epochs (none)")
    monitor: Literal[epoch_log.SCORES] = knob("val_macro_f1", "holdout, refit, fold: the score "
                                              "that chooses the epoch")
    holdout_fraction: Number = knob(0.1, "holdout, refit: the share held out", gt=0, le=0.5)
    hidden_dim: Integer = knob(128, "the width both modalities are projected to", ge=1)
    image_hidden_dim: Integer = knob(512, "the image MLP's hidden width", ge=1)
    attention_heads: Integer = knob(8, "multimodal: heads of the fusion attention", ge=1)
    attention_dropout: Number = knob(0.1, "multimodal: dropout in the fusion attention", ge=0,
                                     lt=1)
    dropout: Number = knob(0.3, "projections and classifier", ge=0, lt=1)
    class_weight_power: Number = knob(0.0, "loss weights: sklearn's balanced weights to this "
                                      "power", note="1: balanced, 0: unweighted", ge=0, le=1)
    label_smoothing: Number = knob(0.0, "of the cross-entropy", ge=0, lt=1)
    lexical_weight: Number = knob(0.3, "text, multimodal: the share of a TF-IDF logistic "
                                  "regression (msa.training.lexical) in the probabilities",
                                  note="0: the network alone", ge=0, le=1)
    lexical_c: Number = knob(4.0, "the lexical model's inverse regularisation strength", gt=0)
    regime: Literal["heads", "finetune"] = knob(
        "heads", "heads: the head (and tuned text layers) on cached features "
        "(msa.training.heads); finetune: both encoders and the head end to end from the raw "
        "pairs under Accelerate (msa.training.finetune)")
    text_tuning: Literal["auto", "frozen", "top", "lora", "full"] = knob(
        "auto", "the text encoder frozen, its top train.text_top_layers layers tuned (heads: on "
        "their cached input states), adapted by LoRA (PEFT) or trained in full (finetune; "
        "msa.training.tuning)", note="auto: frozen under heads, full under finetune")
    text_top_layers: Integer = knob(2, "top: the text encoder's layers tuned", ge=1)
    image_tuning: Literal["frozen", "lora", "full"] = knob(
        "full", "finetune: the image encoder frozen, adapted by LoRA or trained in full")
    text_encoder_lr: Number = knob(2e-5, "the text encoder's rate where it trains (top, lora, "
                                   "full)", gt=0)
    image_encoder_lr: Number = knob(2e-5, "finetune: the image encoder's rate (lora, full)",
                                    gt=0)
    lora_rank: Integer = knob(8, "lora: the adapters' rank", ge=1)
    lora_alpha: Number = knob(16.0, "lora: the adapters' scale numerator (scale alpha / rank)",
                              gt=0)
    lora_dropout: Number = knob(0.05, "lora: dropout on the adapters' input", ge=0, lt=1)
    text_lora_targets: Text = knob("", "lora: the text encoder's modules adapted, comma-"
                                   "separated name endings", note="empty: its query and value "
                                   "projections")
    image_lora_targets: Text = knob("", "lora: the image encoder's modules adapted",
                                    note="empty: its attention's query and value, or a CNN's "
                                    "convolutions")
    gradient_accumulation_steps: Integer = knob(1, "finetune: batches an optimizer step", ge=1)
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = knob(
        "auto", "finetune: auto is `precision`'s choice on a CPU, bf16 (fp16 where bf16 is not "
        "supported) on a GPU")
    num_workers: Integer = knob(1, "finetune: DataLoader processes decoding and augmenting the "
                                "images (1 measured fastest on 2 CPU cores)",
                                note="0: in the training process", ge=0)

    def __post_init__(self):
        if self.hidden_dim % self.attention_heads:
            raise ParamsError(f"train.attention_heads: {self.attention_heads!r} is not allowed; "
                              "use an integer >= 1 that divides train.hidden_dim")
        if self.regime == "heads" and self.text_tuning in ("lora", "full"):
            raise ParamsError(f"train.text_tuning: {self.text_tuning} is not run under "
                              "train.regime heads, which tunes the top layers on their cached "
                              "input states (top) or none (frozen); set train.regime to "
                              "finetune")

    @property
    def text_tuned(self) -> str:
        """How the text encoder trains, `auto` resolved by the regime."""
        if self.text_tuning != "auto":
            return self.text_tuning
        return "frozen" if self.regime == "heads" else "full"

    @property
    def cached_text_layers(self) -> int:
        """The top text layers whose input states featurize caches for train (heads, top)."""
        return self.text_top_layers if self.regime == "heads" and self.text_tuned == "top" else 0

    @property
    def holdout_chooses(self) -> bool:
        """The epoch is chosen on a hold-out of the training folds (and the rule's knobs apply)."""
        return self.early_stopping in ("holdout", "refit")

    @property
    def refits(self) -> bool:
        """A fresh model fits every training pair for the epochs the hold-out chose."""
        return self.early_stopping == "refit"


@dataclass(frozen=True, config=_CONFIG)
class Params:
    mode: Literal[modes.NAMES] = knob("multimodal", "the modalities trained on")
    # train derives each fold's seed as seed * 1000 + fold, which numpy and sklearn need < 2**32
    seed: Integer = knob(0, "training: initialisation, batch order, the view drawn, the "
                         "hold-out", ge=0, lt=10**6)
    precision: Literal["auto", "bf16", "fp32"] = knob(
        "auto", "where the encoders autocast (featurize; the tuned text layers in train and "
        "predict): auto is bf16 where the CPU runs it natively, else fp32 (msa.precision)")
    device: Literal["auto", "cpu", "gpu"] = knob(
        "auto", "where the networks run (featurize, train, predict): auto is Accelerate's "
        "choice, a GPU where torch sees one; cpu to match a CPU's figures (msa.device)")
    launch: Text = knob(
        "cpu", "the processes featurize, predict and train under finetune run on, "
        "configs/accelerate/<launch>.yaml: featurize and predict share the posts among them, "
        "finetune each batch (msa.launch); heads train in one", pattern=r"^[A-Za-z0-9_-]+$")
    data: section(DataParams) = knob(DataParams, "the posts")
    fold: section(FoldParams) = knob(FoldParams, "the folds")
    featurize: section(FeaturizeParams) = knob(FeaturizeParams, "the encoders")
    augment: section(AugmentParams) = knob(AugmentParams, "the training images' views")
    train: section(TrainParams) = knob(TrainParams, "the training")

    def __post_init__(self):
        _refuse_dead_knobs(self)


_AUGMENT_KNOBS = ("crop_scale_min", "hflip_p", "blur_p", "grid_distortion_p", "color_jitter_p",
                  "color_jitter_strength", "seed")

# (dotted key, what makes it dead or None, what to do) for knobs that other settings leave
# unread: a non-default value there would make an experiment that differs from the baseline in
# name only. Knobs that only `mode` leaves unread (the text tuning or the lexical model under
# image) are not refused, so that a modality ablation can run every mode on one set of params.
def _layout_knobs():
    """(dotted key, the layouts that read it) of every data.* key only some layouts read, a
    section's keys one by one (msa.layouts)."""
    for key in dict.fromkeys(k for entry in layouts.LAYOUTS.values() for k in entry.keys):
        readers = [name for name, entry in layouts.LAYOUTS.items() if key in entry.keys]
        kind = DataParams.__pydantic_fields__[key].annotation
        for name in ([f"{key}.{f.name}" for f in dataclasses.fields(kind)]
                     if dataclasses.is_dataclass(kind) else [key]):
            yield f"data.{name}", readers


def _tuning_words(p, side: str) -> str:
    """`train.<side>_tuning is X`, with what auto resolves to under the regime."""
    value = getattr(p.train, f"{side}_tuning")
    resolved = p.train.text_tuned if side == "text" else value
    return f"train.{side}_tuning is {value}" + (
        f" ({resolved} under train.regime {p.train.regime})" if value != resolved else "")


_DEAD = [
    *[(key, lambda p, readers=readers: (f"data.format is {p.data.format}"
                                        if p.data.format not in readers else None),
       f"set data.format to {' or '.join(readers)}, or leave the key at its default")
      for key, readers in _layout_knobs()],
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
    ("train.text_top_layers",
     lambda p: _tuning_words(p, "text") if p.train.text_tuned != "top" else None,
     "set train.text_tuning to top, or leave the key at its default"),
    # Under finetune featurize encodes nothing (train reads the raw pairs).
    *[(f"featurize.{key}",
       lambda p: "train.regime is finetune" if p.train.regime == "finetune" else None,
       "set train.regime to heads, or leave the key at its default")
      for key in ("text_batch_size", "image_batch_size")],
    ("augment.views",
     lambda p: ("augment.enabled is false" if not p.augment.enabled
                else "train.regime is finetune" if p.train.regime == "finetune" else None),
     "the heads regime with augment.enabled caches views; or leave the key at its default"),
    *[(f"train.{key}",
       lambda p: "train.regime is heads" if p.train.regime == "heads" else None,
       "set train.regime to finetune, or leave the key at its default")
      for key in ("image_tuning", "image_encoder_lr", "gradient_accumulation_steps",
                  "mixed_precision", "num_workers")],
    ("train.text_encoder_lr",
     lambda p: _tuning_words(p, "text") if p.train.text_tuned == "frozen" else None,
     "tune the text encoder (top; under finetune also lora or full), or leave the key at its "
     "default"),
    ("train.image_encoder_lr",
     lambda p: "train.image_tuning is frozen" if p.train.image_tuning == "frozen" else None,
     "tune the image encoder (lora or full), or leave the key at its default"),
    *[(f"train.{key}",
       lambda p: ("no encoder is tuned by lora" if "lora" not in (p.train.text_tuning,
                                                                  p.train.image_tuning)
                  else None),
       "set train.text_tuning or train.image_tuning to lora, or leave the key at its default")
      for key in ("lora_rank", "lora_alpha", "lora_dropout")],
    *[(f"train.{side}_lora_targets",
       lambda p, side=side: (_tuning_words(p, side)
                             if getattr(p.train, f"{side}_tuning") != "lora" else None),
       f"set train.{side}_tuning to lora, or leave the key at its default")
      for side in ("text", "image")],
    ("train.lexical_c",
     lambda p: "train.lexical_weight is 0" if p.train.lexical_weight == 0 else None,
     "give the lexical model a weight, or leave the key at its default"),
    *[(f"augment.{key}", lambda p: "augment.enabled is false" if not p.augment.enabled else None,
       "set augment.enabled to true, or leave the key at its default") for key in _AUGMENT_KNOBS],
]


def _section(key: tuple) -> type:
    """The params class that holds the key at this location."""
    cls = Params
    for name in key[:-1]:
        cls = cls.__pydantic_fields__[name].annotation
    return cls


def _number(value) -> str:
    """A bound as people write it: 0.5, 2**32, 10**6."""
    for base in (2, 10):
        power = round(math.log(value, base)) if value > 1 else 0
        if value >= 2**16 and base**power == value:
            return f"{base}**{power}"
    return f"{value:g}"


def _allowed(field) -> str:
    """What a field's range allows, in words: 'an integer >= 1', 'a number in (0, 1]'."""
    kind = "an integer" if field.annotation is int else "a number"
    limits = {bound: getattr(m, bound) for m in field.metadata
              for bound in ("ge", "gt", "le", "lt") if hasattr(m, bound)}
    low = [f"[{_number(limits['ge'])}" if "ge" in limits else
           f"({_number(limits['gt'])}" if "gt" in limits else None][0]
    high = [f"{_number(limits['le'])}]" if "le" in limits else
            f"{_number(limits['lt'])})" if "lt" in limits else None][0]
    if low and high:
        words = f"{kind} in {low}, {high}"
    else:
        bound = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        words = " and ".join(f"{kind} {bound[k]} {_number(v)}" for k, v in limits.items())
    note = (field.json_schema_extra or {}).get("note")
    return f"{words} ({note})" if note else words


# Keys an earlier version read, and where they went.
_MOVED = {"train.launch": "set the top-level launch instead, which featurize and predict now "
                          "run on too",
          "train.encoder_lr": "set train.text_encoder_lr and train.image_encoder_lr, a rate "
                              "each",
          "featurize.text_tuned_layers": "set train.text_tuning: top and train.text_top_layers "
                                         "N, which tune the top N text layers in both regimes",
          "train.text_lr": "set train.text_encoder_lr, the text encoder's rate in both regimes "
                           "(the heads regime's top layers ran at 0.0001 by default before)"}


def _one_line(error: ValidationError) -> ParamsError:
    """The first error pydantic found, as one line naming the dotted key."""
    first = error.errors()[0]
    loc, value, kind = first["loc"], first.get("input"), first["type"]
    key = ".".join(str(part) for part in loc)
    if kind in ("unexpected_keyword_argument", "extra_forbidden") and key in _MOVED:
        return ParamsError(f"{key}: moved; {_MOVED[key]}")
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        known = list(_section(loc).__pydantic_fields__)
        nearest = difflib.get_close_matches(str(loc[-1]), known, n=2, cutoff=0.6)
        prefix = "".join(f"{part}." for part in loc[:-1])
        guess = (f"did you mean {' or '.join(prefix + n for n in nearest)}? "
                 if nearest else "")
        return ParamsError(f"{key}: unknown key; {guess}the keys here are {', '.join(known)}")
    if kind in ("dataclass_type", "dataclass_args_type", "model_type"):
        return ParamsError(f"{key}: expected a section of keys, got {value!r}")
    field = _section(loc).__pydantic_fields__[loc[-1]] if loc else None
    if kind == "literal_error":
        allowed = typing.get_args(field.annotation)
        return ParamsError(f"{key}: {value!r} is not allowed; use one of {', '.join(allowed)}")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return ParamsError(f"{key}: {value!r} is not allowed; use {_allowed(field)}")
    if kind == "string_pattern_mismatch":
        return ParamsError(f"{key}: {value!r} is not allowed; use the name of a file in "
                           "configs/accelerate/, without .yaml")
    expected = {"int": "an integer", "float": "a number", "string": "a string",
                "value": "a number", "bool": "true or false"}.get(kind.split("_")[0], kind)
    return ParamsError(f"{key}: expected {expected}, got {value!r}")


def describe(cls=Params, prefix: str = "") -> list[tuple[str, object, str]]:
    """(dotted key, default, help with its choices or range) of every param, in file order."""
    rows = []
    for name, field in cls.__pydantic_fields__.items():
        key, default = prefix + name, field.get_default(call_default_factory=True)
        if dataclasses.is_dataclass(field.annotation):
            rows += describe(field.annotation, key + ".")
            continue
        if typing.get_origin(field.annotation) is Literal:
            allowed = " | ".join(typing.get_args(field.annotation))
        else:
            allowed = _allowed(field) if any(hasattr(m, b) for m in field.metadata
                                             for b in ("ge", "gt", "le", "lt")) else ""
        rows.append((key, default, field.description + (f" [{allowed}]" if allowed else "")))
    return rows


def _value(params, key: str):
    return functools.reduce(getattr, key.split("."), params)


def _default(key: str):
    name = key.rsplit(".", 1)[-1]
    return _section(tuple(key.split("."))).__pydantic_fields__[name].get_default(
        call_default_factory=True)


def _refuse_dead_knobs(params: Params) -> None:
    """The validator of the rules in _DEAD: a knob set away from its default where it is never
    read is refused, naming both keys."""
    for key, dead_because, remedy in _DEAD:
        value = _value(params, key)
        reason = dead_because(params)
        if reason and value != _default(key):
            raise ParamsError(f"{key}: {value!r} is never read while {reason}; {remedy}")


_PARAMS = TypeAdapter(Params)


def from_dict(raw: dict) -> Params:
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml must be a mapping of keys")
    try:
        return _PARAMS.validate_python(raw)
    except ValidationError as error:
        raise _one_line(error) from None


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
