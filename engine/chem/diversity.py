"""Distribution metrics of a set of molecules, as MOSES reports them: internal diversity,
scaffold diversity and the Fréchet ChemNet Distance (FCD).

Failure contract: an invalid SMILES never raises; it is left out before a metric is taken
(each function says what its denominator counts). A metric that is undefined for the
molecules left (too few of them) is None, never NaN.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from engine.chem.properties import to_mol

MORGAN_RADIUS = 2
MORGAN_BITS = 1024          # MOSES's IntDiv fingerprint
INTDIV_MAX_MOLECULES = 10_000  # 50 M pairs, about 10 s on one CPU core


def _valid_mols(smiles: Sequence[str]) -> list[Chem.Mol]:
    return [m for m in map(to_mol, smiles) if m is not None]


def internal_diversity(smiles: Sequence[str], max_molecules: int = INTDIV_MAX_MOLECULES,
                       seed: int = 0) -> float | None:
    """IntDiv1: 1 - the mean Tanimoto similarity over all pairs of distinct positions
    (i < j) of the valid molecules, on Morgan radius-2, 1024-bit fingerprints.

    Duplicates count as separate molecules (a set of one molecule repeated gives 0), as in
    MOSES; MOSES also averages in the n self-pairs, which lowers its figure by a factor
    (n - 1) / n. Above `max_molecules` valid molecules, a random subset of that size (drawn
    with `seed`) is used. Returns None when fewer than two molecules are valid."""
    mols = _valid_mols(smiles)
    if len(mols) < 2:
        return None
    if len(mols) > max_molecules:
        pick = np.random.default_rng(seed).choice(len(mols), max_molecules, replace=False)
        mols = [mols[i] for i in sorted(pick)]
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS,
                                                          fpSize=MORGAN_BITS)
    fps = [generator.GetFingerprint(m) for m in mols]
    total = sum(sum(DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1:]))
                for i in range(len(fps) - 1))
    n = len(fps)
    return 1.0 - total / (n * (n - 1) / 2)


def murcko_scaffold(smiles: str) -> str | None:
    """Canonical SMILES of the Bemis-Murcko scaffold (ring systems and the linkers between
    them); "" for an acyclic molecule, None for an invalid SMILES."""
    mol = to_mol(smiles)
    return None if mol is None else MurckoScaffold.MurckoScaffoldSmiles(mol=mol)


def scaffold_diversity(smiles: Sequence[str]) -> float | None:
    """Unique Bemis-Murcko scaffolds / number of valid molecules (duplicates included).

    Acyclic molecules have no scaffold: they count in the denominator only. Returns None
    when no molecule is valid."""
    scaffolds = [s for s in map(murcko_scaffold, smiles) if s is not None]
    if not scaffolds:
        return None
    return len(set(scaffolds) - {""}) / len(scaffolds)


@lru_cache(maxsize=2)
def _chemnet(device: str):
    from fcd_torch import FCD  # noqa: PLC0415  (torch model, loaded only when FCD is asked)

    # fcd_torch reads ChemNet from the file inside its own wheel
    # (fcd_torch/ChemNet_v0.13_pretrained.pt, a layer list of state dicts) with torch.load;
    # torch 2.13 defaults to weights_only=True, so even that file goes through the restricted
    # unpickler. Nothing is downloaded and no user file is ever loaded. Callers hand it
    # canonical SMILES, so it need not canonicalize again.
    return FCD(device=device, n_jobs=1, batch_size=512, canonize=False)


def fcd_statistics(smiles: Sequence[str], device: str = "cpu") -> dict[str, np.ndarray] | None:
    """Mean (512,) and covariance (512, 512) of ChemNet's penultimate activations over the
    valid molecules (duplicates included), as {"mu", "sigma", "n"}.

    Returns None when fewer than two molecules are valid (no covariance)."""
    valid = [Chem.MolToSmiles(m) for m in _valid_mols(smiles)]
    if len(valid) < 2:
        return None
    with warnings.catch_warnings():
        # fcd_torch 1.0.7 calls numpy's deprecated row_stack
        warnings.simplefilter("ignore", DeprecationWarning)
        acts = _chemnet(device).get_predictions(valid)                  # (n, 512)
    return {"mu": acts.mean(0), "sigma": np.cov(acts.T), "n": np.array(len(valid))}


def frechet_chemnet_distance(stats: dict[str, np.ndarray] | None,
                             reference: dict[str, np.ndarray] | None) -> float | None:
    """FCD between two sets given their `fcd_statistics`: 0 for identical statistics. Small
    sets read high (their covariance is noisy), so compare sets of equal size only.

    Returns None when either side is None."""
    if stats is None or reference is None:
        return None
    from fcd_torch import calculate_frechet_distance  # noqa: PLC0415

    with warnings.catch_warnings():
        # fcd_torch 1.0.7 passes scipy's deprecated disp= to sqrtm
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(calculate_frechet_distance(stats["mu"], stats["sigma"],
                                                reference["mu"], reference["sigma"]))
