"""RDKit for display only: 2D drawings (with SMARTS highlights), SMARTS filtering, SDF
export and a 3D conformer for the viewer. Nothing here changes a score."""
from __future__ import annotations

import io
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd
import streamlit as st
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, rdDepictor
from rdkit.Chem.Draw import rdMolDraw2D

from engine.chem.properties import to_mol

RDLogger.DisableLog("rdApp.*")
rdDepictor.SetPreferCoordGen(True)
LOCAL_3DMOL = Path(__file__).parent / "static" / "3Dmol-min.js"
CDN_3DMOL = "https://cdn.jsdelivr.net/npm/3dmol@2.5.5/build/3Dmol-min.js"


class SmartsError(ValueError):
    """A SMARTS pattern RDKit cannot parse."""


@lru_cache(maxsize=64)
def smarts_pattern(smarts: str) -> Chem.Mol:
    """The compiled pattern; raises SmartsError with the pattern when it does not parse."""
    pattern = Chem.MolFromSmarts(smarts)
    if pattern is None:
        raise SmartsError(f"{smarts!r} is not a valid SMARTS pattern (RDKit could not parse "
                          "it); example: c1ccccc1 for benzene, [NX3;H2] for a primary amine")
    return pattern


@lru_cache(maxsize=8192)
def _mol(smiles: str):
    return to_mol(smiles)


@st.cache_data(max_entries=64, show_spinner=False)
def smarts_matches(smiles: tuple[str, ...], smarts: str) -> list[bool]:
    """Whether each SMILES contains the pattern (invalid SMILES never match)."""
    pattern = smarts_pattern(smarts)
    return [m is not None and m.HasSubstructMatch(pattern) for m in map(_mol, smiles)]


@st.cache_data(max_entries=4096, show_spinner=False)
def mol_svg(smiles: str, smarts: str = "", width: int = 260, height: int = 190) -> str:
    """An SVG drawing; atoms and bonds of every SMARTS match highlighted."""
    mol = _mol(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    if mol is None:
        drawer.FinishDrawing()
        return drawer.GetDrawingText()
    atoms, bonds = set(), set()
    if smarts:
        pattern = smarts_pattern(smarts)
        for match in mol.GetSubstructMatches(pattern):
            atoms.update(match)
            for bond in pattern.GetBonds():
                b = mol.GetBondBetweenAtoms(match[bond.GetBeginAtomIdx()],
                                            match[bond.GetEndAtomIdx()])
                if b is not None:
                    bonds.add(b.GetIdx())
    options = drawer.drawOptions()
    options.clearBackground = False
    options.addStereoAnnotation = True
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol, highlightAtoms=sorted(atoms),
                                       highlightBonds=sorted(bonds))
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def to_sdf(frame: pd.DataFrame) -> tuple[str, int]:
    """SDF text with 2D coordinates and every column as an SD tag; returns (text, number of
    rows left out because their SMILES does not parse)."""
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    skipped = 0
    for row in frame.to_dict("records"):
        mol = _mol(row["smiles"])
        if mol is None:
            skipped += 1
            continue
        mol = Chem.Mol(mol)
        rdDepictor.Compute2DCoords(mol)
        mol.SetProp("_Name", row["smiles"])
        for name, value in row.items():
            if name != "smiles" and pd.notna(value):
                mol.SetProp(name, f"{value:.6g}" if isinstance(value, float) else str(value))
        writer.write(mol)
    writer.close()
    return buffer.getvalue(), skipped


@st.cache_data(max_entries=256, show_spinner=False)
def conformer(smiles: str) -> tuple[str | None, str]:
    """(MOL block with hydrogens, note) of an ETKDGv3 conformer relaxed with MMFF94;
    (None, why) when the SMILES does not parse or RDKit cannot embed it."""
    mol = _mol(smiles)
    if mol is None:
        return None, "This SMILES is not a valid molecule, so there is nothing to embed."
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = 0xC0FFEE
    params.maxIterations = 200
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True  # rescues many strained ring systems
        if AllChem.EmbedMolecule(mol, params) != 0:
            return None, ("RDKit could not embed a 3D conformer for this molecule (ETKDG "
                          "failed twice, also from random coordinates). The 2D structure and "
                          "properties are unaffected; try another molecule.")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=500)
        note = "ETKDGv3 conformer, MMFF94-minimized."
    else:
        note = "ETKDGv3 conformer (MMFF94 has no parameters for an atom here: not minimized)."
    return Chem.MolToMolBlock(mol), note


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
