"""The data step: the data folder (`data_root`), the layouts (one reader each, all through the
row guard of `rows`), reading a folder into the prepared manifest (`reading`, `prepared`), the
folds, and the demo data."""
