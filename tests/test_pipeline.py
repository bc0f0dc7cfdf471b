"""dvc.yaml: every stage depends on all the code it runs, so no edit can leave a stage stale."""

import ast
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PIPELINE = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    """The file a module name runs: its .py, or a package's __init__.py."""
    base = REPO / "src" / name.replace(".", "/")
    return next((f for f in (base.with_suffix(".py"), base / "__init__.py") if f.is_file()),
                None)


def msa_imports(path: Path) -> set[str]:
    """The src/msa modules a file imports, at the top or inside functions; a file that asks the
    layout registry for a module (`layouts.module(...)`) may load every layout's, one that asks
    the regime registry for a regime (`regimes.of(...)`, `regimes.of_models(...)`) every
    regime's."""
    found = set()
    text = path.read_text(encoding="utf-8")
    if "layouts.module(" in text:
        from msa import layouts

        found |= {f"msa.data.{entry.module}" for entry in layouts.LAYOUTS.values()}
    if "regimes.of(" in text or "regimes.of_models(" in text:
        from msa.training import regimes

        found |= {entry.module for entry in regimes.REGISTRY.values()}
    for node in _runtime_nodes(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "msa" or node.module.startswith("msa."):
                # `from msa.pkg import name`: a module of the package, or a name in pkg
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("msa.")}
    return {name for name in found if module_file(name)}


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:`, which never run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def import_closure(script: Path) -> set[str]:
    """Repo-relative paths of the script and every src/msa module it reaches."""
    package_init = REPO / "src/msa/__init__.py"
    seen, todo = set(), [script, package_init]
    while todo:
        path = todo.pop()
        relative = path.relative_to(REPO).as_posix()
        if relative in seen:
            continue
        seen.add(relative)
        for module in msa_imports(path):
            parts = module.split(".")
            # importing msa.a.b runs msa/a/__init__.py first
            todo += [REPO / "src" / Path(*parts[:k]) / "__init__.py" for k in range(2, len(parts))]
            todo.append(module_file(module))
    return seen


def code_deps(stage: dict) -> set[str]:
    """The stage's deps on code, a folder standing for every .py file in it."""
    files = set()
    for dep in stage["deps"]:
        if not dep.startswith(("src/", "stages/")):
            continue
        path = REPO / dep
        files |= ({f.relative_to(REPO).as_posix() for f in path.rglob("*.py")} if path.is_dir()
                  else {dep})
    return files


def script_of(stage: dict) -> Path:
    words = stage["cmd"].split()
    return REPO / words[words.index("python") + 1]


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_stage_depends_on_every_module_it_imports(name):
    stage = PIPELINE[name]
    missing = sorted(import_closure(script_of(stage)) - code_deps(stage))
    assert not missing, f"dvc.yaml: stage {name} runs {missing} but does not depend on them"


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_stage_depends_on_no_code_it_does_not_run(name):
    stage = PIPELINE[name]
    extra = sorted(code_deps(stage) - import_closure(script_of(stage)))
    assert not extra, f"dvc.yaml: stage {name} depends on {extra}, which it never imports"


@pytest.mark.parametrize("name", ["prepare", "featurize", "train"])  # prepare: the MVSA split
def test_stages_whose_numbers_follow_the_library_versions_depend_on_the_pin(name):
    assert "requirements.txt" in PIPELINE[name]["deps"]


def test_closure_follows_imports_inside_functions(tmp_path):
    closure = import_closure(REPO / "stages/train.py")
    # train.py -> msa.training.heads -> msa.training.model -> msa.features.backbones (pooling)
    assert {"src/msa/training/model.py", "src/msa/features/backbones.py", "src/msa/__init__.py",
            "src/msa/training/__init__.py", "src/msa/features/__init__.py"} <= closure


@pytest.mark.parametrize("name", ["evaluate", "plot"])
def test_stages_that_read_artifacts_run_no_model_code(name):
    closure = import_closure(script_of(PIPELINE[name]))
    assert not any(f.startswith(("src/msa/training/", "src/msa/features/")) for f in closure)
    assert "src/msa/evaluation/predict.py" not in closure
    assert "models" not in PIPELINE[name]["deps"]


def test_the_plots_dvc_shows_draw_the_curves_of_the_epoch_log():
    """dvc.yaml's learning-curve plots name columns of plots/learning_curves.csv and
    plots/stopping_curve.csv that msa.evaluation.plots writes from msa.epoch_log; every score
    train.monitor may choose is drawn."""
    from msa import epoch_log
    from msa.evaluation import plots

    written = {"plots/learning_curves.csv": {"folds_running", *(f"{c}_mean" for c in
                                                                epoch_log.CURVES)},
               "plots/stopping_curve.csv": set(plots.STOPPING_COLUMNS) - {"epoch"}}
    drawn = set()
    plot_specs = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    for spec in plot_specs:
        for definition in spec.values() if isinstance(spec, dict) else []:
            for path, columns in ((definition or {}).get("y") or {}).items():
                if path in written:
                    columns = [columns] if isinstance(columns, str) else columns
                    assert set(columns) <= written[path], (path, columns)
                    drawn |= set(columns)
    assert {f"{score}_mean" for score in epoch_log.SCORES} <= drawn
    assert "stop_score_mean" in drawn


def test_the_fold_models_are_a_dvc_model_artifact_of_the_train_stage():
    from dvc.repo import Repo

    artifact = Repo(str(REPO)).artifacts.read()["dvc.yaml"]["fold-models"]
    assert artifact.type == "model" and artifact.desc and artifact.labels
    assert artifact.path in PIPELINE["train"]["outs"]


def test_a_code_folder_dep_hashes_its_code_not_its_bytecode():
    """Python's __pycache__ beside the code would make dvc.lock depend on whether a test or a
    stage has imported it yet."""
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        def ignored(path):
            return repo.dvcignore.is_ignored(repo.fs, str(REPO / path))

        assert ignored("src/msa/features/__pycache__/extract.cpython-311.pyc")
        assert ignored("src/msa/training/__pycache__/driver.cpython-312.pyc")
        assert not ignored("src/msa/features/extract.py")


def test_train_reads_the_featurize_keys_that_name_the_encoders_and_no_others():
    """Under finetune, train builds the encoders from these params; the batch sizes are
    featurize's alone, so changing one reruns featurize but not train."""
    from msa.features import extract
    from msa.params import FeaturizeParams

    read = {key for key in PIPELINE["train"]["params"] if str(key).startswith("featurize")}
    identity = extract.encoder_identity(FeaturizeParams()).to_json()
    assert read == {f"featurize.{key}" for key in identity if hasattr(FeaturizeParams(), key)}
    # the one key of the identity that is not featurize's: the text layers cached for the tuning
    assert [key for key in identity if not hasattr(FeaturizeParams(), key)] == [
        "text_tuned_layers"]
    assert {"train.regime", "train.text_tuning", "train.text_top_layers"} <= set(
        PIPELINE["featurize"]["params"])


def test_the_way_back_restores_every_output_dvc_keeps_in_git():
    """A stage that stops prints WAY_BACK; DVC has removed its outputs, and `dvc checkout`
    restores only the cached ones: git must bring back every `cache: false` one."""
    from msa.errors import KEPT_IN_GIT

    kept_in_git = []
    for stage in PIPELINE.values():
        for kind in ("outs", "metrics", "plots"):
            for out in stage.get(kind, []):
                if isinstance(out, dict):
                    (path, options), = out.items()
                    if (options or {}).get("cache") is False:
                        kept_in_git.append(path)
    assert kept_in_git
    for path in kept_in_git:
        assert any(path == p or path.startswith(p + "/") for p in KEPT_IN_GIT), path


def test_the_output_paths_the_code_names_are_the_ones_dvc_yaml_writes():
    """Paths the library reads or shows by name, not from a stage's arguments, are outputs of
    dvc.yaml's stages (a renamed output fails here, not in a user's comparison)."""
    import inspect

    from msa.evaluation import metrics, records
    from msa.experiments import gallery
    from msa.training import live

    outs = {}
    for name, stage in PIPELINE.items():
        for out in stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", []):
            outs[next(iter(out)) if isinstance(out, dict) else out] = name
    named = {records.OOF_FILE: "train", metrics.METRICS_FILE: "evaluate",
             metrics.DETAILS_FILE: "evaluate", gallery.MANIFEST_FILE: "prepare"}
    for path, stage in named.items():
        assert outs.get(path) == stage, path
    default_live = inspect.signature(live.EpochLog).parameters["folder"].default
    assert f"--live {default_live}" in " ".join(PIPELINE["train"]["cmd"].split())
