"""The modes (the `mode` param): which inputs each reads, said once for every stage and both
training regimes."""

INPUTS = {"text": ("text",), "image": ("image",), "multimodal": ("text", "image")}
NAMES = tuple(INPUTS)


def reads_text(mode: str) -> bool:
    return "text" in INPUTS[mode]


def reads_image(mode: str) -> bool:
    return "image" in INPUTS[mode]


def fuses(mode: str) -> bool:
    """Both modalities, fused by attention."""
    return len(INPUTS[mode]) > 1
