"""The 25 RDKit properties of the attribute vector y (see PROPERTIES.md).

One-molecule functions first (`to_mol`, `properties`), then `batch_properties`, which
scores a list of SMILES in parallel and never raises on bad input.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache, partial

import numpy as np
import pandas as pd
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, GraphDescriptors, rdMolDescriptors
from rdkit.Chem.MolStandardize import rdMolStandardize

PROPERTY_NAMES: tuple[str, ...] = (
    "mw", "logp", "tpsa", "hbd", "hba", "rotatable_bonds", "heavy_atoms", "rings",
    "aromatic_rings", "aliphatic_rings", "fsp3", "stereocenters", "qed", "sa_score",
    "np_likeness", "heteroatoms", "nitrogens", "oxygens", "halogens",
    "aromatic_atom_fraction", "molar_refractivity", "bertz_complexity",
    "largest_ring_size", "amide_bonds", "basic_amines",
)

# RDKit logs a line for every SMILES it rejects, and sampled SMILES hold many: muted once per
# process here, where SMILES are parsed (the modules that parse SMILES all import this one)
RDLogger.DisableLog("rdApp.*")

# larger molecules are invalid here: far beyond drug-like (MOSES tops out near 30), and some
# descriptors (BertzCT) grow with the cube of the size, so one huge input could stall a batch
MAX_HEAVY_ATOMS = 150

BASIC_AMINE_SMARTS = "[NX3;!$(N-a);!$(N-[#6,#16,#15]=[#7,#8,#16]);!$(N-[#7,#8]);!$(N-[SX4])]"
_HALOGENS = frozenset((9, 17, 35, 53))


@lru_cache(maxsize=1)
def _contrib():
    """RDKit's SA_Score and NP_Score modules with the NP model loaded once per process."""
    for sub in ("SA_Score", "NP_Score"):
        path = os.path.join(RDConfig.RDContribDir, sub)
        if path not in sys.path:
            sys.path.append(path)
    import npscorer  # noqa: PLC0415  (RDKit Contrib, found through RDContribDir)
    import sascorer  # noqa: PLC0415

    with contextlib.redirect_stderr(io.StringIO()):  # it prints "reading NP model ..."
        model = npscorer.readNPModel()  # RDKit's own packaged model file
    return sascorer, npscorer, model


@lru_cache(maxsize=1)
def _basic_amine_pattern():
    return Chem.MolFromSmarts(BASIC_AMINE_SMARTS)


def to_mol(smiles: str) -> Chem.Mol | None:
    """Parse and sanitize a SMILES; returns None when it does not parse or sanitize."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    try:
        return Chem.MolFromSmiles(smiles.strip())
    except Exception:  # RDKit raises on a few pathological inputs instead of returning None
        return None


@lru_cache(maxsize=1)
def _fragment_chooser():
    return rdMolStandardize.LargestFragmentChooser()


def largest_fragment(smiles: str) -> str:
    """The SMILES of the part of a salt, hydrate or mixture that is scored: RDKit's
    LargestFragmentChooser (most atoms, hydrogens included, then the heavier). Returns ""
    when `smiles` is one molecule or does not parse (it is then scored as given)."""
    if not isinstance(smiles, str) or "." not in smiles:   # no '.': one fragment
        return ""
    mol = to_mol(smiles)
    if mol is None or len(Chem.GetMolFrags(mol)) < 2:   # 'C1.C1' is bonded: one fragment
        return ""
    return Chem.MolToSmiles(_fragment_chooser().choose(mol))


def invalid_reason(smiles: str) -> str:
    """Why `batch_properties` marks a SMILES invalid: "empty", "not parsable or not
    sanitizable", "no heavy atom" or "more than MAX_HEAVY_ATOMS heavy atoms"; "" for one it
    accepts (a descriptor failing on it is the rare remaining case)."""
    if not isinstance(smiles, str) or not smiles.strip():
        return "empty"
    mol = to_mol(smiles)
    if mol is None:
        return "not parsable or not sanitizable"
    n = mol.GetNumHeavyAtoms()
    if n == 0:
        return "no heavy atom"
    if n > MAX_HEAVY_ATOMS:
        return f"{n} heavy atoms, more than {MAX_HEAVY_ATOMS}"
    return ""


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES; returns None for an invalid SMILES."""
    mol = to_mol(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def largest_ring_size(mol: Chem.Mol) -> int:
    rings = mol.GetRingInfo().AtomRings()
    return max((len(r) for r in rings), default=0)


def aromatic_atom_fraction(mol: Chem.Mol) -> float:
    n = mol.GetNumHeavyAtoms()
    if n == 0:
        return 0.0
    return sum(1 for a in mol.GetAtoms() if a.GetIsAromatic() and a.GetAtomicNum() > 1) / n


def _count_atoms(mol: Chem.Mol, numbers: frozenset[int]) -> int:
    return sum(1 for atom in mol.GetAtoms() if atom.GetAtomicNum() in numbers)


def _sa_score(mol: Chem.Mol) -> float:
    return _contrib()[0].calculateScore(mol)


def _np_likeness(mol: Chem.Mol) -> float:
    _, npscorer, model = _contrib()
    return npscorer.scoreMol(mol, model)


# one function per property, in PROPERTY_NAMES order: a caller that needs a few (a reward
# scoring candidates) computes only those, with the same values as the full row
PROPERTY_FUNCTIONS = {
    "mw": Descriptors.MolWt,
    "logp": Crippen.MolLogP,
    "tpsa": rdMolDescriptors.CalcTPSA,
    "hbd": rdMolDescriptors.CalcNumHBD,
    "hba": rdMolDescriptors.CalcNumHBA,
    "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds,
    "heavy_atoms": lambda mol: mol.GetNumHeavyAtoms(),
    "rings": rdMolDescriptors.CalcNumRings,
    "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
    "aliphatic_rings": rdMolDescriptors.CalcNumAliphaticRings,
    "fsp3": rdMolDescriptors.CalcFractionCSP3,
    "stereocenters": lambda mol: len(Chem.FindMolChiralCenters(
        mol, includeUnassigned=True, useLegacyImplementation=False)),
    "qed": QED.qed,
    "sa_score": _sa_score,
    "np_likeness": _np_likeness,
    "heteroatoms": rdMolDescriptors.CalcNumHeteroatoms,
    "nitrogens": lambda mol: _count_atoms(mol, frozenset((7,))),
    "oxygens": lambda mol: _count_atoms(mol, frozenset((8,))),
    "halogens": lambda mol: _count_atoms(mol, _HALOGENS),
    "aromatic_atom_fraction": aromatic_atom_fraction,
    "molar_refractivity": Crippen.MolMR,
    "bertz_complexity": GraphDescriptors.BertzCT,
    "largest_ring_size": largest_ring_size,
    "amide_bonds": rdMolDescriptors.CalcNumAmideBonds,
    "basic_amines": lambda mol: len(mol.GetSubstructMatches(_basic_amine_pattern())),
}
assert tuple(PROPERTY_FUNCTIONS) == PROPERTY_NAMES


def properties(mol: Chem.Mol, names: tuple[str, ...] = PROPERTY_NAMES) -> dict[str, float]:
    """The properties `names` (default all 25, in PROPERTY_NAMES order) of one sanitized
    molecule."""
    return {name: PROPERTY_FUNCTIONS[name](mol) for name in names}


def _score_chunk(smiles: list[str], names: tuple[str, ...] = PROPERTY_NAMES
                 ) -> tuple[np.ndarray, list[str | None]]:
    """(len(smiles), len(names)) float64 and canonical SMILES; NaN rows / None for invalid
    ones."""
    out = np.full((len(smiles), len(names)), np.nan)
    canonical: list[str | None] = [None] * len(smiles)
    for i, s in enumerate(smiles):
        mol = to_mol(s)
        if mol is None or not 0 < mol.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS:
            continue
        try:
            values = properties(mol, names)
        except Exception:  # a descriptor that fails on an odd molecule marks it invalid
            continue
        out[i] = [values[name] for name in names]
        canonical[i] = Chem.MolToSmiles(mol)
    return out, canonical


def batch_properties(smiles, n_jobs: int | None = None, chunk_size: int = 2000,
                     progress: bool = False, canonical: bool = False,
                     names: tuple[str, ...] = PROPERTY_NAMES) -> pd.DataFrame:
    """Score a list of SMILES: a DataFrame with `smiles`, `valid` and the 25 properties
    (or only `names`, for a caller that needs a few: a reward scoring candidates).

    Invalid SMILES (unparsable, unsanitizable, empty, not a string, more than
    MAX_HEAVY_ATOMS heavy atoms: `invalid_reason` says which) get `valid=False` and NaN
    properties; this function never raises on bad molecules. Batches larger than
    `chunk_size` run over `n_jobs` processes (default: all cores). With `canonical`, a
    `canonical_smiles` column (None when invalid) follows `smiles`.
    """
    smiles = ["" if s is None or (isinstance(s, float) and math.isnan(s)) else str(s)
              for s in smiles]
    n_jobs = n_jobs or os.cpu_count() or 1
    chunks = [smiles[i:i + chunk_size] for i in range(0, len(smiles), chunk_size)]
    names = tuple(names)
    score = partial(_score_chunk, names=names)
    if n_jobs == 1 or len(chunks) <= 1:
        parts = [score(c) for c in _progress(chunks, progress, len(smiles))]
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            parts = list(_progress(pool.map(score, chunks), progress, len(smiles),
                                   total_chunks=len(chunks)))
    values = (np.concatenate([p[0] for p in parts]) if parts
              else np.empty((0, len(names))))
    frame = pd.DataFrame(values, columns=list(names))
    frame.insert(0, "valid", ~np.isnan(values).any(axis=1) if len(values) else [])
    if canonical:
        frame.insert(0, "canonical_smiles", [c for p in parts for c in p[1]])
    frame.insert(0, "smiles", smiles)
    return frame


def _progress(iterable, enabled: bool, n_molecules: int, total_chunks: int | None = None):
    if not enabled:
        return iterable
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(iterable, total=total_chunks, desc=f"scoring {n_molecules:,} molecules",
                unit="chunk", file=sys.stderr)
