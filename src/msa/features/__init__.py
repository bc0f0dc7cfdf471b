"""The featurize step: the pretrained encoders (`backbones`), the image views (`augment`), the
extraction (`extract`) and the feature cache on disk (`store`)."""
