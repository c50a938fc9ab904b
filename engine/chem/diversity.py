"""Diversity of a set of molecules: the distribution metrics MOSES reports (internal
diversity, scaffold diversity, the Fréchet ChemNet Distance), and the per-molecule views a
chemist works with: Bemis-Murcko scaffolds, Tanimoto similarity to reference molecules,
Butina clusters and MaxMin diverse picks. All fingerprints are RDKit Morgan radius 2.

Failure contract: an invalid SMILES never raises; it is left out before a metric is taken
(each function says what its denominator counts) and gets None (or NaN in a table) where a
per-molecule value is asked for. A molecule of more than MAX_HEAVY_ATOMS heavy atoms is
invalid here as in scoring (a Murcko scaffold takes seconds at 1,000 atoms, minutes at
8,000). A metric that is undefined for the molecules left (too few of them) is None, never
NaN. A reference SMILES that does not parse or is over the bound raises SimilarityError.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.ML.Cluster import Butina
from rdkit.SimDivFilters.rdSimDivPickers import MaxMinPicker

from engine.chem.properties import MAX_HEAVY_ATOMS, to_mol
from engine.errors import UserError

MORGAN_RADIUS = 2
MORGAN_BITS = 1024          # MOSES's IntDiv fingerprint
SIMILARITY_BITS = 2048      # ECFP4-like fingerprint for similarity, clusters and picks
INTDIV_MAX_MOLECULES = 10_000  # 50 M pairs, about 10 s on one CPU core
CLUSTER_MAX_MOLECULES = 5_000  # Butina holds all n (n - 1) / 2 distances in memory


class SimilarityError(UserError):
    """Reference molecules or clustering settings that cannot be used."""


def _mol(smiles: str) -> Chem.Mol | None:
    """The sanitized molecule of a SMILES; None when it does not parse or has more than
    MAX_HEAVY_ATOMS heavy atoms (parsing is linear, what follows here is not)."""
    mol = to_mol(smiles)
    return mol if mol is not None and mol.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS else None


def _valid_mols(smiles: Sequence[str]) -> list[Chem.Mol]:
    return [m for m in map(_mol, smiles) if m is not None]


@lru_cache(maxsize=2)
def morgan_generator(bits: int = SIMILARITY_BITS):
    """RDKit's Morgan fingerprint generator, radius 2, `bits` bits (shared, cached)."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=bits)


def _fingerprints(mols: Sequence[Chem.Mol], bits: int = SIMILARITY_BITS) -> list:
    generator = morgan_generator(bits)
    return [generator.GetFingerprint(m) for m in mols]


def _valid_fingerprints(smiles: Sequence[str]) -> tuple[list[int], list]:
    """(positions of the valid SMILES, their 2048-bit fingerprints)."""
    mols = [_mol(s) for s in smiles]
    kept = [i for i, m in enumerate(mols) if m is not None]
    return kept, _fingerprints([mols[i] for i in kept])


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
    fps = _fingerprints(mols, MORGAN_BITS)
    total = sum(sum(DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1:]))
                for i in range(len(fps) - 1))
    n = len(fps)
    return 1.0 - total / (n * (n - 1) / 2)


def murcko_scaffold(smiles: str) -> str | None:
    """Canonical SMILES of the Bemis-Murcko scaffold (ring systems and the linkers between
    them); "" for an acyclic molecule, None for an invalid SMILES or one over
    MAX_HEAVY_ATOMS heavy atoms."""
    mol = _mol(smiles)
    return None if mol is None else MurckoScaffold.MurckoScaffoldSmiles(mol=mol)


def scaffold_diversity(smiles: Sequence[str]) -> float | None:
    """Unique Bemis-Murcko scaffolds / number of valid molecules (duplicates included).

    Acyclic molecules have no scaffold: they count in the denominator only. Returns None
    when no molecule is valid."""
    scaffolds = [s for s in map(murcko_scaffold, smiles) if s is not None]
    if not scaffolds:
        return None
    return len(set(scaffolds) - {""}) / len(scaffolds)


def unique_scaffolds(smiles: Sequence[str], rewards: Sequence[float] | None = None,
                     min_reward: float = 0.0) -> int:
    """Distinct Bemis-Murcko scaffolds among the valid molecules whose reward is at least
    `min_reward` (all valid molecules when `rewards` is None). Acyclic molecules have no
    scaffold and are not counted."""
    keep = (smiles if rewards is None else
            [s for s, r in zip(smiles, rewards) if r is not None and r >= min_reward])
    return len({s for s in map(murcko_scaffold, keep) if s})


def scaffold_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per Bemis-Murcko scaffold of the valid molecules of `frame` (which needs
    "smiles" and "valid" columns, and may have "reward"): `scaffold` ("" for acyclic
    molecules), `molecules` (distinct SMILES), and when rewards are there `mean_reward` and
    `best_reward`; most molecules first, then best mean reward."""
    mols = frame.loc[frame["valid"].astype(bool)].drop_duplicates("smiles")
    table = mols.assign(scaffold=[murcko_scaffold(s) for s in mols["smiles"]])
    groups = table.groupby("scaffold", sort=False)
    out = groups.size().rename("molecules").to_frame()
    order = ["molecules"]
    if "reward" in table:
        out["mean_reward"] = groups["reward"].mean()
        out["best_reward"] = groups["reward"].max()
        order.append("mean_reward")
    out = out.reset_index().sort_values(order, ascending=False, kind="stable")
    return out.reset_index(drop=True)


def reference_similarity(smiles: Sequence[str], references: Sequence[str]) -> pd.DataFrame:
    """Per molecule, in order: `similarity`, the largest Tanimoto similarity (Morgan radius
    2, 2048 bits) to any reference, and `nearest_reference`, that reference as given (the
    first on ties). Invalid molecules get NaN and a missing reference.

    Raises SimilarityError when there is no reference, or one does not parse or has more
    than MAX_HEAVY_ATOMS heavy atoms (naming it)."""
    references = [r.strip() for r in references if r and r.strip()]
    if not references:
        raise SimilarityError("no reference molecule given: paste one or more SMILES, one "
                              "per line, e.g. CN1CCC[C@H]1c1cccnc1")
    ref_mols = [to_mol(r) for r in references]
    bad = [r for r, m in zip(references, ref_mols) if m is None]
    if bad:
        raise SimilarityError(f"reference SMILES that RDKit cannot parse: {', '.join(bad)}; "
                              "fix or remove them")
    big = [f"{r[:40]}{'...' if len(r) > 40 else ''} ({m.GetNumHeavyAtoms():,} atoms)"
           for r, m in zip(references, ref_mols) if m.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS]
    if big:
        raise SimilarityError(f"reference molecules with more heavy atoms than the "
                              f"{MAX_HEAVY_ATOMS} allowed: {', '.join(big)}; remove them")
    best, nearest = nearest_references([_mol(s) for s in smiles], _fingerprints(ref_mols),
                                       references)
    return pd.DataFrame({"similarity": best, "nearest_reference": nearest})


def nearest_references(mols: Sequence[Chem.Mol | None], ref_fps: Sequence,
                       references: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
    """Per molecule: the largest Tanimoto similarity of its 2048-bit Morgan fingerprint to
    `ref_fps`, and the reference (of `references`, same order) it belongs to, the first on
    ties; NaN and None for a molecule that is None (invalid)."""
    generator = morgan_generator()
    best = np.full(len(mols), np.nan)
    nearest: list[str | None] = [None] * len(mols)
    for i, mol in enumerate(mols):
        if mol is not None:
            sims = DataStructs.BulkTanimotoSimilarity(generator.GetFingerprint(mol), ref_fps)
            j = int(np.argmax(sims))
            best[i], nearest[i] = sims[j], references[j]
    return best, nearest


def butina_clusters(smiles: Sequence[str], distance: float = 0.6) -> list[int | None]:
    """Butina (Taylor-Butina) cluster of each molecule, in order, on Tanimoto distance
    (1 - similarity, Morgan radius 2, 2048 bits) with `distance` as the cutoff: 0 is the
    largest cluster, then by falling size. Invalid molecules get None.

    Raises SimilarityError when `distance` is outside [0, 1] or there are more than
    CLUSTER_MAX_MOLECULES valid molecules."""
    if not 0 <= distance <= 1:
        raise SimilarityError(f"the Butina distance cutoff must be from 0 to 1, got {distance}")
    kept, fps = _valid_fingerprints(smiles)
    if len(kept) > CLUSTER_MAX_MOLECULES:
        raise SimilarityError(f"{len(kept):,} molecules are too many to cluster (at most "
                              f"{CLUSTER_MAX_MOLECULES:,}); pick a diverse subset first")
    dists = []   # the lower triangle, row by row, as Butina.ClusterData reads it
    for i in range(1, len(fps)):
        dists.extend(1 - x for x in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    clusters = Butina.ClusterData(dists, len(fps), distance, isDistData=True)
    out: list[int | None] = [None] * len(smiles)
    for number, members in enumerate(sorted(clusters, key=len, reverse=True)):
        for k in members:
            out[kept[k]] = number
    return out


def pick_diverse(smiles: Sequence[str], n: int, already: Sequence[int] = (),
                 seed: int = 0) -> list[int]:
    """Positions of up to `n` valid molecules picked by RDKit's MaxMin algorithm (each the
    farthest, by Tanimoto distance on Morgan radius 2 / 2048 bits, from all picked so far),
    starting from the positions in `already` (which are not returned again). Fewer than `n`
    come back when fewer valid molecules are left; repeatable for a given `seed`."""
    kept, fps = _valid_fingerprints(smiles)
    where = {i: k for k, i in enumerate(kept)}
    first = [where[i] for i in dict.fromkeys(already) if i in where]
    size = min(len(kept), len(first) + max(0, n))
    if size <= len(first):
        return []
    picks = MaxMinPicker().LazyBitVectorPick(fps, len(fps), size, firstPicks=first, seed=seed)
    return [kept[k] for k in list(picks)[len(first):]]


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
