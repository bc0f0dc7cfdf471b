"""Experiment sets: settings run over training seeds as named DVC experiments (`msa sweep`,
`msa ablation`), read back from DVC and compared setting by setting (`msa compare`): the mean
over seeds, whether each difference is beyond seed noise, and the posts behind it."""
