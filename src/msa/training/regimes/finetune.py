"""train.regime finetune: train encodes the raw pairs itself (featurize leaves only a record of
the encoders), tuning the encoders with the head end to end under `accelerate launch`
(msa.training.finetune) and resuming a killed run from its last epoch; a fold model loads onto
the base weights its encoders name and reads the raw pairs to predict, each process its
share."""

from __future__ import annotations

from msa.errors import MsaError
from msa.training.regimes import TrainingRegime, TrainPaths


class Finetune(TrainingRegime):
    name = "finetune"
    launched = True

    def trainer(self, p, paths: TrainPaths):
        from msa.data import prepared
        from msa.features import extract
        from msa.training import finetune

        accelerator = finetune.make_accelerator(p)
        finetune.prepare_state_dir(accelerator, paths.resume,
                                   finetune.fingerprint(p, [paths.manifest, paths.folds]))
        pairs = [q for q in prepared.read(paths.manifest) if q.split == "train"]
        return finetune.Finetune(accelerator, p, extract.encoder_identity(p.featurize), pairs,
                                 paths.resume, self.name)

    def fold_network(self, summary, checkpoint, path, dtype):
        """The encoders built from the base weights they name, tuned as they trained
        (adapters where LoRA), then what trained loaded onto them; `dtype` is not read (the
        models predict in the mixed precision they trained in)."""
        from msa.training import end_to_end, tuning
        from msa.training.checkpoints import FoldModel
        from msa.training.model import ModelConfig

        config, state = ModelConfig(**checkpoint["config"]), checkpoint["state_dict"]
        how = summary.tuning or tuning.Tuning.from_json(None)
        network, reader, spec = end_to_end.build(summary.encoders, config.mode,
                                                 config=config, tuning=how)
        trained = set(tuning.trained_state(network, how))
        missing, unexpected = network.load_state_dict(state, strict=False)
        if unexpected or trained & set(missing):
            raise MsaError(f"{path}: its weights do not fit the encoders models.json names "
                           f"({len(unexpected)} unexpected, {len(trained & set(missing))} "
                           "missing); rerun train")
        return FoldModel(network.eval(), reader=reader, image_spec=spec)

    def probabilities(self, models, summary, pairs, features_of, device, shares):
        from msa.training.end_to_end import pair_proba

        bf16 = summary.mixed_precision == "bf16"
        probs = [pair_proba(model.network, model.reader, model.image_spec, pairs, bf16, device,
                            shares=shares) for model in models]
        return probs if shares.is_main else None


REGIME = Finetune()
