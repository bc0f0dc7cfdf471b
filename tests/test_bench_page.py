"""bench/RESULTS.md is rendered, never edited: the page bench/page.py writes from the results files
committed beside it is the committed page, GPU section included."""

import shutil
import sys

from conftest import REPO


def test_results_page_is_rendered_from_the_results_files(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import page
    finally:
        sys.path.remove(str(REPO / "bench"))
    for results in (REPO / "bench").glob("*.json"):
        shutil.copy(results, tmp_path / results.name)
    assert (tmp_path / "results-gpu.json").is_file()
    page.write_page(tmp_path)
    assert (tmp_path / "RESULTS.md").read_text() == (REPO / "bench" / "RESULTS.md").read_text()
