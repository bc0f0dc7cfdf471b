import numpy as np
import pytest

from msa.evaluation import plots


def _log(stop_score=lambda fold, epoch: float("nan")):
    rows = []
    for fold, epochs in ((0, 5), (1, 3), (2, 4)):
        for epoch in range(1, epochs + 1):
            rows.append({"fold": fold, "epoch": epoch, "train_loss": 1.0 / epoch + fold,
                         "val_loss": 1.0 + fold, "val_accuracy": 0.5 + 0.1 * fold,
                         "val_macro_f1": 0.4, "stop_score": stop_score(fold, epoch),
                         "lr": 0.001 * epoch})
    return rows


def test_learning_curves_drop_folds_that_stopped_instead_of_padding():
    table = plots.learning_curve_table(_log())
    assert [row["folds_running"] for row in table] == [3, 3, 3, 2, 1]
    assert table[0]["val_loss_mean"] == pytest.approx(2.0)
    assert table[3]["val_loss_mean"] == pytest.approx(np.mean([1.0, 3.0]))
    assert table[4]["val_loss_mean"] == pytest.approx(1.0)
    assert table[4]["val_loss_std"] == 0.0


def test_hold_out_score_is_a_curve_only_where_it_was_logged():
    assert not any(key.startswith("stop_score") for key in plots.learning_curve_table(_log())[0])
    table = plots.learning_curve_table(_log(lambda fold, epoch: 0.6 + 0.1 * fold))
    assert table[0]["stop_score_mean"] == pytest.approx(0.7)
    assert table[4]["stop_score_mean"] == pytest.approx(0.6)



def test_stopping_curve_file_has_its_header_always_and_rows_where_a_score_chose(tmp_path):
    plots.write_stopping_curve(plots.learning_curve_table(_log()), tmp_path / "none.csv")
    assert (tmp_path / "none.csv").read_text().splitlines() == [
        "epoch,stop_score_mean,stop_score_std"]
    table = plots.learning_curve_table(_log(lambda fold, epoch: 0.6 + 0.1 * fold))
    plots.write_stopping_curve(table, tmp_path / "holdout.csv")
    lines = (tmp_path / "holdout.csv").read_text().splitlines()
    assert lines[0] == "epoch,stop_score_mean,stop_score_std"
    assert lines[1].startswith("1,0.7,0.0816") and lines[5] == "5,0.6,0"
    assert len(lines) == 6

@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy", "val_macro_f1"])
def test_hold_out_curve_is_drawn_in_its_monitor_panel(tmp_path, monitor):
    table = plots.learning_curve_table(_log(lambda fold, epoch: 0.5))
    for name, holdout_monitor in (("without.png", None), ("with.png", monitor)):
        plots.plot_learning_curves(table, {0: 2, 1: 1, 2: 3}, {0: 5, 1: 3, 2: 4},
                                   tmp_path / name, holdout_monitor=holdout_monitor)
    assert (tmp_path / "with.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "with.png").read_bytes() != (tmp_path / "without.png").read_bytes()


def test_figures_are_written(tmp_path):
    table = plots.learning_curve_table(_log())
    plots.plot_learning_curves(table, {0: 2, 1: 1, 2: 3}, {0: 5, 1: 3, 2: 4},
                               tmp_path / "curves.png")
    plots.plot_confusion(np.array([[3, 1, 0], [0, 2, 1], [1, 0, 5]]), tmp_path / "cm.png")
    per_class = {label: {"precision": 0.5, "recall": 0.4, "f1": 0.45, "support": 3}
                 for label in ("negative", "neutral", "positive")}
    plots.plot_per_class_f1(per_class, tmp_path / "f1.png")
    for name in ("curves.png", "cm.png", "f1.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_figures_panels_follow_the_epoch_log(tmp_path, monkeypatch):
    """A per-epoch score added to msa.epoch_log gets its panel without a change here."""
    from msa import epoch_log

    drawn = {}
    monkeypatch.setattr(plots, "save_figure",
                        lambda fig, path: drawn.update(titles=[a.get_title() for a in fig.axes]))
    table = plots.learning_curve_table(_log())
    plots.plot_learning_curves(table, {0: 2, 1: 1, 2: 3}, {0: 5, 1: 3, 2: 4}, tmp_path / "a.png")
    assert drawn["titles"][:6] == ["loss", "validation accuracy", "validation macro-F1",
                                   "learning rate", "folds still running", "epochs per fold"]
    monkeypatch.setattr(epoch_log, "CURVES", (*epoch_log.CURVES, "val_weighted_f1"))
    monkeypatch.setitem(epoch_log.TITLES, "val_weighted_f1", "validation weighted-F1")
    log = [row | {"val_weighted_f1": 0.3} for row in _log()]
    plots.plot_learning_curves(plots.learning_curve_table(log), {0: 2, 1: 1, 2: 3},
                               {0: 5, 1: 3, 2: 4}, tmp_path / "b.png")
    assert drawn["titles"][:7] == ["loss", "validation accuracy", "validation macro-F1",
                                   "learning rate", "validation weighted-F1",
                                   "folds still running", "epochs per fold"]


def test_every_curve_has_a_title():
    from msa import epoch_log

    assert set(epoch_log.TITLES) >= set(epoch_log.CURVES)


def test_the_epochs_per_fold_legend_covers_no_point(tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.update(fig=fig))
    table = plots.learning_curve_table(_log())
    # the best epochs near the end of each bar, where a legend in a corner would sit
    plots.plot_learning_curves(table, {0: 5, 1: 3, 2: 4}, {0: 5, 1: 3, 2: 4}, tmp_path / "a.png")
    fig = drawn["fig"]
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    ax = next(a for a in fig.axes if a.get_title() == "epochs per fold")
    legend = ax.get_legend().get_window_extent(renderer)
    points = ax.transData.transform(ax.collections[0].get_offsets())
    assert not any(legend.contains(x, y) for x, y in points)
