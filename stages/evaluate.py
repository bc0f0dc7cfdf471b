"""Stage evaluate: metrics from the out-of-fold predictions, and confusion data for dvc plots."""

import argparse

from msa import files, params
from msa.evaluation import metrics, records
from msa.errors import stage_errors


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oof", required=True)
    parser.add_argument("--summary", required=True, help="the train stage's training summary")
    parser.add_argument("--metrics", required=True, help="the scores that compare experiments")
    parser.add_argument("--details", required=True,
                        help="per class, per fold, the baseline, what produced them")
    parser.add_argument("--confusion", required=True)
    parser.add_argument("--per-class", required=True)
    args = parser.parse_args()
    p = params.load()
    rows = records.read_oof(args.oof)
    summary = records.read_summary(args.summary)
    y_true = [r["label"] for r in rows]
    y_pred = [r["predicted"] for r in rows]
    result = metrics.summarize(p.mode, y_true, y_pred, [int(r["fold"]) for r in rows],
                               summary["folds"], summary["produced_by"],
                               records.oof_probabilities(rows))
    metrics.write(result, args.metrics, args.details)
    metrics.write_confusion_rows(rows, args.confusion)
    files.write_table([{"class": label, **scores} for label, scores in result["per_class"].items()],
                      args.per_class)
    print(f"evaluate ({p.mode}): accuracy {result['accuracy']['mean']:.4f} "
          f"± {result['accuracy']['std']:.4f}, macro-F1 {result['macro_f1']['mean']:.4f} "
          f"± {result['macro_f1']['std']:.4f}, calibration error "
          f"{result['calibration']['ece']:.4f}; majority baseline "
          f"{result['majority_baseline']['accuracy']:.4f}")


if __name__ == "__main__":
    main()
