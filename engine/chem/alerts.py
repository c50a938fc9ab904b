"""Structural alerts and sanity flags: what a chemist checks before trusting a molecule.

Alerts come from RDKit: its FilterCatalog (PAINS A/B/C, Brenk, NIH, and the seven ChEMBL
structural-alert sets: Glaxo, Dundee, BMS, SureChEMBL, MLSMR, Inpharmatica, LINT) and the
NIBR hit-triaging filters it ships in Contrib (Schuffenhauer et al., J. Med. Chem. 2020;
444 SMARTS, of which the 337 that flag or exclude count as alerts, the 107 annotations do
not). docs/MEDCHEM.md says why these come from RDKit rather than the `medchem` package.
Flags are our own checks on things guidance can game: unassigned stereocentres, charged
atoms, long aliphatic chains and rings larger than six atoms. Nothing here changes a score.

Failure contract: an invalid SMILES (one over MAX_HEAVY_ATOMS heavy atoms included, as in
scoring) never raises; its flag columns are missing (<NA>) and its `alerts` text is empty,
and it counts in no rate (rates are over valid molecules).
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
from rdkit import Chem, RDConfig
from rdkit.Chem.FilterCatalog import (
    FilterCatalog,
    FilterCatalogEntry,
    FilterCatalogParams,
    SmartsMatcher,
)

from engine.chem.diversity import murcko_scaffold
from engine.chem.properties import MAX_HEAVY_ATOMS, largest_ring_size, to_mol

CATALOGS = {"pains": "PAINS", "brenk": "BRENK", "nih": "NIH",   # column suffix -> RDKit name
            "glaxo": "CHEMBL_Glaxo", "dundee": "CHEMBL_Dundee", "bms": "CHEMBL_BMS",
            "surechembl": "CHEMBL_SureChEMBL", "mlsmr": "CHEMBL_MLSMR",
            "inpharmatica": "CHEMBL_Inpharmatica", "lint": "CHEMBL_LINT"}
NIBR_CSV = (Path(RDConfig.RDContribDir) / "NIBRSubstructureFilters"
            / "SubstructureFilter_HitTriaging_wPubChemExamples.csv")
NIBR_SEVERITY = {1: "flag", 2: "exclude"}   # 0 (annotation only) is no alert
LONG_CHAIN_CARBONS = 6    # acyclic sp3 carbons in a row: a hexyl chain or longer
LARGE_RING = 7            # ring size from which a ring is flagged
MACROCYCLE = 12           # ring size from which it is named a macrocycle

CORE_ALERTS = ("alert_pains", "alert_brenk", "alert_nih")    # what `any_alert` counts
ALERT_COLUMNS = (*CORE_ALERTS, "alert_nibr",
                 *(f"alert_{k}" for k in CATALOGS if f"alert_{k}" not in CORE_ALERTS))
FLAG_COLUMNS = ("flag_unassigned_stereo", "flag_charged", "flag_long_chain", "flag_large_ring")
FAMILY_COLUMNS = ALERT_COLUMNS + FLAG_COLUMNS
COLUMNS = (*FAMILY_COLUMNS, "alerts")   # what `batch_alerts` adds, in this order
CHECK_COLUMNS = (*COLUMNS, "scaffold")   # what `with_checks` adds, in this order
CHEMBL_SHORT = {"alert_glaxo": "Glaxo", "alert_dundee": "Dundee", "alert_bms": "BMS",
                "alert_surechembl": "SureChEMBL", "alert_mlsmr": "MLSMR",
                "alert_inpharmatica": "Inpharmatica", "alert_lint": "LINT"}
FAMILY_SHORT = {"alert_pains": "PAINS", "alert_brenk": "Brenk", "alert_nih": "NIH",
                "alert_nibr": "NIBR", **CHEMBL_SHORT,
                "flag_unassigned_stereo": "stereo", "flag_charged": "charged",
                "flag_long_chain": "chain", "flag_large_ring": "ring > 6"}
FAMILY_LABELS = {"alert_pains": "PAINS", "alert_brenk": "Brenk", "alert_nih": "NIH",
                 "alert_nibr": "NIBR",
                 **{c: f"ChEMBL {name}" for c, name in CHEMBL_SHORT.items()},
                 "flag_unassigned_stereo": "unassigned stereocentres",
                 "flag_charged": "charged atoms", "flag_long_chain": "long aliphatic chain",
                 "flag_large_ring": "ring larger than 6"}


def nibr_catalog() -> FilterCatalog:
    """The NIBR filters that flag or exclude, each entry named "<pattern> (flag|exclude)";
    a pattern with a minimum count matches only that many times or more."""
    table = pd.read_csv(NIBR_CSV)
    catalog = FilterCatalog()
    for row in table[table["SEVERITY_SCORE"].isin(list(NIBR_SEVERITY))].itertuples():
        name = f"{row.PATTERN_NAME} ({NIBR_SEVERITY[row.SEVERITY_SCORE]})"
        matcher = SmartsMatcher(name, row.SMARTS, max(1, int(row.MIN_COUNT)))
        catalog.AddEntry(FilterCatalogEntry(name, matcher))
    return catalog


@lru_cache(maxsize=1)
def _catalogs() -> dict[str, FilterCatalog]:
    out = {}
    for key, name in CATALOGS.items():
        params = FilterCatalogParams()
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
        out[f"alert_{key}"] = FilterCatalog(params)
    out["alert_nibr"] = nibr_catalog()
    return {column: out[column] for column in ALERT_COLUMNS}


@lru_cache(maxsize=1)
def _chain_pattern() -> Chem.Mol:
    return Chem.MolFromSmarts("-".join(["[CX4;!R]"] * LONG_CHAIN_CARBONS))


def catalog_alerts(mol: Chem.Mol) -> dict[str, list[str]]:
    """Names of the FilterCatalog entries `mol` matches, per alert column (each name once,
    in catalogue order)."""
    return {column: list(dict.fromkeys(e.GetDescription() for e in catalog.GetMatches(mol)))
            for column, catalog in _catalogs().items()}


def alert_count(mol: Chem.Mol, columns: Sequence[str] = CORE_ALERTS) -> int:
    """How many distinct FilterCatalog entries of the alert `columns` (e.g. "alert_pains")
    `mol` matches; 0 when none."""
    catalogs = _catalogs()
    return sum(len({e.GetDescription() for e in catalogs[c].GetMatches(mol)})
               for c in columns)


def unassigned_stereocentres(mol: Chem.Mol) -> int:
    """Tetrahedral stereocentres whose configuration the SMILES leaves open."""
    centres = Chem.FindMolChiralCenters(mol, includeUnassigned=True,
                                        useLegacyImplementation=False)
    return sum(1 for _, label in centres if label == "?")


def charged_atoms(mol: Chem.Mol) -> int:
    """Atoms with a formal charge, leaving out charge-separated pairs bonded to each other
    (nitro, N-oxide, azide), which are one neutral group drawn with charges."""
    count = 0
    for atom in mol.GetAtoms():
        charge = atom.GetFormalCharge()
        if charge and not any(n.GetFormalCharge() * charge < 0 for n in atom.GetNeighbors()):
            count += 1
    return count


def mol_alerts(mol: Chem.Mol) -> dict[str, object]:
    """Every family column (True when the molecule is flagged) and `alerts`, the names of
    what matched ("Brenk: Michael_acceptor_1; unassigned stereocentres: 2"), for one
    sanitized molecule."""
    names = catalog_alerts(mol)
    stereo, charged = unassigned_stereocentres(mol), charged_atoms(mol)
    ring = largest_ring_size(mol)
    chain = mol.HasSubstructMatch(_chain_pattern())
    out: dict[str, object] = {column: bool(found) for column, found in names.items()}
    out.update(flag_unassigned_stereo=stereo > 0, flag_charged=charged > 0,
               flag_long_chain=chain, flag_large_ring=ring >= LARGE_RING)
    parts = [f"{FAMILY_LABELS[c]}: {', '.join(found)}" for c, found in names.items() if found]
    if stereo:
        parts.append(f"unassigned stereocentres: {stereo}")
    if charged:
        parts.append(f"charged atoms: {charged}")
    if chain:
        parts.append(f"long aliphatic chain: {LONG_CHAIN_CARBONS}+ sp3 carbons")
    if ring >= LARGE_RING:
        parts.append(f"{'macrocycle' if ring >= MACROCYCLE else 'large ring'}: {ring} atoms")
    out["alerts"] = "; ".join(parts)
    return out


def batch_alerts(smiles: Sequence[str]) -> pd.DataFrame:
    """One row per SMILES (same order, default index) with the COLUMNS: nullable booleans
    per family (<NA> for an invalid SMILES) and the `alerts` text ("" when nothing matched
    or the SMILES is invalid). Never raises on a bad molecule."""
    rows = []
    for s in smiles:
        mol = to_mol(s) if isinstance(s, str) else None
        # over the bound the molecule is invalid, as in scoring: no minutes of matching
        if mol is None or not 0 < mol.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS:
            rows.append({**dict.fromkeys(FAMILY_COLUMNS, pd.NA), "alerts": ""})
        else:
            rows.append(mol_alerts(mol))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({c: "boolean" for c in FAMILY_COLUMNS})


def with_alerts(frame: pd.DataFrame, smiles_column: str = "smiles") -> pd.DataFrame:
    """`frame` with the alert COLUMNS of its `smiles_column` added after its own columns,
    replacing any it already has."""
    kept = frame.drop(columns=[c for c in COLUMNS if c in frame.columns and c != smiles_column])
    flags = batch_alerts(kept[smiles_column].tolist())
    flags.index = kept.index
    return pd.concat([kept, flags], axis=1)


def with_checks(frame: pd.DataFrame, smiles: Sequence[str] | None = None) -> pd.DataFrame:
    """`frame` with what a chemist checks whatever the reward, CHECK_COLUMNS: the alert
    COLUMNS and the Bemis-Murcko `scaffold` ("" acyclic, None invalid), of `smiles` (one
    per row; default: the frame's `smiles` column), added after its own columns and
    replacing any it already has. Never raises on a bad molecule."""
    smiles = frame["smiles"].tolist() if smiles is None else list(smiles)
    checks = batch_alerts(smiles)
    checks["scaffold"] = [murcko_scaffold(s) for s in smiles]
    checks.index = frame.index
    kept = frame.drop(columns=[c for c in CHECK_COLUMNS if c in frame.columns])
    return pd.concat([kept, checks], axis=1)


def alert_rates(frame: pd.DataFrame) -> dict[str, float | None]:
    """Share of valid molecules flagged, per family column, plus `any_alert` (a PAINS,
    Brenk or NIH alert: CORE_ALERTS) and `any_flag` (any family). `frame` holds the family columns (see
    `with_alerts`); rows where they are missing (invalid molecules) are left out. Every rate
    is None when no molecule is valid."""
    flags = frame[list(FAMILY_COLUMNS)].dropna()
    if flags.empty:
        return {**dict.fromkeys(FAMILY_COLUMNS), "any_alert": None, "any_flag": None}
    flags = flags.astype(bool)
    out = {c: float(flags[c].mean()) for c in FAMILY_COLUMNS}
    out["any_alert"] = float(flags[list(CORE_ALERTS)].any(axis=1).mean())
    out["any_flag"] = float(flags.any(axis=1).mean())
    return out


def flagged(frame: pd.DataFrame, columns: Sequence[str] = FAMILY_COLUMNS) -> pd.Series:
    """(len(frame),) True where any of `columns` is set; invalid molecules count as not
    flagged (they have no structure to judge)."""
    return frame[list(columns)].fillna(False).astype(bool).any(axis=1)
