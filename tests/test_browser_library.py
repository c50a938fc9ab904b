"""The Library screen in a real browser (Chromium through Playwright, as tests/test_browser.py):
a small library written by hand is opened, paged, filtered with a SMARTS over every shard,
ordered by a stored column, and its molecules downloaded as CSV; a folder that is not a
library is named."""
import pandas as pd
import pytest

from engine.chem.structures import has_substructure
from tests.test_browser import CHROMIUM, app_url, browser_page, download, rerun  # noqa: F401
from tests.test_library_reader import library_smiles, write_library

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (bash scripts/setup.sh installs it)")


def test_open_page_filter_and_download_a_library(browser_page, app_url, tmp_path):
    folder = write_library(tmp_path / "lib", library_smiles())
    page = browser_page
    rerun(page, lambda: page.goto(f"{app_url}/library"))
    box = page.get_by_label("Library folder", exact=True)
    box.fill(str(tmp_path))
    rerun(page, lambda: box.press("Enter"))
    page.get_by_text("is not a library folder: it holds no shard-NNNNNN.parquet").wait_for()
    box.fill(str(folder))
    rerun(page, lambda: box.press("Enter"))
    page.get_by_text("Molecules 1-48 in library order; 59 molecules pass the filters").wait_for()
    number = page.get_by_label("Library page (of 2)", exact=True)
    number.fill("2")
    rerun(page, lambda: number.press("Enter"))
    page.get_by_text("Molecules 49-59 in library order").wait_for()
    smarts = page.get_by_label("SMARTS in every shard", exact=True)
    smarts.fill("c1ccccc1")
    rerun(page, lambda: smarts.press("Enter"))
    stored = pd.concat([pd.read_parquet(f) for f in sorted(folder.glob("shard-*.parquet"))],
                       ignore_index=True)
    benzene = stored[stored["valid"] & pd.Series(has_substructure(stored["smiles"].tolist(),
                                                                  "c1ccccc1"))]
    page.get_by_text(f"{len(benzene)} molecules pass the filters (containing").wait_for()
    exported = download(page, f"Filtered CSV ({len(benzene)})")
    assert exported["id"].tolist() == [f"lib:{i}" for i in benzene["library_index"]]
    assert exported["smiles"].tolist() == benzene["smiles"].tolist()
    assert "reward" in exported and exported["scored_with"].nunique() == 1
    # the best by QED over every shard, highest first: the page and the CSV follow it
    page.get_by_role("button", name="Order: Library order").click()   # opens, no rerun
    choice = page.get_by_role("combobox", name="Order by")
    choice.fill("QED")
    rerun(page, lambda: choice.press("Enter"))
    page.keyboard.press("Escape")
    page.get_by_text(f"by stored QED, highest first; {len(benzene)} molecules with a QED "
                     "value pass").wait_for()
    best = benzene.sort_values(["qed", "library_index"], ascending=[False, True])
    exported = download(page, f"Filtered CSV ({len(benzene)})")
    assert exported["id"].tolist() == [f"lib:{i}" for i in best["library_index"]]
