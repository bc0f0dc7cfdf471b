"""Every file of this repository that the code, tests and docs name by path exists: a module or
test renamed leaves no reference behind."""

import re

from conftest import REPO

NAMED = re.compile(r"\b(?:tests|bench|src/msa|stages|docs)/[A-Za-z0-9_/.-]+\.(?:py|md)\b")
PLACEHOLDERS = {"stages/NAME.py"}  # a pattern the text explains, not a file


def test_every_file_named_by_path_exists():
    sources = [REPO / "README.md", REPO / "Makefile", *(REPO / "docs").glob("*.md")]
    for folder in ("src", "tests", "stages", "bench"):
        sources += (REPO / folder).rglob("*.py")
    missing = {(path, source.relative_to(REPO).as_posix())
               for source in sources
               for path in NAMED.findall(source.read_text(encoding="utf-8"))
               if path not in PLACEHOLDERS and not (REPO / path).is_file()}
    assert not missing, sorted(missing)
