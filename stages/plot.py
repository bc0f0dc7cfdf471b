"""Stage plot: learning curves over the folds, confusion matrix and per-class scores, and the
posts behind them: the surest mistakes, the probabilities' reliability, the data at a glance."""

import argparse
from pathlib import Path

import numpy as np

from msa import files, params
from msa.data import posts, prepared
from msa.evaluation import inspection, metrics, plots, records
from msa.errors import stage_errors


@stage_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", required=True)
    parser.add_argument("--oof", required=True)
    parser.add_argument("--summary", required=True, help="the train stage's training summary")
    parser.add_argument("--metrics", required=True, help="the evaluate stage's scores")
    parser.add_argument("--details", required=True, help="the evaluate stage's details")
    parser.add_argument("--curves", required=True, help="learning-curve table for dvc plots")
    parser.add_argument("--stopping", required=True,
                        help="the score that chose the epoch, per epoch, for dvc plots")
    parser.add_argument("--manifest", required=True, help="the prepared posts")
    parser.add_argument("--data-report", required=True, help="the prepare stage's report")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    args = parser.parse_args()
    stopping = params.load().train
    log = records.read_train_log(args.log)
    summary = records.read_summary(args.summary)
    result = metrics.read(args.metrics, args.details)
    rows = records.read_oof(args.oof)
    mode = summary["mode"]
    table = plots.learning_curve_table(log)
    files.write_table(table, args.curves)
    plots.write_stopping_curve(table, args.stopping)
    folds = summary["folds"]
    out = Path(args.out)
    plots.plot_learning_curves(
        table, {f: v["best_epoch"] for f, v in folds.items()},
        {f: v["epochs_run"] for f, v in folds.items()}, out / "learning_curves.png",
        title=f"{mode}: learning curves, mean ± std over the folds still running"
              + (" (the run that chose the epoch count; the kept model was refitted)"
                 if stopping.refits else ""),
        holdout_monitor=stopping.monitor if stopping.holdout_chooses else None)
    matrix = metrics.confusion([r["label"] for r in rows], [r["predicted"] for r in rows])
    plots.plot_confusion(np.asarray(matrix), out / "confusion.png",
                         title=f"{mode}: confusion matrix of the out-of-fold predictions")
    plots.plot_per_class_f1(result["per_class"], out / "per_class.png",
                            title=f"{mode}: per-class scores (out-of-fold)")
    pairs = prepared.read(args.manifest)
    probs = records.oof_probabilities(rows)
    inspection.plot_mistakes(rows, probs, {q.guid: q for q in pairs}, out / "mistakes.jpg",
                             title=f"{mode}: the most confident mistakes of each true class "
                                   "(out-of-fold; probability of the predicted class)")
    inspection.plot_reliability([r["label"] for r in rows], probs, out / "calibration.png",
                                title=f"{mode}: reliability of the out-of-fold probabilities\n"
                                      f"(expected calibration error "
                                      f"{result['calibration']['ece']:.3f})")
    inspection.plot_data(pairs, posts.read_report(args.data_report), out / "data.png")


if __name__ == "__main__":
    main()
