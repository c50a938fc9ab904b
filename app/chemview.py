"""Cached wrappers around engine.chem.structures for the app (the chemistry lives in the
engine), and the 3Dmol.js viewer page. Nothing here changes a score."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import streamlit as st

from engine.chem import structures

LOCAL_3DMOL = Path(__file__).parent / "static" / "3Dmol-min.js"
CDN_3DMOL = "https://cdn.jsdelivr.net/npm/3dmol@2.5.5/build/3Dmol-min.js"


@st.cache_data(max_entries=64, show_spinner=False)
def smarts_matches(smiles: tuple[str, ...], smarts: str) -> list[bool]:
    """Whether each SMILES contains the pattern (invalid SMILES never match); raises
    engine.chem.structures.SmartsError for an invalid pattern."""
    return structures.has_substructure(smiles, smarts)


@st.cache_data(max_entries=4096, show_spinner=False)
def mol_svg(smiles: str, smarts: str = "", width: int = 260, height: int = 190) -> str:
    """An SVG drawing; atoms and bonds of every SMARTS match highlighted."""
    return structures.mol_svg(smiles, smarts, width, height)


@st.cache_data(max_entries=8192, show_spinner=False)
def mol_image(smiles: str | None, width: int = 150, height: int = 100) -> str | None:
    """A data URL of the drawing, for st.column_config.ImageColumn; None for no SMILES."""
    if not isinstance(smiles, str) or not smiles:
        return None
    svg = structures.mol_svg(smiles, "", width, height)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@st.cache_data(max_entries=256, show_spinner=False)
def conformer(smiles: str) -> tuple[str | None, str]:
    """(MOL block with hydrogens, note), or (None, why): see structures.conformer."""
    return structures.conformer(smiles)


def viewer_html(molblock: str, style: str = "stick", height: int = 440) -> str:
    """A self-contained 3Dmol.js page (local copy of the library when served, else CDN)."""
    served = LOCAL_3DMOL.is_file() and st.get_option("server.enableStaticServing")
    src = "/app/static/3Dmol-min.js" if served else CDN_3DMOL
    styles = {"stick": "{stick: {radius: 0.16}}",
              "ball and stick": "{stick: {radius: 0.12}, sphere: {scale: 0.25}}",
              "spacefill": "{sphere: {}}"}
    data = json.dumps(molblock).replace("</", "<\\/")  # a JS string literal, safe in <script>
    return f"""
<div id="view" style="width:100%;height:{height}px;position:relative"></div>
<script src="{src}"></script>
<script>
  const el = document.getElementById("view");
  if (typeof $3Dmol === "undefined") {{
    el.innerHTML = "<p style='font-family:sans-serif'>The 3D viewer library (3Dmol.js) " +
      "could not be loaded.</p>";
  }} else {{
    const viewer = $3Dmol.createViewer(el, {{backgroundColor: "white"}});
    viewer.addModel({data}, "sdf");
    viewer.setStyle({{}}, {styles[style]});
    viewer.zoomTo();
    viewer.render();
  }}
</script>"""
