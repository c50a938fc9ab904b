"""The dashboard in a real browser: `streamlit run` on a free localhost port, driven by
Playwright with the system Chromium (scripts/install_browser.sh installs it).

`test_generate_select_and_download` uses the tiny checkpoint from conftest. The screenshot
tour (`RCFG_SCREENSHOTS=1`) uses the real checkpoint and rewrites docs/screenshots/."""
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ROW_HEIGHT = 35  # st.dataframe's default row (and header) height in pixels

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(),
                                reason="needs /usr/bin/chromium (bash scripts/install_browser.sh)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(checkpoint: Path):
    """Start the app on a free localhost port; returns (process, url)."""
    port = free_port()
    env = {**os.environ, "RCFG_CHECKPOINT": str(checkpoint)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.address", "localhost", "--server.port", str(port),
         "--server.enableStaticServing", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("streamlit did not start within 60 s")


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1100},
                                accept_downloads=True)
        page.set_default_timeout(60_000)
        yield page
        browser.close()


@pytest.fixture
def app_url(tiny_checkpoint):
    proc, url = serve(tiny_checkpoint)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def settle(page, seconds: float = 0.5) -> None:
    """Wait until the script run that the last interaction started has finished."""
    time.sleep(seconds)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')")


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    settle(page)


def download(page, button: str) -> pd.DataFrame:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    data = Path(info.value.path()).read_text()
    return pd.read_csv(io.StringIO(data), keep_default_na=False)


def generate(page, timeout_s: float) -> None:
    page.get_by_role("button", name="Generate").click()
    page.get_by_text("Normalized score").wait_for(timeout=timeout_s * 1000)
    settle(page, 1.0)


def test_generate_select_and_download(browser_page, app_url):
    page = browser_page
    page.goto(app_url)
    page.get_by_role("button", name="Generate").wait_for()
    slider = page.locator('input[type=range][aria-label^="|Y_S|"]')
    assert slider.input_value() == "8"
    slider.focus()
    for _ in range(4):
        slider.press("ArrowLeft")
    settle(page)
    assert slider.input_value() == "4"
    set_number(page, "Molecules", 24)
    page.get_by_text("144 forward rows (5 per molecule)").wait_for()  # 24 x 5 + base set
    generate(page, timeout_s=90)

    page.get_by_role("tab", name="Table").click()
    grid = page.get_by_test_id("stDataFrame")
    grid.wait_for()
    settle(page, 1.0)
    box = grid.bounding_box()
    for row in (0, 2, 3):  # tick the row-marker boxes in the first column
        page.mouse.click(box["x"] + 18, box["y"] + ROW_HEIGHT * (row + 1.5))
        settle(page, 1.0)
    everything = download(page, "All CSV")
    ranked = everything.sort_values("reward", ascending=False, kind="stable")
    expected = set(ranked["smiles"].iloc[[0, 2, 3]])
    page.get_by_text(f"{len(expected)} selected molecule").wait_for()
    chosen = download(page, "Selection CSV")
    assert len(chosen) == len(expected) and set(chosen["smiles"]) == expected
    assert list(chosen.columns) == list(everything.columns)
    assert {"smiles", "reward", "mw", "qed", "method", "ys", "seed"} <= set(chosen.columns)
    assert (chosen["ys"] == 4).all() and (chosen["method"] == "rcfg").all()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "browser_test_table_selection.png"))
