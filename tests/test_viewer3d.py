"""The 3D view's page: a py3Dmol view drawn by the local 3Dmol.js, never one from the
internet; in Chromium it draws the molecule with no request leaving the page."""
import io
import re
from pathlib import Path

import pytest
import streamlit as st

from app import chemview
from engine.chem.structures import conformer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "tests" / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"


def page(monkeypatch, served: bool, style: str = "stick") -> str:
    real = st.get_option
    monkeypatch.setattr(st, "get_option", lambda key: served if key ==
                        "server.enableStaticServing" else real(key))
    return chemview.viewer_html(conformer(CAFFEINE)[0], style)


def test_served_page_loads_the_local_copy_and_is_stable(monkeypatch):
    html = page(monkeypatch, served=True)
    assert chemview.SERVED_3DMOL in html and "addModel" in html and "setStyle" in html
    assert not re.search(r"https?://", html)
    assert html == page(monkeypatch, served=True)       # a rerun keeps the viewer


def test_without_static_serving_the_library_is_inlined(monkeypatch):
    html = page(monkeypatch, served=False, style="spacefill")
    assert "data:text/javascript;base64," in html and chemview.SERVED_3DMOL not in html
    assert not re.search(r"https?://", html) and '"sphere": {}' in html


def test_the_name_line_cannot_close_the_script():
    block = "</script><script>alert(1)\n  RDKit          3D\n\n  0  0  0  0\nM  END\n"
    assert "</script>" not in chemview._molblock_for_script(block)


def _drawn_pixels(png: bytes) -> int:
    import numpy as np
    from PIL import Image

    gray = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return int((gray < 200).sum())                        # not the white background


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium")
@pytest.mark.parametrize("served", [True, False], ids=["served", "inlined"])
def test_chromium_draws_the_molecule_offline(monkeypatch, served):
    from playwright.sync_api import sync_playwright

    html = page(monkeypatch, served=served)
    origin = "http://rcfg.test"
    outside = []

    def handle(route):
        url = route.request.url
        if url == f"{origin}/":
            route.fulfill(body=html, content_type="text/html")
        elif url == f"{origin}{chemview.SERVED_3DMOL}":
            route.fulfill(body=chemview.LOCAL_3DMOL.read_bytes(),
                          content_type="text/javascript")
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        tab = browser.new_page(viewport={"width": 700, "height": 500})
        tab.route("**/*", handle)
        tab.goto(f"{origin}/")
        viewer = tab.locator("[id='3dmolviewer_rcfg']")    # py3Dmol's id, made stable
        viewer.locator("canvas").wait_for(state="visible", timeout=30_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = viewer.screenshot(
            path=str(ARTIFACTS / f"viewer3d-{'served' if served else 'inlined'}.png"))
        browser.close()
    assert outside == []
    assert _drawn_pixels(shot) > 2000   # atoms and bonds on screen
