"""The evaluate, plot and predict steps, and experiments side by side: the train stage's
records, the metrics, the figures, the fold ensemble's predictions, and `msa compare` / `sweep` /
`ablation`."""
