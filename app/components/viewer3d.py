"""3D view of one molecule: an RDKit ETKDG conformer relaxed with MMFF, drawn by a py3Dmol
view (3Dmol.js, the local copy in app/static) in an iframe (st.iframe, the successor of
st.components.v1.html)."""
from __future__ import annotations

import streamlit as st

from app import chemview, state
from app.components import analogues

ss = st.session_state
TOP = 25


def render(frame) -> None:
    mols = frame[frame["valid"]].drop_duplicates("smiles")
    if mols.empty:
        st.info("No valid molecules in this run.")
        return
    ranked = mols.sort_values("reward", ascending=False)
    picked = ranked[ranked["id"].isin(state.selection())]
    options = list(dict.fromkeys([*picked["smiles"], *ranked["smiles"].head(TOP)]))
    reward = dict(zip(mols["smiles"], mols["reward"]))
    if ss.get("3d::smiles") not in options:
        ss["3d::smiles"] = options[0]
    left, right = st.columns([3, 2])
    smiles = left.selectbox(
        "Molecule (selected first, then the top by reward)", options, key="3d::smiles",
        format_func=lambda s: f"{reward[s]:.3f} · {s}")
    style = right.radio("Style", ("stick", "ball and stick", "spacefill"), horizontal=True,
                        key="3d::style", persist_state="session")
    block, note = chemview.conformer(smiles)
    draw, view = st.columns([1, 2])
    draw.image(chemview.mol_svg(smiles, width=320, height=260), width="stretch")
    draw.code(smiles, language=None, wrap_lines=True)
    with draw:
        analogues.button(mols[mols["smiles"] == smiles].iloc[0], key="3d::analogues")
    with view:
        if block is None:
            st.warning(note, icon=":material/view_in_ar:")
        else:
            st.iframe(chemview.viewer_html(block, style), height=450)
            st.caption(note + " Drag to rotate, scroll to zoom.")
