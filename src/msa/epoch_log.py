"""The per-epoch log's columns, owned here: the driver's epoch rows (msa.training.driver), the
train log (msa.evaluation.records), DVCLive (msa.training.live), the curves (msa.evaluation.plots,
and dvc.yaml's plots, which a test holds against this) and the scores train.monitor may choose
(msa.params) all take them from this module."""

# The scores of the scored fold every epoch; train.monitor chooses the one that picks the epoch.
SCORES = ("val_loss", "val_accuracy", "val_macro_f1")
LOWER_IS_BETTER = frozenset({"val_loss"})
COUNTERS = ("fold", "epoch")  # integers; every other column is a float
# stop_score: train.monitor where the epoch is chosen (NaN under early_stopping none).
COLUMNS = (*COUNTERS, "train_loss", *SCORES, "stop_score", "lr")
# Drawn as mean and std over the folds still running at each epoch (stop_score too, where logged).
CURVES = ("train_loss", *SCORES, "lr")
TITLES = {"train_loss": "training loss", "val_loss": "validation loss",
          "val_accuracy": "validation accuracy", "val_macro_f1": "validation macro-F1",
          "lr": "learning rate"}


def panels() -> dict[str, tuple[str, ...]]:
    """The learning-curve figure's panels, title -> curves: the losses together, then every
    other curve alone."""
    losses = tuple(name for name in CURVES if name.endswith("_loss"))
    return {"loss": losses, **{TITLES[name]: (name,) for name in CURVES if name not in losses}}
