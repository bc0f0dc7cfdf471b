"""dvc.yaml: every stage depends on all the code it runs, so no edit can leave a stage stale."""

import ast
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PIPELINE = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def msa_imports(path: Path) -> set[str]:
    """The src/msa modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "msa":
                found |= {f"msa.{a.name}" for a in node.names}
            elif node.module.startswith("msa."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("msa.")}
    return {name for name in found if (REPO / "src" / f"{name.replace('.', '/')}.py").is_file()}


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
        todo += [REPO / "src" / f"{m.replace('.', '/')}.py" for m in msa_imports(path)]
    return seen


def script_of(stage: dict) -> Path:
    words = stage["cmd"].split()
    return REPO / words[words.index("python") + 1]


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_stage_depends_on_every_module_it_imports(name):
    stage = PIPELINE[name]
    deps = set(stage["deps"])
    missing = sorted(import_closure(script_of(stage)) - deps)
    assert not missing, f"dvc.yaml: stage {name} runs {missing} but does not depend on them"


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_stage_depends_on_no_code_it_does_not_run(name):
    stage = PIPELINE[name]
    code = {d for d in stage["deps"] if d.startswith(("src/", "stages/"))}
    extra = sorted(code - import_closure(script_of(stage)))
    assert not extra, f"dvc.yaml: stage {name} depends on {extra}, which it never imports"


@pytest.mark.parametrize("name", ["prepare", "featurize", "train"])  # prepare: the MVSA split
def test_stages_whose_numbers_follow_the_library_versions_depend_on_the_pin(name):
    assert "requirements.txt" in PIPELINE[name]["deps"]


def test_closure_follows_imports_inside_functions(tmp_path):
    closure = import_closure(REPO / "stages/train.py")
    # train.py -> msa.train -> msa.model -> msa.backbones (pooling), msa.lexical, ...
    assert {"src/msa/model.py", "src/msa/backbones.py", "src/msa/__init__.py"} <= closure


@pytest.mark.parametrize("name", ["evaluate", "plot"])
def test_stages_that_read_artifacts_run_no_model_code(name):
    closure = import_closure(script_of(PIPELINE[name]))
    heavy = {"src/msa/model.py", "src/msa/train.py", "src/msa/features.py", "src/msa/predict.py"}
    assert not closure & heavy
    assert "models" not in PIPELINE[name]["deps"]
