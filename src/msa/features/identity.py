"""The encoders' identity: what a model trained on their outputs needs to match at prediction
time. It is the `encoders` record of the feature cache's index.json and of models.json, written
and read here; a key a record made before it existed takes the default its param says
(msa.params.FeaturizeParams), and `text_tuned_layers` (the top text layers whose input states
are cached for train.text_tuning top under heads) 0."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from msa.errors import MsaError
from msa.params import FeaturizeParams


@dataclass(frozen=True)
class EncoderIdentity:
    text_model: str
    text_pooling: str
    text_max_length: int
    text_tuned_layers: int
    image_model: str
    image_weights: str
    embedding: str

    @classmethod
    def of(cls, params: FeaturizeParams, top_layers: int = 0) -> EncoderIdentity:
        return cls(**{f.name: getattr(params, f.name) for f in dataclasses.fields(cls)
                      if f.name != "text_tuned_layers"}, text_tuned_layers=top_layers)

    @classmethod
    def from_json(cls, record: dict) -> EncoderIdentity:
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(record, dict) or set(record) - known:
            raise MsaError(f"an encoders record msa cannot read ({sorted(record)}); rerun "
                           "featurize and train")
        return cls.of(FeaturizeParams(), 0).replace(**record)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> EncoderIdentity:
        return dataclasses.replace(self, **changes)

    def featurize_params(self, base: FeaturizeParams) -> FeaturizeParams:
        """`base` with the encoders and how they are read set to these (msa predict featurizes
        new posts with the models' encoders, whatever params say)."""
        return dataclasses.replace(base, **{k: v for k, v in self.to_json().items()
                                            if k != "text_tuned_layers"})

    def differing(self, other: EncoderIdentity) -> list[str]:
        return [f.name for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(other, f.name)]
