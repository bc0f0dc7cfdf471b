"""Each run against a baseline run, on the same labelled pairs: the section of a comparison
report (msa compare, sweep, ablation) that tests one run against another, below the settings. The
out-of-fold predictions are read at each experiment's revision from DVC (msa.evaluation.records),
never retrained; the statistics are msa.evaluation.paired's.
"""

from __future__ import annotations

from msa.evaluation import paired, records
from msa.evaluation.metrics import HEADLINE
from msa.experiments.over_seeds import markdown_table


def _interval(values: tuple[float, float, float]) -> str:
    diff, low, high = values
    return f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]"


def _reading(name: str, base: str, d, p: float) -> str:
    """A row in plain words: "image: 8.0 points below text in accuracy, beyond noise (Holm p
    0.003)"."""
    points = d.intervals["accuracy"][0] * 100
    where = (f"{abs(points):.1f} points {'above' if points > 0 else 'below'} {base}"
             if round(points, 1) else f"the same as {base}")
    noise = "beyond noise" if p < paired.ALPHA else "within noise"
    return f"{name}: {where} in accuracy, {noise} (Holm p {p:.3g})"


def section(experiments: list, base, resamples: int = paired.RESAMPLES, read=None) -> str:
    """The Markdown section testing the others against `base`, one of `experiments`, each run
    on its own; "" with fewer than two experiments. `read`: the out-of-fold rows of a revision
    (records.read_oof_at)."""
    if len(experiments) < 2:
        return ""
    read = read or records.read_oof_at  # looked up at each call: tests give their own
    base_predictions = paired.Predictions.from_rows(read(base.rev, base.name))
    tested, unpaired = [], []
    for e in experiments:
        if e is base:
            continue
        predictions = paired.Predictions.from_rows(read(e.rev, e.name))
        reason = paired.unpaired_reason(base_predictions, predictions)
        if reason:
            unpaired.append((e, reason))
        else:
            tested.append((e, paired.compare(base_predictions, predictions,
                                             resamples=resamples)))
    adjusted = paired.holm([d.mcnemar_p for _, d in tested])
    header = ["experiment", *(f"Δ {h.title} [95% CI]" for h in HEADLINE.values()),
              "pairs right in the baseline only / in it only", "McNemar p", "Holm p",
              f"accuracy beyond noise (Holm p < {paired.ALPHA})"]
    rows = [[e.name, *(_interval(d.intervals[name]) for name in HEADLINE),
             f"{d.only_base_right} / {d.only_other_right}", f"{d.mcnemar_p:.3g}", f"{p:.3g}",
             "yes" if p < paired.ALPHA else "no"] for (e, d), p in zip(tested, adjusted)]
    lines = [f"\n### Each run against {base.name}, pair by pair\n"]
    if tested:
        lines += [f"{len(tested)} comparison(s) on the same {len(base_predictions.guids)} "
                  "labelled pairs and folds (out-of-fold predictions, read from DVC at each "
                  "revision): paired bootstrap 95% intervals "
                  f"({resamples:,} resamples, seeded) for the difference of every score; "
                  "McNemar's exact test on the pairs one gets right and the other not, Holm's "
                  f"correction over the {len(tested)}.\n",
                  *markdown_table(header, rows), "",
                  *(f"- {_reading(e.name, base.name, d, p)}"
                    for (e, d), p in zip(tested, adjusted))]
    else:
        lines.append(f"No experiment is on the same labelled pairs and folds as {base.name}, "
                     "so none is tested pair by pair.")
    lines += [f"\nNot paired with {base.name}, so not tested: {e.name}: {reason}."
              for e, reason in unpaired]
    return "\n".join(lines) + "\n"
