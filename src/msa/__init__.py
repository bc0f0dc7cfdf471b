"""msa: reproducible multimodal (image + text) sentiment classification, driven by DVC."""

LABELS = ("negative", "neutral", "positive")
LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}
