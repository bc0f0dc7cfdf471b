"""The `msa` command: demo data, prediction with the workspace's trained models, and experiments
side by side (ablation, sweep, compare)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from msa import layouts
from msa.errors import MsaError, one_line_errors
from msa.experiments.naming import DEFAULT_SEEDS


def _demo_data(args) -> None:
    from msa.data.demo import write_demo_data

    write_demo_data(args.dir, n_labelled=args.labelled, n_test=args.test, seed=args.seed,
                    layout=args.format)
    if not layouts.LAYOUTS[args.format].own_test_split:
        print(f"demo data: {args.labelled + args.test} posts, {args.format} layout, in "
              f"{args.dir} (use -S data.format={args.format})")
    else:
        print(f"demo data: {args.labelled} labelled and {args.test} test pairs, {args.format} "
              f"layout, in {args.dir}")


def _predict(args) -> None:
    from msa import launch, params

    p = params.load(args.params)
    launch.relaunch_if_spread(p.launch)
    from msa import device, parallel, precision
    from msa.data import reading
    from msa.evaluation import predict
    from msa.features import extract

    where = device.resolve(p.device)
    shares = parallel.Shares.of_this_process()
    dtype = precision.resolve(p.precision, where)
    models, summary = predict.load_models(args.models, dtype)
    if shares.is_main:
        print(predict.describe(summary, args.models, predict.revision(args.models)),
              flush=True)
    layout = dataclasses.replace(p.data, format=args.format or p.data.format,
                                 manifest_file=args.manifest_file or p.data.manifest_file)
    # Every post the folder names is predicted, whatever its split, and every skip reported.
    pairs, report = reading.prepare(args.data, layout, predict_list=args.input,
                                    for_prediction=True)
    skipped = {name: item["guids"] for name, item in report["problems"].items()
               if item["skips_pair"] and item["guids"]}
    for name, guids in skipped.items() if shares.is_main else ():
        print(f"warning: skipped {len(guids)} pairs ({name}): {' '.join(guids[:20])}",
              file=sys.stderr)
    if not pairs:
        raise MsaError(f"{args.input or args.data}: no usable pairs to predict")
    # Features, where the models read them, come from the encoders the models were trained
    # on, whatever params say; only the clean view of each image is predicted from.
    encoder_params = summary.encoders.featurize_params(p.featurize)
    clean = dataclasses.replace(p.augment, enabled=False)
    probs = predict.ensemble_proba(
        models, summary, pairs,
        lambda: extract.featurize(pairs, encoder_params, clean, dtype, device=where,
                                  shares=shares, top_layers=summary.encoders.text_tuned_layers),
        where, shares)
    if shares.is_main:
        predict.write_predictions([q.guid for q in pairs], probs, args.output)
        if args.probabilities:
            predict.write_probabilities([q.guid for q in pairs], probs, args.probabilities)
        print(f"predict: {len(pairs)} pairs -> {args.output}"
              + (f", probabilities -> {args.probabilities}" if args.probabilities else "")
              + (f" ({shares.processes} processes)" if shares.processes > 1 else ""))


def _command() -> str:
    """The command line that made a report, as a user would type it again (less any password
    in a storage URL)."""
    import shlex

    from msa.experiments.storage import shown

    words = ["msa", *sys.argv[1:]]
    return shlex.join(shown(word) if before in ("--storage",) else
                      ("--storage=" + shown(word.partition("=")[2])
                       if word.startswith("--storage=") else word)
                      for before, word in zip(["", *words], words))


def _report_set(outcome, out: str, title: str, columns: list[str], baseline: str | None,
                verb: str) -> None:
    """The report of a set that ran: its finished runs by setting, its failed runs named."""
    from msa.experiments import dvc_experiments, report

    if outcome.done:
        chosen = dvc_experiments.select(outcome.done)
        text = report.write_report(chosen, out, title, columns, baseline, failed=outcome.failed,
                                   command=_command(), not_pulled=outcome.not_pulled)
        print(report.for_terminal(text), end="")
        print(f"{verb}: report in {out}.md, figures beside it")
    if outcome.not_pulled:
        print(f"{verb}: finished elsewhere and not pulled here, so left out: "
              f"{', '.join(outcome.not_pulled)} (dvc exp pull origin NAME, then msa compare)",
              file=sys.stderr)
    if outcome.failed:
        raise MsaError(f"{verb}: {len(outcome.failed)} of {len(outcome.runs)} runs failed "
                       f"({', '.join(outcome.failed)}; their output is above); the report "
                       "leaves them out, and running the same command again runs only them")


def _execution(args):
    from msa.experiments.runner import Execution

    return Execution(args.storage, args.workers, args.heartbeat, args.force)


def _ablation(args) -> None:
    from msa.experiments import naming, runner

    outcome = runner.run_ablation(args.set, naming.parse_seeds(args.seeds), how=_execution(args))
    _report_set(outcome, args.out, "Modality ablation", [], args.baseline, "ablation")


def _sweep(args) -> None:
    from msa.experiments import naming, runner

    key, values = runner.parse_sweep(args.spec)
    outcome = runner.run_sweep(key, values, args.set, naming.parse_seeds(args.seeds),
                               how=_execution(args))
    _report_set(outcome, args.out or f"reports/{key}", f"Sweep of {key}", [key], args.baseline,
                "sweep")


def _search(args) -> None:
    from msa.experiments import naming, report, search, search_report

    study, space = search.run_search(args.space, args.trials, args.metric, args.set,
                                     naming.parse_seeds(args.seeds), args.prefix,
                                     _execution(args))
    text = search_report.write_search_report(study, space, args.out, args.metric, _command())
    print(report.for_terminal(text), end="")
    print(f"search: report in {args.out}.md, figures beside it")


def _compare(args) -> None:
    from msa.experiments import dvc_experiments, report

    chosen = dvc_experiments.select(args.names, all_commits=args.all_commits)
    columns = dvc_experiments.differing_params(chosen)
    text = report.write_report(chosen, args.out, args.title, columns, args.baseline,
                               command=_command())
    print(report.for_terminal(text), end="")
    print(f"compare: report in {args.out}.md, figures beside it")


def _params(args) -> None:
    from msa import params

    for key, default, help_text in params.describe():
        print(f"{key} = {default!r}\n    {help_text}")


def _worker_arguments(command) -> None:
    """Where a set's study is kept and who runs its trials."""
    from msa.experiments.storage import EMBEDDED, HEARTBEAT_SECONDS

    command.add_argument("--storage", metavar="URL",
                         help="the Optuna storage of the set's study, shared by every machine "
                              "that runs it: postgresql://USER@HOST:PORT/DATABASE (password "
                              f"from PGPASSWORD or ~/.pgpass) (default: {EMBEDDED}, this "
                              "machine's)")
    command.add_argument("--workers", type=int, default=1, metavar="N",
                         help="trials at once here, each worker in a clone of its own "
                              "(default: %(default)s)")
    command.add_argument("--heartbeat", type=int, default=HEARTBEAT_SECONDS, metavar="SECONDS",
                         help="a worker silent for 3 heartbeats is taken for dead and its trial "
                              "run again (default: %(default)s)")


def _report_arguments(command, out: str | None, runs: bool = False,
                      baseline: bool = True) -> None:
    """What every report-writing command takes: where the report goes, its baseline, and, for
    those that run experiments, params for every run."""
    if runs:
        command.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE",
                             help="extra param for every run, as for dvc exp run -S")
        command.add_argument("--seeds", default=str(DEFAULT_SEEDS), metavar="N|S1,S2,...",
                             help="training seeds of every setting: a count (3: seeds 0 1 2) "
                                  "or a list (0,4,7) (default: %(default)s)")
        command.add_argument("--force", action="store_true",
                             help="run again the runs that finished before with the same params")
        _worker_arguments(command)
    command.add_argument("--out", default=out, help="path stem of the .md and .png"
                         + (" (default: reports/KEY)" if out is None else ""))
    if baseline:
        command.add_argument("--baseline", metavar="NAME", help="the setting (or experiment) the "
                             "others are tested against (default: the first)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msa", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo-data", help="write a synthetic dataset in any layout")
    demo.add_argument("dir", help="the folder to write (new, empty, or one msa demo-data wrote)")
    demo.add_argument("--format", default=layouts.NAMES[0], choices=layouts.NAMES,
                      help="the layout, as data.format names it")
    demo.add_argument("--labelled", type=int, default=300,
                      help="labelled posts (default: %(default)s)")
    demo.add_argument("--test", type=int, default=60,
                      help="posts to predict; the MVSA layouts label them too, and "
                           "data.test_fraction chooses (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0,
                      help="the same seed writes the same posts (default: %(default)s)")
    demo.set_defaults(run=_demo_data)

    pred = commands.add_parser("predict", help="predict new posts, in any layout, with the fold "
                                               "models")
    pred.add_argument("--data", required=True, help="the folder of the posts")
    pred.add_argument("--format", choices=layouts.NAMES,
                      help="its layout (default: data.format in the params)")
    pred.add_argument("--manifest-file", help="manifest: the table in the folder (default: "
                                              "data.manifest_file in the params)")
    pred.add_argument("--input", help="lab5: a list file (guid,tag header, then rows) of the "
                                      "posts to predict (default: both lists)")
    pred.add_argument("--output", required=True, help="where to write guid,tag predictions")
    pred.add_argument("--probabilities", metavar="PATH",
                      help="also write each post's class probabilities there (CSV)")
    pred.add_argument("--models", default="models",
                      help="the fold models' folder (default: the workspace's)")
    pred.add_argument("--params", default="params.yaml",
                      help="the params the device, precision and launch come from")
    pred.set_defaults(run=_predict)

    abl = commands.add_parser("ablation", help="text, image and multimodal over training seeds "
                                               "as DVC experiments, then a report by setting")
    _report_arguments(abl, "reports/ablation", runs=True)
    abl.set_defaults(run=_ablation)

    swp = commands.add_parser("sweep", help="one DVC experiment per value of a param and "
                                            "training seed, then a report by setting")
    swp.add_argument("spec", metavar="KEY=VALUES", help="e.g. train.patience=1,2,4,8")
    _report_arguments(swp, None, runs=True)
    swp.set_defaults(run=_sweep)

    src = commands.add_parser("search", help="settings sampled by Optuna's TPE from a space of "
                                             "params, each over training seeds, scored by its "
                                             "cross-validated metric")
    src.add_argument("space", nargs="+", metavar="KEY=RANGE",
                     help="KEY=LOW..HIGH[:log|:int] or KEY=A,B,C (e.g. "
                          "train.lr=0.0001..0.01:log train.patience=2,3,5)")
    src.add_argument("--trials", type=int, default=20, help="settings to try, over every "
                     "worker and machine (default: %(default)s)")
    src.add_argument("--metric", default="macro_f1", help="what ranks them: the mean over "
                     "seeds of the fold mean of accuracy, macro_f1 or weighted_f1 "
                     "(default: %(default)s)")
    src.add_argument("--prefix", default="search", help="the trials' setting names: "
                     "PREFIX-NNN, NNN the trial number (default: %(default)s)")
    _report_arguments(src, "reports/search", runs=True, baseline=False)
    src.set_defaults(run=_search)

    cmp = commands.add_parser("compare", help="experiments or revisions side by side")
    cmp.add_argument("names", nargs="*", help="experiment names or revisions "
                                              "(default: the experiments of the current commit)")
    cmp.add_argument("-A", "--all-commits", action="store_true",
                     help="look for the names in every commit's experiments")
    _report_arguments(cmp, "reports/compare")
    cmp.add_argument("--title", default="Experiments compared", help="the report's title")
    cmp.set_defaults(run=_compare)

    prm = commands.add_parser("params", help="every key of params.yaml: its default, when it "
                                             "applies, and what it allows")
    prm.set_defaults(run=_params)
    return parser


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except BrokenPipeError:
        # The reader (head, less) has all it wanted; Python's flush at exit must not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
