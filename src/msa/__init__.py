"""msa: reproducible multimodal (image + text) sentiment classification, driven by DVC."""

LABELS = ("negative", "neutral", "positive")
LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}

import os as _os

# No hub is reachable here: look only in local folders and the local cache, unless the user
# says otherwise. Set before transformers or huggingface_hub is imported anywhere.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
