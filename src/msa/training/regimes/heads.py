"""train.regime heads: train fits the network's head (msa.training.heads) on the features
featurize cached once (and the states entering the text layers it tunes), in one process, and
prediction runs the heads on the features of the encoders they were trained on."""

from __future__ import annotations

import dataclasses

from msa.training.regimes import TrainingRegime, TrainPaths


class Heads(TrainingRegime):
    name = "heads"

    def trainer(self, p, paths: TrainPaths):
        from msa import device, precision
        from msa.features import store
        from msa.training.heads import Heads as OnFeatures

        where = device.resolve(p.device)
        return OnFeatures(store.load(paths.features), p.mode, p.train, p.seed,
                          precision.resolve(p.precision, where), where)

    def fold_network(self, summary, checkpoint, path, dtype):
        from msa.training.checkpoints import FoldModel
        from msa.training.model import ModelConfig, SentimentClassifier

        config, state = ModelConfig(**checkpoint["config"]), checkpoint["state_dict"]
        if dtype is not None:
            config = dataclasses.replace(config, text_bf16=dtype == "bf16")
        network = SentimentClassifier(config)
        network.load_state_dict(state)
        return FoldModel(network.eval())

    def probabilities(self, models, summary, pairs, features_of, device, shares):
        from msa.training import checkpoints
        from msa.training.model import predict_proba

        features = features_of()
        if not shares.is_main:
            return None
        # The heads run on the main process alone: milliseconds a batch, less than spreading
        # them would cost.
        checkpoints.check_compatible(summary, features)
        rows = features.rows([q.guid for q in pairs])
        return [predict_proba(model.network, features, rows) for model in models]


REGIME = Heads()
