"""An experiment set as an Optuna study, and each trial as the DVC experiments it ran.

A set's study is named by what it runs: the command (ablation, sweep, search), the commit its
experiments are based on, and a digest of every run's params, so the same command on any clone
of that commit finds the same study, and a changed command makes another. A grid set (ablation,
sweep) enqueues one trial per run (a setting at one seed); a search trial is one sampled setting,
run at every seed. What a trial ran is recorded in its user attributes: the setting, each
experiment's name, revision and headline metrics, and which worker ran it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket

from msa.evaluation.metrics import HEADLINE

# The user attributes of a trial.
SETTING = "setting"
EXPERIMENTS = "experiments"  # [run name, ...]: a grid trial's one run, a search trial's seeds
RESULTS = "results"  # {run name: {"rev": ..., "metrics": {headline name: fold mean}}}
WORKER = "worker"
KEPT = "kept"  # finished before the study existed, with the same params; not run again
DUPLICATE_OF = "duplicate_of"
ERROR = "error"
PLAN = "plan"  # the study's user attribute: every run name, set once everything is enqueued


def digest(document) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def study_name(verb: str, label: str, commit: str, plan_digest: str) -> str:
    """`msa sweep train.patience @1a2b3c4 #0f9e8d7c`: one per command, commit and params."""
    return f"msa {verb} {label} @{commit[:7]} #{plan_digest[:8]}"


def search_setting(prefix: str, number: int) -> str:
    """The setting a search trial samples: `search-007` for its trial number 7."""
    return f"{prefix}-{number:03d}"


def this_worker(index: int) -> str:
    """Who ran a trial: the machine, the command's process and the worker in it."""
    return f"{this_command()}{index}"


def this_command() -> str:
    """What the workers of this command start their names with."""
    return f"{socket.gethostname()}/{os.getpid()}/"


def headline(metrics: dict) -> dict:
    """The fold means of the headline scores, from what evaluate wrote (metrics.json)."""
    return {name: (metrics.get(name) or {}).get("mean") for name in HEADLINE}
