"""The training regimes (msa.training.regimes): each one object the rest of msa asks, never its
name; a new regime is one module and one registry line."""

import ast
import json
import sys
import typing

import numpy as np
import pytest

from conftest import REPO
from msa import LABELS, params
from msa.data import folds, prepared, reading
from msa.errors import MsaError
from msa.evaluation import predict
from msa.training import checkpoints, driver, regimes


def test_a_regimes_name_appears_only_in_params_and_the_registry():
    allowed = {REPO / "src/msa/params.py", *(REPO / "src/msa/training/regimes").glob("*.py")}
    named = []
    for path in [*(REPO / "src").rglob("*.py"), *(REPO / "stages").glob("*.py")]:
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in regimes.REGISTRY:
                named.append(f"{path.relative_to(REPO)}:{node.lineno} {node.value!r}")
    assert not named, named
    # and every name params allows is registered, and the other way round
    allowed_by_params = typing.get_args(typing.get_type_hints(params.TrainParams)["regime"])
    assert set(allowed_by_params) == set(regimes.REGISTRY)


def test_an_unknown_regime_is_one_line():
    with pytest.raises(MsaError, match=r"^train.regime: 'nope' is not a regime msa knows "
                                       r"\(heads, finetune\)$"):
        regimes.of("nope")


# A regime the package does not have: each fold model predicts its training folds' class
# frequencies (a baseline). One module...
PRIOR = '''
from dataclasses import asdict, dataclass

import numpy as np
import torch

from msa import LABEL_INDEX, LABELS
from msa.data import prepared
from msa.features.identity import EncoderIdentity
from msa.training.checkpoints import FoldModel
from msa.training.regimes import TrainingRegime


@dataclass
class PriorConfig:
    mode: str

    def to_dict(self):
        return asdict(self)


class PriorNetwork(torch.nn.Module):
    def __init__(self, prior):
        super().__init__()
        self.register_buffer("prior", prior)


class PriorRun:
    score_criterion = torch.nn.NLLLoss()

    def __init__(self, trainer, phase):
        self.config = PriorConfig(trainer.mode)
        seen = np.bincount([LABEL_INDEX[trainer.label_of[g]] for g in phase.fit_guids],
                           minlength=len(LABELS)) + 1
        self.prior = torch.tensor(seen / seen.sum(), dtype=torch.float32)
        self.sizes = {"val": len(phase.val_guids), "stop": len(phase.stop_guids)}

    def lr(self):
        return 0.0

    def train_epoch(self, epoch):
        return 0.0

    def probabilities(self, which):
        return np.tile(self.prior.numpy(), (self.sizes[which], 1))

    def state(self):
        return {"prior": self.prior.clone()}


class PriorTrainer:
    name, is_main, keeper = "prior", True, None

    def __init__(self, p, pairs):
        self.mode, self.params, self.seed = p.mode, p.train, p.seed
        self.encoders = EncoderIdentity.of(p.featurize)
        self.label_of = {q.guid: q.label for q in pairs}

    def new_run(self, phase):
        return PriorRun(self, phase)

    def texts_of(self, guids):
        raise AssertionError("the lexical model is off")

    def produced_by(self):
        return {}

    def record(self):
        return {}

    def close(self):
        pass


class Prior(TrainingRegime):
    name = "prior"

    def trainer(self, p, paths):
        return PriorTrainer(p, [q for q in prepared.read(paths.manifest) if q.split == "train"])

    def fold_network(self, summary, checkpoint, path, dtype):
        return FoldModel(PriorNetwork(checkpoint["state_dict"]["prior"]))

    def probabilities(self, models, summary, pairs, features_of, device, shares):
        return [np.tile(m.network.prior.numpy(), (len(pairs), 1)) for m in models]


REGIME = Prior()
'''


def test_a_new_regime_is_one_module_and_one_registry_line(demo_root, tmp_path, monkeypatch):
    (tmp_path / "prior_regime.py").write_text(PRIOR)
    monkeypatch.syspath_prepend(str(tmp_path))
    # ...and one line
    monkeypatch.setitem(regimes.REGISTRY, "prior",
                        regimes.Registered("prior_regime", caches_features=False))
    pairs, _ = reading.prepare(demo_root, show_progress=False)
    prepared.write(pairs, tmp_path / "manifest.jsonl")
    labelled = [q for q in pairs if q.split == "train"]
    p = params.from_dict({"fold": {"n_splits": 2}, "train": {"epochs": 2, "lexical_weight": 0}})
    assignment = folds.assign_folds(labelled, 2, 0)

    # what stages/train.py and stages/predict.py do, asking the regime
    regime = regimes.of("prior")
    trainer = regime.trainer(p, regimes.TrainPaths(str(tmp_path / "manifest.jsonl"), "", "",
                                                   ""))
    results = driver.cross_validate(trainer, assignment, show_progress=False)
    checkpoints.save_models(results, p.mode, trainer.encoders, tmp_path / "models", regime.name,
                            trainer.record())
    models, summary = predict.load_models(tmp_path / "models")
    assert summary.regime == "prior"
    assert json.loads((tmp_path / "models/models.json").read_text())["regime"] == "prior"
    assert all(type(m.network).__name__ == "PriorNetwork" for m in models)
    test_pairs = [q for q in pairs if q.split == "test"]
    probs = predict.ensemble_proba(models, summary, test_pairs,
                                   lambda: pytest.fail("the regime reads no features"))
    # the mean of the two folds' training frequencies (add-one), the same for every post
    expected = np.mean([counts / counts.sum() for counts in [
        np.bincount([LABELS.index(q.label) for q in labelled if assignment[q.guid] != fold],
                    minlength=len(LABELS)) + 1 for fold in (0, 1)]], axis=0)
    np.testing.assert_allclose(probs, np.tile(expected, (len(test_pairs), 1)), rtol=1e-6)
    assert "prior_regime" in sys.modules
