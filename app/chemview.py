"""Cached wrappers around engine.chem.structures for the app (the chemistry lives in the
engine), and the py3Dmol viewer page. Nothing here changes a score."""
from __future__ import annotations

import base64
from pathlib import Path

import py3Dmol
import streamlit as st

from engine.chem import structures

LOCAL_3DMOL = Path(__file__).parent / "static" / "3Dmol-min.js"   # licence beside it
SERVED_3DMOL = "/app/static/3Dmol-min.js"
STYLES = {"stick": {"stick": {"radius": 0.16}},
          "ball and stick": {"stick": {"radius": 0.12}, "sphere": {"scale": 0.25}},
          "spacefill": {"sphere": {}}}


@st.cache_data(max_entries=64, show_spinner=False)
def smarts_matches(smiles: tuple[str, ...], smarts: str) -> list[bool]:
    """Whether each SMILES contains the pattern (invalid SMILES never match); raises
    engine.chem.structures.SmartsError for an invalid pattern."""
    return structures.has_substructure(smiles, smarts)


@st.cache_data(max_entries=4096, show_spinner=False)
def mol_svg(smiles: str, smarts: str | tuple[str, ...] = "", width: int = 260,
            height: int = 190) -> str:
    """An SVG drawing; atoms and bonds of every match of the SMARTS (one, or a tuple)
    highlighted."""
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


def _molblock_for_script(molblock: str) -> str:
    """The MOL block with an empty name line: the only free text in a V2000 block, so
    nothing in it can close the viewer's <script> element."""
    return "\n".join(["", *molblock.split("\n")[1:]])


@st.cache_resource(show_spinner=False)
def _inline_3dmol() -> str:
    """The local 3Dmol.js as a data URL (when the app serves no static files)."""
    return "data:text/javascript;base64," + base64.b64encode(LOCAL_3DMOL.read_bytes()).decode()


def viewer_html(molblock: str, style: str = "stick", height: int = 440) -> str:
    """A py3Dmol view of the MOL block (the page py3Dmol writes) drawn by the local copy of
    3Dmol.js: served from app/static when static serving is on, else inlined into the page;
    never fetched from the internet. The page is the same for the same molecule and style,
    so a rerun keeps the viewer the user has rotated."""
    served = st.get_option("server.enableStaticServing")
    view = py3Dmol.view(width="100%", height=height,
                        js=SERVED_3DMOL if served else _inline_3dmol())
    view.addModel(_molblock_for_script(molblock), "sdf")
    view.setStyle(STYLES[style])
    view.zoomTo()
    html = view.write_html()
    return html.replace(view.uniqueid, "rcfg")   # py3Dmol's ids are timestamps
