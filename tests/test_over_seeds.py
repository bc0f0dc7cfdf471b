"""Settings against a baseline over seeds, on predictions made here where the answer is known:
a setting better at every seed, one equal to the baseline, one with a single seed."""

import numpy as np

from msa import LABELS
from msa.experiments import over_seeds
from msa.experiments.dvc_experiments import Experiment
from msa.experiments.settings import Setting
from msa.experiments.stability import SeedPredictions

N = 600


def setting(name, accuracies: dict[int, float], seed_offset=0):
    """A setting whose run at each seed is right on a random share of N posts close to its
    accuracy (the same posts for the same accuracy and seed)."""
    y = np.arange(N) % 3
    runs, rows = [], {}
    for seed, accuracy in accuracies.items():
        rng = np.random.default_rng(seed + seed_offset)
        right = rng.random(N) < accuracy
        predicted = np.where(right, y, (y + 1) % 3)
        score = float(np.mean(right))
        runs.append(Experiment(f"{name}-seed{seed}", f"{name}{seed}", {"seed": seed},
                               {s: {"mean": score} for s in ("accuracy", "macro_f1",
                                                             "weighted_f1")}))
        rows[seed] = [{"guid": f"{i:04d}", "fold": str(i % 5), "label": LABELS[y[i]],
                       "predicted": LABELS[predicted[i]],
                       **{f"prob_{x}": "0.8" if k == predicted[i] else "0.1"
                          for k, x in enumerate(LABELS)}} for i in range(N)]
    return Setting(name, runs), SeedPredictions.from_rows(name, rows)


def test_better_at_every_seed_is_beyond_seed_noise_equal_is_not_one_seed_is_unknown():
    base, base_p = setting("base", {0: 0.60, 1: 0.61, 2: 0.59})
    better, better_p = setting("better", {0: 0.75, 1: 0.76, 2: 0.74}, seed_offset=10)
    equal, equal_p = setting("equal", {0: 0.60, 1: 0.61, 2: 0.59})  # the same runs again
    lone, lone_p = setting("lone", {0: 0.75}, seed_offset=10)

    c = over_seeds.compare(base, better, base_p, better_p, resamples=1000)
    for score in c.scores.values():
        assert score.seeds[0] == 3 and score.seeds[1].low > 0 and score.posts.low > 0
        assert score.verdict.beyond_noise is True
    assert len(c.fixes) > 50 and len(c.breaks) < len(c.fixes)

    c = over_seeds.compare(base, equal, base_p, equal_p, resamples=1000)
    for score in c.scores.values():
        assert score.seeds[1].difference == 0 and score.posts.difference == 0
        assert score.verdict.beyond_noise is False
        assert score.verdict.reading == "no difference: the same scores at every seed"
    assert len(c.fixes) == len(c.breaks) == 0

    c = over_seeds.compare(base, lone, base_p, lone_p, resamples=1000)
    for score in c.scores.values():
        assert score.seeds is None and score.verdict.beyond_noise is None
        assert score.posts.low > 0  # the posts still say it, the seeds cannot

    lines = "\n".join(over_seeds.against(base, [c], [], 1000))
    assert "| lone | accuracy | 1 | - | +0." in lines
    assert "- lone against base: accuracy +1" in lines and "spread unknown: fewer than two seeds in common" in lines
