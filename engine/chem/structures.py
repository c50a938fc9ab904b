"""Structures for display and export: SMARTS parsing and matching, 2D SVG drawings with the
matches highlighted, SDF export (2D, or 3D on request) and a 3D conformer. Nothing here
changes a score.

Failure contract: an invalid SMARTS raises SmartsError (a ValueError whose message names the
pattern and shows an example); an invalid SMILES never raises: it does not match, draws as an
empty picture, is left out of the SDF (and counted), and gives no conformer (None and why).
A molecule over MAX_HEAVY_ATOMS heavy atoms is invalid here as in scoring (its layout and
matching would take minutes)."""
from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

import pandas as pd
from rdkit import Chem
from rdkit.Chem import AllChem, rdDepictor
from rdkit.Chem.Draw import rdMolDraw2D

from engine.chem.alerts import unassigned_stereocentres
from engine.chem.properties import MAX_HEAVY_ATOMS, invalid_reason, to_mol
from engine.errors import UserError

rdDepictor.SetPreferCoordGen(True)
CONFORMER_SEED = 0xC0FFEE


class SmartsError(UserError):
    """A SMARTS pattern RDKit cannot parse."""


@lru_cache(maxsize=64)
def smarts_pattern(smarts: str) -> Chem.Mol:
    """The compiled query molecule of `smarts` (cached).

    Raises SmartsError, with the pattern and an example in the message, when RDKit cannot
    parse it."""
    pattern = Chem.MolFromSmarts(smarts)
    if pattern is None:
        raise SmartsError(f"{smarts!r} is not a valid SMARTS pattern (RDKit could not parse "
                          "it); example: c1ccccc1 for benzene, [NX3;H2] for a primary amine")
    return pattern


@lru_cache(maxsize=8192)
def _mol(smiles: str) -> Chem.Mol | None:
    """The parsed molecule, shared between calls: callers must not modify it. None when
    it does not parse or has more than MAX_HEAVY_ATOMS heavy atoms."""
    mol = to_mol(smiles)
    return mol if mol is not None and mol.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS else None


def has_substructure(smiles: Sequence[str], smarts: str) -> list[bool]:
    """Whether each SMILES contains the SMARTS pattern, in order.

    An invalid SMILES gives False; an invalid SMARTS raises SmartsError."""
    pattern = smarts_pattern(smarts)
    return [m is not None and m.HasSubstructMatch(pattern) for m in map(_mol, smiles)]


def mol_svg(smiles: str, smarts: str | Sequence[str] = "", width: int = 260,
            height: int = 190) -> str:
    """An SVG drawing of the molecule; atoms and bonds of every match of the SMARTS (one
    pattern, or several: a reward's required and forbidden groups) highlighted.

    An invalid SMILES gives an empty drawing of the same size; an invalid SMARTS (when not
    empty) raises SmartsError."""
    mol = _mol(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    if mol is None:
        drawer.FinishDrawing()
        return drawer.GetDrawingText()
    atoms, bonds = set(), set()
    for text in ([smarts] if isinstance(smarts, str) else smarts):
        if not text:
            continue
        pattern = smarts_pattern(text)
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


def to_sdf(frame: pd.DataFrame, three_d: bool = False) -> tuple[str, int]:
    """SDF text of the rows of `frame` (which needs a "smiles" column), the SMILES as the
    record name and every other non-missing column as an SD tag (floats to 6 significant
    digits). Coordinates are 2D, or with `three_d` the conformer of `conformer` (explicit
    hydrogens, ETKDGv3 + MMFF94; tens of milliseconds a molecule), its note in a
    `conformer` tag; a molecule RDKit cannot embed keeps 2D coordinates and says so there.

    Returns (text, skipped): rows whose SMILES does not parse are left out and counted in
    skipped, never raised."""
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    skipped = 0
    for row in frame.to_dict("records"):
        mol = _mol(row["smiles"])
        if mol is None:
            skipped += 1
            continue
        embedded, note = _embedded(mol) if three_d else (None, "")
        if embedded is None:
            mol = Chem.Mol(mol)
            rdDepictor.Compute2DCoords(mol)
        else:
            mol = embedded
        mol.SetProp("_Name", row["smiles"])
        for name, value in row.items():
            if name != "smiles" and pd.notna(value):
                mol.SetProp(name, f"{value:.6g}" if isinstance(value, float) else str(value))
        if three_d:
            mol.SetProp("conformer", note if embedded is not None else
                        "2D coordinates: RDKit could not embed a 3D conformer")
        writer.write(mol)
    writer.close()
    return buffer.getvalue(), skipped


def _embedded(mol: Chem.Mol) -> tuple[Chem.Mol | None, str]:
    """(a copy of `mol` with hydrogens and one 3D conformer, note), or (None, why)."""
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = CONFORMER_SEED
    params.maxIterations = 200
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True  # rescues many strained ring systems
        if AllChem.EmbedMolecule(mol, params) != 0:
            return None, ("RDKit could not embed a 3D conformer for this molecule (ETKDG "
                          "failed twice, also from random coordinates). The 2D structure and "
                          "properties are unaffected; try another molecule.")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=500)
        return mol, "ETKDGv3 conformer, MMFF94-minimized."
    return mol, "ETKDGv3 conformer (MMFF94 has no parameters for an atom here: not minimized)."


def conformer(smiles: str) -> tuple[str | None, str]:
    """(MOL block with hydrogens, note) of an ETKDGv3 conformer (fixed seed, so repeatable)
    relaxed with MMFF94 when MMFF has parameters for every atom; the note says when the
    SMILES leaves stereocentres open (the conformer is then one stereoisomer of several).

    Returns (None, why) when the SMILES does not parse or RDKit cannot embed it (after a
    second try from random coordinates); never raises for a bad molecule."""
    mol = _mol(smiles)
    if mol is None:
        why = invalid_reason(smiles)
        return None, ("This SMILES is not a valid molecule" + (f" ({why})" if why else "")
                      + ", so there is nothing to embed.")
    embedded, note = _embedded(mol)
    if embedded is None:
        return None, note
    if open_centres := unassigned_stereocentres(mol):
        note += (f" The SMILES leaves {open_centres} stereocentre"
                 f"{'s' if open_centres > 1 else ''} open: this is one stereoisomer, the one "
                 "the embedding happened to build, not a prediction of the configuration.")
    return Chem.MolToMolBlock(embedded), note
