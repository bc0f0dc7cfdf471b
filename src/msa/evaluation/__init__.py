"""The evaluate, plot and predict steps: the train stage's records, the metrics and the paired
statistics that compare them, the figures, the fold ensemble's predictions."""
