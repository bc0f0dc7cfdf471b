"""Each post across seeds, and the posts one setting fixes or breaks, on predictions made here."""

import numpy as np
import pytest

from msa import LABELS
from msa.errors import MsaError
from msa.experiments import stability
from msa.experiments.stability import SeedPredictions

GOLD = ["negative", "neutral", "positive", "neutral", "positive", "negative"]


def rows(predicted: list[str], guids=None, gold_p: float = 0.7) -> list[dict]:
    """oof rows of the six GOLD posts (listed out of guid order, as files may be)."""
    out = []
    for i, (label, guess) in enumerate(zip(GOLD, predicted)):
        probs = {x: (gold_p if x == label else (1 - gold_p) / 2) for x in LABELS}
        if guess != label:
            probs = {x: 0.6 if x == guess else 0.3 if x == label else 0.1 for x in LABELS}
        out.append({"guid": (guids or [f"p{i}" for i in range(6)])[i], "fold": str(i % 2),
                    "label": label, "predicted": guess,
                    **{f"prob_{x}": str(p) for x, p in probs.items()}})
    return out[::-1]


def seeds(*predictions) -> SeedPredictions:
    return SeedPredictions.from_rows("s", {k: rows(p) for k, p in enumerate(predictions)})


def test_posts_right_at_every_seed_some_none_and_the_flips():
    p = seeds(["negative", "neutral", "positive", "positive", "negative", "neutral"],
              ["negative", "neutral", "negative", "neutral", "negative", "neutral"],
              ["negative", "neutral", "positive", "positive", "negative", "neutral"])
    assert p.guids == tuple(f"p{i}" for i in range(6))  # guid order, whatever the file's
    assert p.right.tolist()[1] == [True, True, False, True, False, False]
    s = stability.stability(p)
    # p0, p1 right at every seed; p2, p3 at some; p4, p5 at none; p2 and p3 flip
    assert (s.right_every, s.right_some, s.right_none, s.flipped) == (2, 2, 2, 2)
    assert s.flip_rate == pytest.approx(2 / 6) and s.seeds == 3 and s.pairs == 6
    one = stability.stability(seeds(GOLD))
    assert (one.right_every, one.right_some, one.right_none, one.flip_rate) == (6, 0, 0, 0)


def test_a_setting_fixes_what_most_of_the_baselines_seeds_get_wrong_and_most_of_its_own_right():
    wrong = [LABELS[(LABELS.index(x) + 1) % 3] for x in GOLD]
    base = seeds(GOLD[:2] + wrong[2:4] + wrong[4:5] + GOLD[5:],
                 GOLD[:2] + wrong[2:4] + GOLD[4:5] + GOLD[5:],
                 GOLD[:2] + GOLD[2:3] + wrong[3:4] + wrong[4:5] + GOLD[5:])
    other = seeds(wrong[:1] + GOLD[1:5] + wrong[5:],
                  wrong[:1] + GOLD[1:5] + wrong[5:],
                  GOLD[:1] + GOLD[1:3] + wrong[3:4] + GOLD[4:5] + GOLD[5:])
    # base right (of 3): p0 3, p1 3, p2 1, p3 0, p4 1, p5 3; other: p0 1, p1 3, p2 3, p3 2,
    # p4 3, p5 1: fixes p2, p3, p4; breaks p0, p5
    fixes, breaks = stability.fixes_and_breaks(base, other)
    assert sorted(base.guids[i] for i in fixes) == ["p2", "p3", "p4"]
    assert sorted(base.guids[i] for i in breaks) == ["p0", "p5"]
    # the surest first: the fixing side's mean probability of the true label
    confidence = other.gold_probability.mean(0)[fixes]
    assert list(confidence) == sorted(confidence, reverse=True)
    rows_ = stability.change_rows("s2", base, other)
    assert [r[:3] for r in rows_][:1] == [["s2", "fixes", base.guids[fixes[0]]]]
    assert [r[1] for r in rows_] == ["fixes"] * 3 + ["breaks"] * 2
    p3 = next(r for r in rows_ if r[2] == "p3")
    assert p3[3:6] == ["neutral", "0:positive 1:positive 2:positive",
                       "0:neutral 1:neutral 2:positive"]
    assert p3[6:] == ["0.3000", f"{(0.7 + 0.7 + 0.3) / 3:.4f}"]
    assert stability.fixes_and_breaks(base, base)[0].size == 0


def test_with_two_seeds_a_tie_is_neither_most_right_nor_most_wrong():
    wrong = [LABELS[(LABELS.index(x) + 1) % 3] for x in GOLD]
    base = seeds(wrong, GOLD)  # every post right at one seed of two
    other = seeds(GOLD, GOLD)
    assert [a.size for a in stability.fixes_and_breaks(base, other)] == [0, 0]
    assert [a.size for a in stability.fixes_and_breaks(seeds(wrong, wrong), other)] == [6, 0]


def test_runs_of_one_setting_on_other_pairs_are_refused_in_one_line():
    with pytest.raises(MsaError, match=r"^s: its runs at seeds 0 and 1 are not on the same "
                                       r"pairs: other pairs"):
        SeedPredictions.from_rows("s", {0: rows(GOLD), 1: rows(GOLD, [f"q{i}" for i in range(6)])})
    assert np.array_equal(seeds(GOLD).y, [0, 1, 2, 1, 2, 0])
