"""msa: reproducible multimodal (image + text) sentiment classification, driven by DVC."""

LABELS = ("negative", "neutral", "positive")
