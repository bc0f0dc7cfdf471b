"""The layouts a data folder may be in (`data.format`), one line each: the params' choices, the
`msa` command's and the demo data's derive from this table.

A layout is a module of msa.data that defines
    open_layout(name, root, data, for_prediction, predict_list) -> msa.data.rows.Layout
    write_demo(name, root, posts, n_labelled, rng)   its files for `msa demo-data`
    DEMO_FILES                                       the folder of root the demo's posts go in
Adding one is that module and its line here. The modules load when a folder is read, so that
params (which takes its choices from here) loads none of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class LayoutEntry:
    module: str  # of msa.data
    own_test_split: bool  # its files name the posts to predict (else data.test_* choose them)
    keys: tuple[str, ...]  # the data.* keys it alone reads
    help: str


_HOLD_OUT = ("test_fraction", "test_seed", "test_list")

LAYOUTS = {
    "lab5": LayoutEntry("lab5", True, (), "the course layout: train.txt, "
                        "test_without_label.txt and data/ (msa.data.lab5)"),
    "mvsa_single": LayoutEntry("mvsa", False, _HOLD_OUT, "MVSA-Single as released "
                               "(msa.data.mvsa)"),
    "mvsa_multiple": LayoutEntry("mvsa", False, _HOLD_OUT, "MVSA-Multiple as released"),
    "manifest": LayoutEntry("post_table", True, ("manifest_file", "columns"),
                            "a CSV or JSONL table of posts (msa.data.post_table)"),
}
NAMES = tuple(LAYOUTS)


def module(name: str):
    """The layout's module: its reader and its demo writer."""
    return importlib.import_module(f"msa.data.{LAYOUTS[name].module}")
