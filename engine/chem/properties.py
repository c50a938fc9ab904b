"""The 25 RDKit properties of the attribute vector y (see PROPERTIES.md).

One-molecule functions first (`to_mol`, `properties`), then `batch_properties`, which
scores a list of SMILES (over a process pool when large) and never raises on bad input.

Each SMILES is parsed once and every property reads that one molecule. Work that
properties share is done once, only where the value is provably the same: `logp` and
`molar_refractivity` are the two halves of one Crippen computation, which RDKit caches on
the molecule; `qed` computes its inputs on the molecule itself rather than on a
hydrogen-stripped copy when the two are the same, so it reuses the row's logP, TPSA and
rotor count, and tests its 116 alerts in one call (see `qed`); the four atom counts come
from one pass over the atoms (`_atom_counts`); `sa_score` and `np_likeness` share each
molecule's Morgan fingerprint (`_SharedMorgan`), sascorer's stereocentre search walks
atoms by index (`_find_chiral_centers`), and BertzCT reads bonds and symmetry classes from
RDKit's matrices (`bertz_complexity`). Where the time went before (one process,
per molecule): qed 0.94 ms of 2.47 (its alerts 0.34, its own logP 0.20), sa_score 0.44,
bertz_complexity 0.22, logp 0.20, np_likeness 0.15, parsing 0.12 (BENCHMARKS.md).
"""
from __future__ import annotations

import collections
import contextlib
import io
import math
import multiprocessing
import os
import re
import sys
import threading
import types
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache, partial

import numpy as np
import pandas as pd
from rdkit import Chem, RDConfig, RDLogger, rdBase
from rdkit.Chem import (QED, Crippen, Descriptors, FilterCatalog, GraphDescriptors,
                        rdFingerprintGenerator, rdMolDescriptors)
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

# the values each property can take, by its definition (PROPERTIES.md): a reward term that
# asks for more can never be met (`engine.chem.rewards.term_reach`). Unbounded where the
# definition sets no bound (logP, molar refractivity, NP-likeness: logarithmic beyond +-4)
PROPERTY_LIMITS: dict[str, tuple[float, float]] = {
    **{name: (0.0, math.inf) for name in PROPERTY_NAMES},
    "logp": (-math.inf, math.inf), "molar_refractivity": (-math.inf, math.inf),
    "np_likeness": (-math.inf, math.inf),
    "heavy_atoms": (1.0, float(MAX_HEAVY_ATOMS)),   # more is invalid here
    "fsp3": (0.0, 1.0), "aromatic_atom_fraction": (0.0, 1.0), "qed": (0.0, 1.0),
    "sa_score": (1.0, 10.0),                           # sascorer clips to 1 .. 10
}
# whole values inside those limits a count never takes: a ring has 3 atoms or more
PROPERTY_GAPS: dict[str, tuple[int, int]] = {"largest_ring_size": (1, 2)}
# counts: a property whose every value is a whole number
INTEGER_PROPERTIES = frozenset((
    "hbd", "hba", "rotatable_bonds", "heavy_atoms", "rings", "aromatic_rings",
    "aliphatic_rings", "stereocenters", "heteroatoms", "nitrogens", "oxygens", "halogens",
    "largest_ring_size", "amide_bonds", "basic_amines"))

BASIC_AMINE_SMARTS = "[NX3;!$(N-a);!$(N-[#6,#16,#15]=[#7,#8,#16]);!$(N-[#7,#8]);!$(N-[SX4])]"
_HALOGENS = frozenset((9, 17, 35, 53))


class _SharedMorgan(threading.local):
    """RDKit's radius-2 Morgan generator (2,048 bits) as sascorer and npscorer build it
    (`GetMorganGenerator(radius=2)` and `(radius=2, fpSize=2048)`: the same generator).
    Both compute the same sparse count fingerprint of a molecule, one after the other; inside
    `once(mol)` the first computes it and the second gets that same object. Outside it, or
    for another molecule, it is computed afresh. The molecule held is per thread (the
    dashboard scores in several)."""

    def __init__(self):
        self._generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
        self._mol, self._fingerprint = None, None

    def GetSparseCountFingerprint(self, mol):  # noqa: N802  (the generator's own name)
        if mol is not self._mol:
            return self._generator.GetSparseCountFingerprint(mol)
        if self._fingerprint is None:
            self._fingerprint = self._generator.GetSparseCountFingerprint(mol)
        return self._fingerprint

    @contextlib.contextmanager
    def once(self, mol: Chem.Mol):
        self._mol, self._fingerprint = mol, None
        try:
            yield
        finally:
            self._mol, self._fingerprint = None, None


def _morgan_generator(shared: _SharedMorgan, radius: int = 2,
                      fpSize: int = 2048, **rest):  # noqa: N803  (RDKit's argument name)
    """npscorer's `GetMorganGenerator`: the shared one for the arguments it passes."""
    if (radius, fpSize, rest) == (2, 2048, {}):
        return shared
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=fpSize, **rest)


def _find_chiral_centers(mol, force=True, includeUnassigned=False, includeCIP=True,  # noqa: N803
                         useLegacyImplementation=None):
    """`Chem.FindMolChiralCenters` for sascorer, which counts its result. Under the legacy
    stereo perception (RDKit's default here) RDKit's function clears each atom's
    `_ChiralityPossible`, runs `AssignStereochemistry` and reads two properties of each atom,
    walking the atoms through RDKit's Python atom sequence (0.085 of its 0.10 ms); the same
    calls over atom indices return the same list. Any other case is RDKit's function."""
    if useLegacyImplementation is False or not Chem.GetUseLegacyStereoPerception():
        return Chem.FindMolChiralCenters(mol, force=force, includeUnassigned=includeUnassigned,
                                         includeCIP=includeCIP,
                                         useLegacyImplementation=useLegacyImplementation)
    atoms = [mol.GetAtomWithIdx(i) for i in range(mol.GetNumAtoms())]
    for atom in atoms:
        atom.ClearProp("_ChiralityPossible")
    Chem.AssignStereochemistry(mol, force=force, flagPossibleStereoCenters=includeUnassigned,
                               cleanIt=True)
    centers = []
    for i, atom in enumerate(atoms):
        if atom.HasProp("_CIPCode"):
            centers.append((i, atom.GetProp("_CIPCode")))
        elif includeUnassigned and atom.HasProp("_ChiralityPossible"):
            centers.append((i, "?"))
    return centers


class _ChemForSascorer(types.ModuleType):
    """`rdkit.Chem` as sascorer sees it: the same module, but `FindMolChiralCenters` is
    `_find_chiral_centers`."""

    FindMolChiralCenters = staticmethod(_find_chiral_centers)

    def __getattr__(self, name):
        return getattr(Chem, name)


_SHARED_MORGAN = _SharedMorgan()


def _bond_dict_etc(mol: Chem.Mol, numAtoms: int):  # noqa: N803  (RDKit's argument name)
    """`GraphDescriptors._CreateBondDictEtc` for `bertz_complexity`: each bond's order (1.5
    for an aromatic bond, else its type as a number) and each atom's sorted neighbours,
    read from two matrices RDKit builds in C++ instead of a walk over the bonds in Python
    (0.09 of BertzCT's 0.22 ms). `mol._balabanMat` is the molecule's Balaban distance
    matrix, set by `bertz_complexity` just before (where a bond's entry is 2/3 if it is
    aromatic, else 1/its order, or a shorter path); the bond-order adjacency matrix holds
    each bond's type as a number. Taken only where, for every bond, the adjacency matrix
    holds it once on each side, its order v lies in [1, 3] and its Balaban entry is 1/v:
    then every bond adds at least 1/3 to a path, so no path of two bonds or more is
    shorter than 2/3, and an aromatic bond whose type is not 1.5 would show 2/3 or less
    where 1/v is asked (a dative, zero-order or hydrogen bond breaks the first test).
    Otherwise RDKit's own function."""
    balaban = getattr(mol, "_balabanMat", None)
    adjacency = Chem.GetAdjacencyMatrix(mol, useBO=True, force=True)
    rows, cols = np.nonzero(adjacency)
    upper = rows < cols
    first, second = rows[upper], cols[upper]
    orders = adjacency[first, second]
    if (balaban is None or balaban.shape != adjacency.shape
            or len(orders) != mol.GetNumBonds() or not (adjacency == adjacency.T).all()
            or (len(orders) and not (orders.min() >= 1 and orders.max() <= 3))
            or not (balaban[first, second] == 1.0 / orders).all()):
        return GraphDescriptors._CreateBondDictEtc(mol, numAtoms)
    bonds = dict(zip(zip(first.tolist(), second.tolist()), orders.tolist()))
    degrees = np.bincount(rows, minlength=numAtoms).tolist()
    neighbours: list[list[int] | None] = [None] * numAtoms
    ends = np.cumsum(degrees).tolist()
    cols = cols.tolist()
    for atom, (degree, end) in enumerate(zip(degrees, ends)):
        if degree:
            neighbours[atom] = cols[end - degree:end]
    return bonds, neighbours, degrees


def _symmetry_classes(mol: Chem.Mol, vdList, bdMat, forceBDMat, numAtoms: int,  # noqa: N803
                      cutoff: int) -> tuple[int, ...]:
    """`GraphDescriptors._AssignSymmetryClasses` for `bertz_complexity`: atoms whose sorted
    Balaban rows print alike to four decimals share a class, numbered by first appearance.
    RDKit formats each row as text; here each distance times 10^4 is rounded to an integer,
    which gives the same groups wherever no value lies within 10^-3 of a rounding tie
    (Balaban distances are sums of 1/order; the ties of four-decimal printing are far from
    them). Otherwise, or asked to compute the matrix itself, RDKit's own function."""
    if forceBDMat or cutoff < 1:
        return GraphDescriptors._AssignSymmetryClasses(mol, vdList, bdMat, forceBDMat,
                                                       numAtoms, cutoff)
    scaled = np.sort(bdMat, axis=1)[:numAtoms, :cutoff] * 1e4
    keys = np.rint(scaled)
    if not (np.abs(scaled - keys) < 0.499).all() or not (scaled < 2.0 ** 52).all():
        return GraphDescriptors._AssignSymmetryClasses(mol, vdList, bdMat, forceBDMat,
                                                       numAtoms, cutoff)
    keys = np.ascontiguousarray(keys)
    rows = keys.view(np.dtype((np.void, keys.shape[1] * keys.itemsize))).ravel().tolist()
    seen: dict[bytes, int] = {}
    return tuple(seen.setdefault(row, len(seen)) + 1 for row in rows)


# RDKit's BertzCT itself, its two helpers above in place of the module's own
_BERTZ_CT = types.FunctionType(
    GraphDescriptors.BertzCT.__code__,
    {**vars(GraphDescriptors), "_CreateBondDictEtc": _bond_dict_etc,
     "_AssignSymmetryClasses": _symmetry_classes},
    "BertzCT", GraphDescriptors.BertzCT.__defaults__)


def bertz_complexity(mol: Chem.Mol) -> float:
    """`GraphDescriptors.BertzCT(mol)`, the same value for less work: RDKit's own function
    with `_bond_dict_etc` and `_symmetry_classes` as its helpers, given the Balaban matrix
    its default computes (computed here once, for both, and left on the molecule as RDKit
    leaves it)."""
    if mol.GetNumAtoms() < 2:
        return GraphDescriptors.BertzCT(mol)
    balaban = Chem.GetDistanceMatrix(mol, useBO=True, useAtomWts=False, force=True,
                                     prefix="Balaban")
    mol._balabanMat = balaban
    return _BERTZ_CT(mol, dMat=balaban, forceDMat=0)


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
    # npscorer builds a Morgan generator and a namedtuple class anew for every molecule,
    # the same two each time (0.09 of its 0.16 ms): built once per process instead, with
    # the arguments it passes, they give the same scores. The generator is sascorer's too,
    # and `properties` lets the two share each molecule's fingerprint (`_SharedMorgan`)
    npscorer.namedtuple = lru_cache(maxsize=None)(collections.namedtuple)
    npscorer.rdFingerprintGenerator = types.SimpleNamespace(
        GetMorganGenerator=partial(_morgan_generator, _SHARED_MORGAN))
    sascorer.mfpgen = _SHARED_MORGAN
    sascorer.Chem = _ChemForSascorer("rdkit.Chem")
    # read now, not at the first score: a scoring pool forks after this, and each worker
    # would otherwise spend half a second reading the same file
    sascorer.readFragmentScores()
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
    return rdMolStandardize.LargestFragmentChooser(preferOrganic=True)


@lru_cache(maxsize=1)
def _uncharger():
    return rdMolStandardize.Uncharger()


# a charge is written only inside brackets: a SMILES without one needs no neutralizing
_CHARGE_WRITTEN = re.compile(r"\[[^\]]*[+-]")


def scored_form(smiles: str) -> str:
    """The SMILES scored for a chemist's molecule (`score`, the dashboard's uploads): the
    largest fragment of a salt, hydrate or mixture (RDKit's LargestFragmentChooser, organic
    fragments first: most atoms, hydrogens included, then the heavier), its charges
    neutralized where a proton does it (RDKit's Uncharger: a carboxylate becomes the acid,
    an ammonium the amine; a quaternary ammonium, a nitro group or an N-oxide stays as
    written). Returns "" when
    that is the molecule as given, or when it does not parse (it is then scored, and
    refused, as given)."""
    if not isinstance(smiles, str):
        return ""
    several, charged = "." in smiles, _CHARGE_WRITTEN.search(smiles) is not None
    if not several and not charged:
        return ""
    mol = to_mol(smiles)
    if mol is None:
        return ""
    parent = _fragment_chooser().choose(mol) if len(Chem.GetMolFrags(mol)) > 1 else mol
    if charged:
        parent = _uncharger().uncharge(parent)
    form = Chem.MolToSmiles(parent)
    return "" if form == Chem.MolToSmiles(mol) else form


_BRACKET_SYMBOL = re.compile(r"\[\d*([A-Za-z][a-z]?)")
_BRACKET_ATOM = re.compile(r"\[[^\]]*\]")


def _writes_carbon(smiles: str) -> bool:
    """Whether the SMILES writes a carbon atom: outside brackets every `c` and every `C` not
    starting `Cl`; inside, the element symbol `C` or `c` (not `Cl`, `Ca`, `Cu`, ...)."""
    if any(symbol in ("C", "c") for symbol in _BRACKET_SYMBOL.findall(smiles)):
        return True
    return re.search(r"C(?!l)|c", _BRACKET_ATOM.sub("", smiles)) is not None


NOT_ORGANIC = ("no carbon atom: an inorganic salt, water or a metal is not scored as a "
               "molecule (--as-given scores it as written)")


def organic_refusal(smiles: str) -> str:
    """Why a chemist's molecule is not scored although RDKit reads it: NOT_ORGANIC for a
    `scored_form` (or SMILES as given) without a carbon atom, such as sodium chloride,
    water or a metal; "" otherwise (invalid SMILES included: `invalid_reason` says why)."""
    if not isinstance(smiles, str) or _writes_carbon(smiles) or to_mol(smiles) is None:
        return ""
    return NOT_ORGANIC


def invalid_reason(smiles: str) -> str:
    """Why `batch_properties` marks a SMILES invalid, in RDKit's words where RDKit refuses
    it: "empty"; "not a SMILES: unclosed ring" (or "syntax error at position 9", ...: the
    parser's message); "not sanitizable: Explicit valence for atom # 1 C, 5, is greater
    than permitted" (or "Can't kekulize mol ...": the chemistry problems RDKit finds); "no
    heavy atom"; "N heavy atoms, more than MAX_HEAVY_ATOMS"; "" for one it accepts (a
    descriptor failing on it is the rare remaining case)."""
    if not isinstance(smiles, str) or not smiles.strip():
        return "empty"
    mol = to_mol(smiles)
    if mol is None:
        return _refusal(smiles.strip())
    n = mol.GetNumHeavyAtoms()
    if n == 0:
        return "no heavy atom"
    if n > MAX_HEAVY_ATOMS:
        return f"{n} heavy atoms, more than {MAX_HEAVY_ATOMS}"
    return ""


def _refusal(smiles: str) -> str:
    """What RDKit says of a SMILES it does not parse or sanitize."""
    try:
        with rdBase.CaptureErrorLog() as log:
            raw = Chem.MolFromSmiles(smiles, sanitize=False)
        problems = [] if raw is None else Chem.DetectChemistryProblems(raw)
    except Exception:  # the few inputs RDKit raises on
        return "not parsable or not sanitizable"
    if raw is None:
        lines = [re.sub(r"^\[[\d:]+\]\s*", "", line) for line in log.messages.splitlines()]
        errors = [line.removeprefix("SMILES Parse Error: ") for line in lines
                  if line.startswith("SMILES Parse Error: ")]
        where = next((m.group(1) for line in errors
                      if (m := re.search(r"around position (\d+)", line))), None)
        first = re.sub(r"( while parsing:| for input:).*$", "", errors[0]) if errors else ""
        if first and where:
            first += f" at position {where}"
        return "not a SMILES" + (f": {first}" if first else "")
    if problems:
        return "not sanitizable: " + "; ".join(
            " ".join(p.Message().split()) for p in problems)
    return "not parsable or not sanitizable"


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES; returns None for an invalid SMILES."""
    mol = to_mol(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def largest_ring_size(mol: Chem.Mol) -> int:
    rings = mol.GetRingInfo().AtomRings()
    return max((len(r) for r in rings), default=0)


_ATOM_COUNTED = ("nitrogens", "oxygens", "halogens", "aromatic_atom_fraction")


def _atom_counts(mol: Chem.Mol) -> dict[str, float]:
    """The four properties that count atoms, from one pass over them (by index: RDKit's
    Python atom sequence costs more than the counting)."""
    nitrogens = oxygens = halogens = aromatic = 0
    for i in range(mol.GetNumAtoms()):
        atom = mol.GetAtomWithIdx(i)
        number = atom.GetAtomicNum()
        nitrogens += number == 7
        oxygens += number == 8
        halogens += number in _HALOGENS
        aromatic += number > 1 and atom.GetIsAromatic()
    heavy = mol.GetNumHeavyAtoms()
    return {"nitrogens": nitrogens, "oxygens": oxygens, "halogens": halogens,
            "aromatic_atom_fraction": aromatic / heavy if heavy else 0.0}


def aromatic_atom_fraction(mol: Chem.Mol) -> float:
    """Aromatic heavy atoms / heavy atoms (0 without heavy atoms)."""
    return _atom_counts(mol)["aromatic_atom_fraction"]


@lru_cache(maxsize=1)
def _qed_alerts() -> FilterCatalog.FilterCatalog:
    """QED's 116 structural alerts as one catalog: one C++ call tests them all, each by the
    same substructure search (any match, default parameters) as QED's HasSubstructMatch."""
    catalog = FilterCatalog.FilterCatalog()
    for i, alert in enumerate(QED.StructuralAlerts):
        catalog.AddEntry(FilterCatalog.FilterCatalogEntry(
            str(i), FilterCatalog.SmartsMatcher(alert)))
    return catalog


def _default_rotors_are_strict() -> bool:
    """Whether RDKit's default rotor definition (fixed when RDKit is built) is the strict
    one that QED asks for. This molecule tells it apart: its CF3 rotor counts under the
    non-strict and the strict-linkage definitions, not under the strict one."""
    mol = Chem.MolFromSmiles("CCC(F)(F)F")
    count = rdMolDescriptors.CalcNumRotatableBonds
    strict, loose = (rdMolDescriptors.NumRotatableBondsOptions.Strict,
                     rdMolDescriptors.NumRotatableBondsOptions.NonStrict)
    return count(mol) == count(mol, strict) != count(mol, loose)


# where it is, the `rotatable_bonds` property is QED's ROTB and is computed once per row
DEFAULT_ROTORS_ARE_STRICT = _default_rotors_are_strict()
_STRICT_ROTORS = rdMolDescriptors.NumRotatableBondsOptions.Strict


def qed(mol: Chem.Mol, rotatable_bonds: int | None = None) -> float:
    """`QED.qed(mol)`, for less work. RDKit's `QED.properties` computes QED's eight inputs
    on `Chem.RemoveHs(mol)`; when that copy is the same molecule (`ToBinary` equal: no
    explicit hydrogen, nothing perceived differently), they are taken from `mol` itself:
    weight, Crippen logP, donors and TPSA by the calls of the `mw`, `logp`, `hbd` and `tpsa`
    properties (RDKit caches logP and TPSA on the molecule, so a full row computes them
    once), the strict rotor count from `rotatable_bonds` (the molecule's `rotatable_bonds`
    property, used only where DEFAULT_ROTORS_ARE_STRICT), and the 116 alerts in one
    catalog call; RDKit's `QED.qed` combines them. Otherwise RDKit's own `QED.qed(mol)`."""
    stripped = Chem.RemoveHs(mol)
    if stripped.ToBinary() != mol.ToBinary():
        return QED.qed(mol)
    if rotatable_bonds is None or not DEFAULT_ROTORS_ARE_STRICT:
        rotatable_bonds = rdMolDescriptors.CalcNumRotatableBonds(mol, _STRICT_ROTORS)
    inputs = QED.QEDproperties(
        MW=Descriptors.MolWt(mol),
        ALOGP=Crippen.MolLogP(mol),
        # QED tests HasSubstructMatch first; an acceptor without a match counts 0 either way
        HBA=sum(len(mol.GetSubstructMatches(pattern)) for pattern in QED.Acceptors),
        HBD=rdMolDescriptors.CalcNumHBD(mol),
        PSA=rdMolDescriptors.CalcTPSA(mol),
        ROTB=rotatable_bonds,
        # QED copies the molecule first; DeleteSubstructs returns a new one either way
        AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(mol, QED.AliphaticRings))),
        ALERTS=len(_qed_alerts().GetMatches(mol)),
    )
    return QED.qed(mol, qedProperties=inputs)


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
    # with unassigned centres counted, the CIP labels (includeCIP) change no count: skipped
    "stereocenters": lambda mol: len(Chem.FindMolChiralCenters(
        mol, includeUnassigned=True, includeCIP=False, useLegacyImplementation=False)),
    "qed": qed,
    "sa_score": _sa_score,
    "np_likeness": _np_likeness,
    "heteroatoms": rdMolDescriptors.CalcNumHeteroatoms,
    "nitrogens": lambda mol: _atom_counts(mol)["nitrogens"],
    "oxygens": lambda mol: _atom_counts(mol)["oxygens"],
    "halogens": lambda mol: _atom_counts(mol)["halogens"],
    "aromatic_atom_fraction": aromatic_atom_fraction,
    "molar_refractivity": Crippen.MolMR,
    "bertz_complexity": bertz_complexity,
    "largest_ring_size": largest_ring_size,
    "amide_bonds": rdMolDescriptors.CalcNumAmideBonds,
    "basic_amines": lambda mol: len(mol.GetSubstructMatches(_basic_amine_pattern())),
}
assert tuple(PROPERTY_FUNCTIONS) == PROPERTY_NAMES


def properties(mol: Chem.Mol, names: tuple[str, ...] = PROPERTY_NAMES) -> dict[str, float]:
    """The properties `names` (default all 25) of one sanitized molecule, in the order of
    `names`; each has the value its PROPERTY_FUNCTIONS entry gives. They are computed in
    PROPERTY_NAMES order whatever the order of `names`, so a subset never sees the molecule
    in another state than the full row does."""
    wanted = set(names)
    values = _atom_counts(mol) if not wanted.isdisjoint(_ATOM_COUNTED) else {}
    with _SHARED_MORGAN.once(mol):   # sa_score's Morgan fingerprint is np_likeness's
        for name in PROPERTY_NAMES:
            if name == "qed" and name in wanted:
                values[name] = qed(mol, values.get("rotatable_bonds"))
            elif name in wanted and name not in values:
                values[name] = PROPERTY_FUNCTIONS[name](mol)
    return {name: values[name] for name in names}


def _score_chunk(smiles: list[str], names: tuple[str, ...] = PROPERTY_NAMES,
                 canonical: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """(len(smiles), len(names)) float64 and canonical SMILES (all None without
    `canonical`); NaN rows / None for invalid ones."""
    out = np.full((len(smiles), len(names)), np.nan)
    canonicals: list[str | None] = [None] * len(smiles)
    for i, s in enumerate(smiles):
        mol = to_mol(s)
        if mol is None or not 0 < mol.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS:
            continue
        try:
            values = properties(mol, names)
        except Exception:  # a descriptor that fails on an odd molecule marks it invalid
            continue
        out[i] = [values[name] for name in names]
        if canonical:
            canonicals[i] = Chem.MolToSmiles(mol)
    return out, canonicals


def _default_jobs() -> int:
    """Processes for a large batch: the cores this process may run on. A process started by
    multiprocessing (another pool's worker, a Dask worker) uses 1: whoever started it
    already spreads the work over the cores."""
    if multiprocessing.parent_process() is not None:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def batch_properties(smiles, n_jobs: int | None = None, chunk_size: int = 2000,
                     progress: bool = False, canonical: bool = False,
                     names: tuple[str, ...] = PROPERTY_NAMES) -> pd.DataFrame:
    """Score a list of SMILES: a DataFrame with `smiles`, `valid` and the 25 properties
    (or only `names`, for a caller that needs a few: a reward scoring candidates).

    Invalid SMILES (unparsable, unsanitizable, empty, not a string, more than
    MAX_HEAVY_ATOMS heavy atoms: `invalid_reason` says which) get `valid=False` and NaN
    properties; this function never raises on bad molecules. With `canonical`, a
    `canonical_smiles` column (None when invalid) follows `smiles`.

    Batches of up to `chunk_size` molecules are scored in this process. Larger ones run
    over `n_jobs` processes (default: the usable cores, 1 inside a worker process; always
    1 inside a daemonic process, which may not start any), in pieces of at most
    `chunk_size`, about eight per process so that none idles long at the end. Rows keep
    the input order and the values do not depend on `n_jobs`. The pool is shut down
    before returning, so its workers' CPU time is in this process's children's rusage
    (`engine.device.cpu_seconds`).
    """
    smiles = ["" if s is None or (isinstance(s, float) and math.isnan(s)) else str(s)
              for s in smiles]
    n_jobs = n_jobs or _default_jobs()
    if multiprocessing.current_process().daemon:
        n_jobs = 1
    names = tuple(names)
    score = partial(_score_chunk, names=names, canonical=canonical)
    if n_jobs == 1 or len(smiles) <= chunk_size:
        chunks = [smiles[i:i + chunk_size] for i in range(0, len(smiles), chunk_size)]
        parts = [score(c) for c in _progress(chunks, progress, len(smiles))]
    else:
        size = min(chunk_size, -(-len(smiles) // (8 * n_jobs)))
        chunks = [smiles[i:i + size] for i in range(0, len(smiles), size)]
        _contrib()       # loaded once here and inherited by the forked workers,
        _qed_alerts()    # not once per worker
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(chunks))) as pool:
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
