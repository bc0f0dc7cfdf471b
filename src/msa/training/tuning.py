"""How each encoder trains in the finetune regime (train.text_tuning, train.image_tuning):

    frozen  its weights stay as loaded; it reads in evaluation mode, as a fixed feature
            extractor seeing each epoch's fresh views
    top     (text) its top train.text_top_layers layers train in full, the layers below them
            frozen and in evaluation mode: the heads regime's tuning on cached states, here for
            any encoder with a stack of layers
    lora    low-rank adapters (LoRA, through PEFT) on its attention's query and value
            projections, or a CNN's convolutions (`TARGETS`, or train.*_lora_targets); the base
            weights stay as loaded, and so do its normalisation statistics
    full    every weight trains (the default, as before these knobs)

A fold model keeps only what trained (`trained_state`): the head, the adapters, a fully tuned
encoder; the base weights come back from the checkpoint its encoders name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from msa.errors import MsaError
from msa.params import TrainParams

SIDES = ("text", "image")

# LoRA's default target modules, by the names each family gives its attention's query and
# value projections (or a CNN's convolutions); the first set a model has all of is taken.
TARGETS = (
    ("query", "value"),            # BERT, RoBERTa, XLM-R, ELECTRA, MiniLM; ViT, DeiT, DINOv2,
                                   # Swin, BEiT (transformers)
    ("query_proj", "value_proj"),  # DeBERTa-v2 and -v3
    ("q_lin", "v_lin"),            # DistilBERT
    ("q_proj", "v_proj"),          # CLIP, SigLIP
    ("q", "v"),                    # MPNet
    ("qkv",),                      # timm's vision transformers
    ("pwconv1", "pwconv2"),        # ConvNeXt (transformers): its pointwise (linear) layers
    ("conv_pw", "conv_pwl"),       # EfficientNet and MobileNet (timm, packaged)
    ("conv1", "conv2", "conv3"),   # ResNet (torchvision, timm)
)


@dataclass(frozen=True)
class Lora:
    rank: int
    alpha: float
    dropout: float
    text_targets: str
    image_targets: str


@dataclass(frozen=True)
class Tuning:
    """How each encoder trains: what models.json records (`tuning`), and what rebuilds the same
    network to load a fold model onto."""

    text: str  # frozen | top | lora | full
    image: str  # frozen | lora | full
    lora: Lora
    text_top_layers: int | None = None  # top

    def of_side(self, side: str) -> str:
        return self.text if side == "text" else self.image

    def to_json(self) -> dict:
        return {"text": self.text, "image": self.image,
                **({"text_top_layers": self.text_top_layers} if self.text == "top" else {}),
                "lora": asdict(self.lora)}

    @classmethod
    def from_json(cls, record: dict | None) -> Tuning:
        """A recorded tuning; models trained before the knobs existed (no record) trained both
        encoders in full."""
        record = record or {"text": "full", "image": "full"}
        lora = settings(TrainParams()).lora
        return cls(record["text"], record["image"],
                   Lora(**record["lora"]) if "lora" in record else lora,
                   record.get("text_top_layers"))


def settings(params: TrainParams) -> Tuning:
    """The tuning the params say, `auto` resolved by the regime."""
    return Tuning(params.text_tuned, params.image_tuning,
                  Lora(params.lora_rank, params.lora_alpha, params.lora_dropout,
                       params.text_lora_targets, params.image_lora_targets),
                  params.text_top_layers if params.text_tuned == "top" else None)


def default_targets(module: nn.Module) -> list[str] | None:
    names = {name.rsplit(".", 1)[-1] for name, layer in module.named_modules()
             if isinstance(layer, (nn.Linear, nn.Conv2d))}
    return next((list(targets) for targets in TARGETS if set(targets) <= names), None)


def _adapt(module: nn.Module, side: str, lora: Lora, name: str) -> None:
    from peft import LoraConfig, inject_adapter_in_model

    key = f"train.{side}_lora_targets"
    targets = ([t.strip() for t in getattr(lora, f"{side}_targets").split(",") if t.strip()]
               or default_targets(module))
    if not targets:
        raise MsaError(f"{key}: no default for {name}; name the modules to adapt (the last "
                       "part of their names, comma-separated)")
    config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=targets)
    try:
        inject_adapter_in_model(config, module)  # leaves only the adapters trainable
    except ValueError as exc:  # PEFT's "Target modules {...} not found in the base model"
        raise MsaError(f"{key}: {', '.join(targets)}: {exc.args[0].split('.')[0].lower()} "
                       f"({name})") from None


def layer_stack(module: nn.Module) -> nn.ModuleList | None:
    """An encoder's stack of layers: its ModuleList holding the most parameters (BERT's
    encoder.layer, DistilBERT's transformer.layer, CLIP's and SigLIP's encoder.layers)."""
    stacks = [m for m in module.modules() if isinstance(m, nn.ModuleList) and len(m) > 1]
    return max(stacks, key=lambda m: sum(p.numel() for p in m.parameters()), default=None)


def top_layers(encoder: nn.Module, count: int, name: str) -> list[nn.Module]:
    """The top `count` layers of an encoder's stack, or a one-line error naming the key."""
    stack = layer_stack(encoder)
    if stack is None:
        raise MsaError(f"train.text_tuning: top needs a stack of layers; {name} has none")
    if count > len(stack):
        raise MsaError(f"train.text_top_layers: {count} is not allowed; {name} has "
                       f"{len(stack)} layers")
    return list(stack[-count:])


def apply(text: nn.Module | None, image: nn.Module | None, tuning: Tuning, names: dict) -> None:
    """Freeze, adapt or leave trainable each encoder, as `tuning` (`settings`) says; `names`:
    the encoders' names, for the errors."""
    for side, encoder in zip(SIDES, (text, image)):
        how = tuning.of_side(side)
        if encoder is None or how == "full":
            continue
        if how == "frozen":
            encoder.requires_grad_(False)
        elif how == "top":
            encoder.requires_grad_(False)
            for layer in top_layers(encoder, tuning.text_top_layers, names[side]):
                layer.requires_grad_(True)
        else:
            # a text tower's adapters go in its transformers encoder, an image's in the network
            _adapt(getattr(encoder, "encoder", encoder), side, tuning.lora, names[side])


def set_modes(text: nn.Module | None, image: nn.Module | None, tuning: Tuning) -> None:
    """After train(): a frozen encoder, or the frozen layers below the top ones, read in
    evaluation mode; an adapted one keeps its normalisation statistics (its base is not
    trained)."""
    for side, encoder in zip(SIDES, (text, image)):
        how = tuning.of_side(side)
        if encoder is None or how == "full":
            continue
        if how == "frozen":
            encoder.eval()
        elif how == "top":
            encoder.eval()
            for layer in top_layers(encoder, tuning.text_top_layers, "the text encoder"):
                layer.train()
        else:
            for layer in encoder.modules():
                if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                    layer.eval()


def trained_state(model: nn.Module, tuning: Tuning) -> dict:
    """The part of the network's state that training changed: every entry but the frozen and
    adapted encoders' base weights (their adapters kept, and the tuned top layers)."""
    top = ()
    if tuning.text == "top" and getattr(model, "text_encoder", None) is not None:
        names = {id(m): n for n, m in model.named_modules()}
        top = tuple(names[id(layer)] + "." for layer in top_layers(
            model.text_encoder, tuning.text_top_layers, "the text encoder"))
    kept = {}
    for key, value in model.state_dict().items():
        side = "text" if key.startswith("text_encoder.") else (
            "image" if key.startswith("image_encoder.") else None)
        how = tuning.of_side(side) if side else None
        if side is None or how == "full" or (how == "lora" and "lora_" in key) \
                or (how == "top" and key.startswith(top)):
            kept[key] = value
    return kept
