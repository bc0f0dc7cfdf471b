"""The sections of a report that lead with settings: each setting's scores over its seeds; each
against the baseline, over seeds paired by seed and post by post, with one verdict per score;
the stability of each post; and the posts behind each difference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msa.evaluation import paired
from msa.evaluation.metrics import HEADLINE
from msa.experiments import stability
from msa.experiments.settings import Setting
from msa.experiments.stability import SeedPredictions


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(row) + " |" for row in rows])


@dataclass(frozen=True)
class Score:
    """One headline score of a setting against the baseline."""

    seeds: tuple[int, paired.Interval] | None  # seeds shared, over them paired by seed
    posts: paired.Interval  # the pooled score averaged over each side's seeds, over posts
    verdict: paired.Verdict


@dataclass(frozen=True)
class Comparison:
    setting: Setting
    seeds_shared: int
    scores: dict[str, Score]
    fixes: np.ndarray  # indices of the posts it fixes, the surest first
    breaks: np.ndarray


def compare(base: Setting, other: Setting, base_p: SeedPredictions, other_p: SeedPredictions,
            resamples: int = paired.RESAMPLES) -> Comparison:
    """`other` against `base`; they must be on the same pairs and folds."""
    scores = {}
    for name, headline in HEADLINE.items():
        seeds = paired.over_seeds(base.by_seed(name), other.by_seed(name))
        posts = paired.over_posts(base_p.y, list(base_p.predicted), list(other_p.predicted),
                                  headline.score, resamples=resamples)
        scores[name] = Score(seeds, posts, paired.verdict(seeds and seeds[1], posts))
    shared = len(set(base.seeds) & set(other.seeds))
    return Comparison(other, shared, scores, *stability.fixes_and_breaks(base_p, other_p))


def _over_seeds(setting: Setting, metric: str) -> str:
    spread = setting.mean_std(metric)
    if spread is None:
        return "-"
    mean, std = spread
    return f"{mean:.4f}" + (f" ± {std:.4f}" if std is not None else "")


def settings_table(settings: list[Setting], param_columns: list[str],
                   comparisons: dict[str, Comparison], base: Setting) -> list[str]:
    """One row per setting: the params that differ, its seeds, each headline score's mean ± std
    over seeds, and the posts it fixes and breaks against the baseline."""
    columns = [k for k in param_columns if k not in ("mode", "seed")]
    header = (["setting", *columns, "mode", "seeds"]
              + [f"{h.title} (mean ± std over seeds)" for h in HEADLINE.values()]
              + [f"posts fixed / broken against {base.name}"])
    rows = []
    for s in settings:
        c = comparisons.get(s.name)
        rows.append([s.name, *(str(s.params.get(k, "")) for k in columns),
                     str(s.runs[0].metrics.get("mode", "-")),
                     " ".join("-" if seed is None else str(seed) for seed in s.seeds),
                     *(_over_seeds(s, m) for m in HEADLINE),
                     "baseline" if s is base else f"{len(c.fixes)} / {len(c.breaks)}" if c
                     else "not paired"])
    return ["Each run's score is its fold mean (metrics.json); a setting's is the mean ± std "
            "(n-1) of those over its seeds.\n", *markdown_table(header, rows)]


def _interval(interval: paired.Interval) -> str:
    return f"{interval.difference:+.4f} [{interval.low:+.4f}, {interval.high:+.4f}]"


def _difference(score: Score) -> float:
    """The difference a reading says: over seeds, else (one seed) post by post."""
    return score.seeds[1].difference if score.seeds else score.posts.difference


def _points(value: float) -> str:
    return f"{round(value * 100, 1) + 0.0:+.1f} points"  # + 0.0: no "-0.0"


def against(base: Setting, comparisons: list[Comparison],
            unpaired: list[tuple[Setting, str]], resamples: int) -> list[str]:
    """Each setting against the baseline, per headline score: the difference over seeds paired
    by seed (95% t interval), post by post (95% bootstrap interval), and the verdict."""
    lines = [f"\n## Against {base.name}, over seeds\n"]
    if not comparisons:
        lines.append(f"No setting is on the same labelled pairs and folds as {base.name}, so "
                     "none is compared with it.")
    else:
        lines += [
            "Over seeds: the difference of each run's fold mean from the baseline's at the same "
            "seed, averaged, with a 95% t interval over the seeds both ran. Post by post: the "
            "pooled out-of-fold score averaged over each side's seeds, with a paired bootstrap "
            f"95% interval ({resamples:,} resamples of the posts, each with every run's "
            "prediction of it). A difference is beyond seed noise where both intervals exclude "
            "0 on the same side; one seed leaves the spread unknown. Not corrected for the "
            f"{len(comparisons) * len(HEADLINE)} intervals of each kind this report shows.\n",
            *markdown_table(["setting", "score", "seeds shared", "Δ over seeds [95% CI]",
                     "Δ post by post [95% CI]", "verdict"],
                    [[c.setting.name, HEADLINE[name].title, str(c.seeds_shared),
                      _interval(score.seeds[1]) if score.seeds else "-",
                      _interval(score.posts), score.verdict.reading]
                     for c in comparisons for name, score in c.scores.items()]), ""]
        for c in comparisons:
            readings: dict[str, list[str]] = {}  # the scores one reading holds for, together
            for name, score in c.scores.items():
                readings.setdefault(score.verdict.reading, []).append(
                    f"{HEADLINE[name].title} {_points(_difference(score))}")
            lines.append(f"- {c.setting.name} against {base.name}: " + "; ".join(
                f"{', '.join(scores)}: {reading}" for reading, scores in readings.items()) + ".")
    lines += [f"\nNot paired with {base.name}, so not compared: {s.name}: {reason}."
              for s, reason in unpaired]
    return lines


def stability_section(rows: list[tuple[str, stability.Stability]], figure: str) -> list[str]:
    lines = ["\n## Each post across the seeds\n",
             "How many labelled posts each setting gets right at every seed, at some, at none, "
             "and its flip rate: the share of posts whose predicted label is not the same at "
             "every seed.\n",
             *markdown_table(["setting", "seeds", "right at every seed", "right at some",
                      "right at none", "flip rate"],
                     [[name, str(s.seeds), str(s.right_every), str(s.right_some),
                       str(s.right_none), f"{s.flip_rate:.1%} ({s.flipped})"]
                      for name, s in rows])]
    if any(s.seeds == 1 for _, s in rows):
        lines.append("\nA setting with one seed has no spread: its posts are right or not, "
                     "and none flips.")
    return lines + [f"\n![each post across the seeds]({figure})"]


def posts_section(base: Setting, comparisons: list[Comparison], table_file: str,
                  galleries: dict[str, str]) -> list[str]:
    if not comparisons:
        return []
    lines = ["\n## The posts behind each difference\n",
             f"A setting fixes a post that is wrong in most of {base.name}'s seeds and right in "
             "most of its own, and breaks one the other way round. Every such post, with each "
             f"side's label at each seed and mean probability of the true label: "
             f"[{table_file}]({table_file}).\n",
             *markdown_table(["setting", "fixes", "breaks", "net"],
                     [[c.setting.name, str(len(c.fixes)), str(len(c.breaks)),
                       f"{len(c.fixes) - len(c.breaks):+d}"] for c in comparisons])]
    lines += [f"\n![{name} against {base.name}: the posts it fixes and breaks]({figure})"
              for name, figure in galleries.items()]
    return lines
