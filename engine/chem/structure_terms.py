"""Structure terms of a reward: what a chemist asks of the molecule itself rather than of its
25 properties (REWARDS.md, "Structure terms").

- `similarity`: the largest Tanimoto similarity (Morgan radius 2, 2048 bits, RDKit) to one
  or more reference molecules, turned into a desirability like any property (maximize,
  minimize, or a window: "analogues, not copies").
- `substructure`: SMARTS that must match (all or any of them) or must not match.
- `alerts`: RDKit FilterCatalog families (PAINS, Brenk, NIH, ...) that must not match.

A substructure or alert term is a hard filter by default (the reward is 0 when it fails)
or, with `mode = "term"`, a weighted term whose desirability is 1 when it passes and 0 when
it fails. Structure terms are not functions of the property vector y, so guidance cannot
steer by them: they act through candidate selection and in every score.

Each term owns a column name (`name`, by default its kind): the raw value goes in that
column (similarity; 1/0 for a substructure term's condition; the number of alerts), the
desirability in `d_<name>`, and a similarity term adds the nearest reference
(`nearest_reference` for the term named `similarity`, `<name>_nearest` otherwise).

Failure contract: every bad value raises RewardError naming the term and what is allowed;
an invalid molecule never raises (raw value NaN, reward 0).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from engine.chem import alerts, diversity
from engine.chem.molfile import FORMATS, MoleculeFileError, read_molecules
from engine.chem.properties import MAX_HEAVY_ATOMS, PROPERTY_NAMES, to_mol
from engine.chem.reward_io import RewardError, finite_number
from engine.chem.structures import SmartsError, smarts_pattern

KINDS = ("similarity", "substructure", "alerts")
GOALS = {"similarity": ("maximize", "minimize", "range"),
         "substructure": ("require", "forbid"),
         "alerts": ("forbid",)}
MODES = ("filter", "term")
MATCHES = ("all", "any")
DEFAULT_NAMES = {"similarity": "similarity", "substructure": "substructure",
                 "alerts": "n_alerts"}
DEFAULT_MODES = {"similarity": "term", "substructure": "filter", "alerts": "filter"}
DEFAULT_WEIGHT = 1.0                    # of every term, property terms too
SIMILARITY_RANGE = (0.0, 1.0)           # Tanimoto: nothing shared .. the same bits
# a similarity window by default (Make analogues, --analogues-of): analogues, not copies
WINDOW = {"low": 0.4, "high": 0.8, "ramp": 0.1}
# the keys each kind reads besides structure, name and weight
KIND_KEYS = {"similarity": ("goal", "low", "high", "ramp", "references"),
             "substructure": ("goal", "smarts", "match", "mode"),
             "alerts": ("goal", "families", "mode")}
# alert families a term may name (lower case) -> the alert column of engine.chem.alerts
FAMILIES = {column.removeprefix("alert_"): column for column in alerts.ALERT_COLUMNS}
DEFAULT_FAMILIES = ("pains", "brenk", "nih")
MAX_REFERENCES = 10_000
MAX_SMARTS = 50
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
# columns a structure term may not take: they hold something else in every table
RESERVED = {"smiles", "valid", "reward", "nll", "id", "name", "row", "inchikey",
            "nearest_reference", *PROPERTY_NAMES, *alerts.COLUMNS}
TERM_KEYS = ("structure", "name", "goal", "low", "high", "ramp", "weight", "mode",
             "references", "references_file", "smarts", "match", "families")


def _strings(value, what: str, limit: int) -> tuple[str, ...]:
    """A string or a list of strings as a tuple of non-blank stripped strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise RewardError(f"{what} must be a string or a list of strings, got {value!r}")
    items = tuple(v.strip() for v in items if v.strip())
    if len(items) > limit:
        raise RewardError(f"{what}: {len(items):,} given; at most {limit:,}")
    return items


@dataclass(frozen=True)
class StructureTerm:
    """One structure term (see the module docstring). Built from a reward file's
    `[[terms]]` table with `structure = ...`, or in code; raises RewardError on any value
    REWARDS.md forbids. `references` are the reference SMILES as given (inline, or read
    from `references_file`, which is kept only to say where they came from)."""

    structure: str
    goal: str = ""
    name: str = ""
    low: float | None = None
    high: float | None = None
    ramp: float | None = None
    weight: float = DEFAULT_WEIGHT
    mode: str = ""
    references: tuple[str, ...] = ()
    smarts: tuple[str, ...] = ()
    match: str = MATCHES[0]
    families: tuple[str, ...] = ()
    references_file: str = field(default="", compare=False)

    def __post_init__(self):
        kind = self.structure
        if kind not in KINDS:
            raise RewardError(f"unknown structure term {kind!r}; allowed: {', '.join(KINDS)}")
        name = self.name or DEFAULT_NAMES[kind]
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise RewardError(f"{kind}: name {name!r} must be lower case letters, digits and _, "
                         "starting with a letter (at most 40 characters); it names the "
                         "term's column")
        if name in RESERVED:
            raise RewardError(f"{kind}: name {name!r} is already a column of every table; "
                         "choose another name")
        where = f"{kind} {name!r}" if self.name else kind
        goal = self.goal or ("forbid" if kind == "alerts" else "")
        if goal not in GOALS[kind]:
            raise RewardError(f"{where}: goal {self.goal!r} is not allowed; a {kind} term takes "
                         f"goal {' | '.join(map(repr, GOALS[kind]))}")
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731 (frozen)
        set_("name", name)
        set_("goal", goal)
        set_("weight", finite_number(self.weight, f"{where}: weight"))
        if self.weight < 0:
            raise RewardError(f"{where}: weight must be >= 0, got {self.weight:g}")
        for key in ("low", "high", "ramp", "references", "smarts", "families"):
            if key not in KIND_KEYS[kind] and getattr(self, key) not in (None, ()):
                raise RewardError(f"{where}: {key} is not used by a {kind} term; remove it")
        if "match" not in KIND_KEYS[kind] and self.match != MATCHES[0]:
            raise RewardError(f"{where}: match is only used by a substructure term; remove it")
        if kind == "similarity":
            self._check_similarity(where)
        else:
            self._check_filter(where, kind)

    def _check_similarity(self, where: str) -> None:
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        if self.mode not in ("", "term"):
            raise RewardError(f"{where}: a similarity term is always a weighted term (mode "
                         f"'term'), got mode {self.mode!r}; use a range goal for a window")
        set_("mode", "term")
        refs = _strings(self.references, f"{where}: references", MAX_REFERENCES)
        if not refs:
            raise RewardError(f"{where}: the reference set is empty; give references = "
                         "[\"SMILES\", ...] or references_file = \"leads.smi\"")
        set_("references", refs)
        _reference_fingerprints(refs, where)          # every reference must parse
        for key in ("low", "high"):
            if getattr(self, key) is None:
                raise RewardError(f"{where}: {key} is missing (a similarity in [0, 1])")
            value = finite_number(getattr(self, key), f"{where}: {key}")
            if not SIMILARITY_RANGE[0] <= value <= SIMILARITY_RANGE[1]:
                raise RewardError(f"{where}: {key} = {value:g} is outside [0, 1]; Tanimoto "
                             "similarity runs from 0 (nothing shared) to 1 (same bits)")
            set_(key, value)
        if self.low >= self.high:
            raise RewardError(f"{where}: low ({self.low:g}) must be below high ({self.high:g})")
        if self.goal == "range":
            if self.ramp is None:
                raise RewardError(f"{where}: goal 'range' needs a ramp > 0 (the width over which "
                             "desirability falls to 0 outside [low, high])")
            set_("ramp", finite_number(self.ramp, f"{where}: ramp"))
            if self.ramp <= 0:
                raise RewardError(f"{where}: ramp must be > 0, got {self.ramp:g}")
        elif self.ramp is not None:
            raise RewardError(f"{where}: ramp is only used by goal 'range'; remove it")

    def _check_filter(self, where: str, kind: str) -> None:
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        mode = self.mode or DEFAULT_MODES[kind]
        if mode not in MODES:
            raise RewardError(f"{where}: mode {self.mode!r} is not allowed; 'filter' (reward 0 "
                         "when it fails) or 'term' (a weighted term: 1 passes, 0 fails)")
        set_("mode", mode)
        if kind == "substructure":
            patterns = _strings(self.smarts, f"{where}: smarts", MAX_SMARTS)
            if not patterns:
                raise RewardError(f"{where}: smarts is missing or empty; e.g. smarts = "
                             "\"[N+](=O)[O-]\" (nitro)")
            for pattern in patterns:
                try:
                    smarts_pattern(pattern)
                except SmartsError as exc:
                    raise RewardError(f"{where}: {exc}") from None
            set_("smarts", patterns)
            if self.match not in MATCHES:
                raise RewardError(f"{where}: match {self.match!r} is not allowed; 'all' (every "
                             "pattern) or 'any' (at least one)")
        else:
            given = _strings(self.families or DEFAULT_FAMILIES, f"{where}: families", 20)
            families = tuple(dict.fromkeys(f.lower() for f in given))
            unknown = [f for f in families if f not in FAMILIES]
            if unknown or not families:
                raise RewardError(f"{where}: unknown alert famil{'ies' if len(unknown) > 1 else 'y'}"
                             f" {', '.join(map(repr, unknown)) or '(none)'}; allowed: "
                             f"{', '.join(FAMILIES)}")
            set_("families", families)

    # ---- what the term computes ---------------------------------------------------------

    @property
    def weighted(self) -> bool:
        """Counts in the weighted aggregate (a filter multiplies the reward instead)."""
        return self.mode == "term"

    @property
    def nearest_column(self) -> str | None:
        """The column naming a similarity term's nearest reference; None for other kinds."""
        if self.structure != "similarity":
            return None
        return "nearest_reference" if self.name == "similarity" else f"{self.name}_nearest"

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw columns this term adds (its value, and the nearest reference)."""
        return (self.name,) + ((self.nearest_column,) if self.nearest_column else ())

    def describe(self) -> str:
        """One line for a chemist: what the term asks."""
        if self.structure == "similarity":
            refs = self.references
            what = (f"Tanimoto to {refs[0]}" if len(refs) == 1
                    else f"largest Tanimoto to {len(refs)} references")
            if self.goal == "range":
                return f"{what} in {self.low:g}-{self.high:g} (ramp {self.ramp:g})"
            return f"{what}: {self.goal} {self.low:g} -> {self.high:g}"
        if self.structure == "substructure":
            join = " and " if self.match == "all" else " or "
            verb = "must contain" if self.goal == "require" else "must not contain"
            return f"{verb} {join.join(self.smarts)} ({self.mode})"
        return f"no {', '.join(FAMILY_NAMES.get(f, f) for f in self.families)} alert ({self.mode})"

    def raw_values(self, mols: Sequence[Chem.Mol | None]) -> pd.DataFrame:
        """The raw columns for parsed molecules (None = invalid: NaN, no nearest)."""
        n = len(mols)
        value = np.full(n, np.nan)
        out: dict[str, object] = {}
        ok = [i for i, m in enumerate(mols) if m is not None]
        if self.structure == "similarity":
            value, out[self.nearest_column] = diversity.nearest_references(
                mols, _reference_fingerprints(self.references, self.name), self.references)
        elif self.structure == "substructure":
            patterns = [smarts_pattern(p) for p in self.smarts]
            test = all if self.match == "all" else any
            for i in ok:
                value[i] = float(test(mols[i].HasSubstructMatch(p) for p in patterns))
        else:
            columns = [FAMILIES[f] for f in self.families]
            for i in ok:
                value[i] = float(alerts.alert_count(mols[i], columns))
        return pd.DataFrame({self.name: value, **out}, columns=list(self.columns))

    def desirability(self, values) -> np.ndarray:
        """(N,) raw values -> (N,) desirabilities in [0, 1]; NaN stays NaN."""
        v = np.asarray(values, dtype=np.float64)
        if self.structure == "similarity":
            if self.goal == "maximize":
                d = (v - self.low) / (self.high - self.low)
            elif self.goal == "minimize":
                d = (self.high - v) / (self.high - self.low)
            else:
                d = 1.0 - np.maximum(np.maximum(self.low - v, v - self.high), 0.0) / self.ramp
            return np.clip(d, 0.0, 1.0)
        if self.structure == "substructure":
            passed = v if self.goal == "require" else 1.0 - v
        else:
            passed = np.where(np.isnan(v), np.nan, (v == 0).astype(np.float64))
        return passed

    def to_dict(self) -> dict:
        """Plain data for the reward file: references always inline, so a downloaded file
        is self-contained; keys at their defaults are left out."""
        out: dict = {"structure": self.structure}
        if self.name != DEFAULT_NAMES[self.structure]:
            out["name"] = self.name
        out["goal"] = self.goal
        if self.structure == "similarity":
            out.update(references=list(self.references), low=self.low, high=self.high,
                       ramp=self.ramp)
        elif self.structure == "substructure":
            out["smarts"] = self.smarts[0] if len(self.smarts) == 1 else list(self.smarts)
            if self.match != "all":
                out["match"] = self.match
        else:
            out["families"] = list(self.families)
        if self.structure != "similarity":
            out["mode"] = self.mode
        if self.weighted:
            out["weight"] = self.weight
        return out

    @classmethod
    def from_dict(cls, raw: dict, folder: Path | None = None) -> StructureTerm:
        """A term from a reward file's table; `references_file` is read relative to
        `folder` (the reward file's folder; the working folder when None)."""
        unknown = [k for k in raw if k not in TERM_KEYS]
        if unknown:
            raise RewardError(f"unknown key(s) {', '.join(map(repr, unknown))} in a "
                         f"{raw.get('structure', 'structure')} term; allowed: "
                         f"{', '.join(TERM_KEYS)}")
        data = dict(raw)
        for key in ("references", "smarts", "families"):
            if key in data:
                data[key] = _strings(data[key], f"{raw.get('structure')}: {key}",
                                     {"references": MAX_REFERENCES, "smarts": MAX_SMARTS,
                                      "families": 20}[key])
        file = data.get("references_file")
        if file is not None:
            if not isinstance(file, str) or not file.strip():
                raise RewardError(f"{raw.get('structure')}: references_file must be a file name, "
                             f"got {file!r}")
            if data.get("references"):
                raise RewardError(f"{raw.get('structure')}: give references or references_file, "
                             "not both")
            try:
                data["references"] = read_references(Path(folder or ".") / file, file)
            except RewardError as exc:
                raise RewardError(f"{raw.get('structure')}: {exc}") from None
        if "weight" in data and data.get(
                "mode", DEFAULT_MODES.get(data.get("structure"), "filter")) == "filter":
            raise RewardError(f"{data.get('structure')}: weight is only used with mode = \"term\" "
                         "(a filter sets the reward to 0 when it fails); add mode = \"term\" "
                         "or remove weight")
        if data.get("mode") == "":
            raise RewardError(f"{data.get('structure')}: mode must be 'filter' or 'term'")
        return cls(**data)


FAMILY_NAMES = {key: alerts.FAMILY_LABELS[column] for key, column in FAMILIES.items()}


def structure_table(kind: str, fields: dict) -> dict:
    """A reward file's table of a `kind` structure term from an editor's `fields` (any
    keys): the KIND_KEYS it holds, less those its goal or mode leaves unused (a ramp
    outside a range goal, a weight in a filter), and the name unless it is another than
    the default; what `StructureTerm.from_dict` reads. Not checked here: building the
    term does that."""
    table = {"structure": kind}
    if fields.get("name", DEFAULT_NAMES[kind]) != DEFAULT_NAMES[kind]:
        table["name"] = fields["name"]
    table.update({k: fields[k] for k in KIND_KEYS[kind] if k in fields})
    if table.get("goal") != "range":
        table.pop("ramp", None)
    if "weight" in fields and table.get("mode", DEFAULT_MODES[kind]) == "term":
        table["weight"] = fields["weight"]
    return table


@lru_cache(maxsize=64)
def _reference_fingerprints(references: tuple[str, ...], where: str) -> list:
    """The 2048-bit Morgan fingerprints of the references; raises RewardError naming the
    term and the references that do not parse or are too large."""
    mols = [to_mol(r) for r in references]
    bad = [r for r, m in zip(references, mols) if m is None or m.GetNumHeavyAtoms() == 0]
    if bad:
        raise RewardError(f"{where}: reference SMILES that RDKit cannot parse: "
                     f"{', '.join(b[:60] for b in bad[:5])}{' ...' if len(bad) > 5 else ''}; "
                     "fix or remove them")
    big = [r[:40] for r, m in zip(references, mols) if m.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS]
    if big:
        raise RewardError(f"{where}: reference molecules over {MAX_HEAVY_ATOMS} heavy atoms: "
                     f"{', '.join(big[:5])}; remove them")
    generator = diversity.morgan_generator()
    return [generator.GetFingerprint(m) for m in mols]


def read_references(path: Path, given: str | None = None) -> tuple[str, ...]:
    """The SMILES of a .smi / .csv / .sdf reference file; raises RewardError naming the
    file (`given`, as the reward file wrote it) when it is missing, unreadable, empty or
    holds a record RDKit cannot read."""
    given = given or str(path)
    if path.suffix.lower() not in FORMATS:
        raise RewardError(f"references_file {given}: unknown file type; allowed: "
                     f"{', '.join(sorted(FORMATS))}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RewardError(f"references_file {given}: no such file (looked for {path}; it is read "
                     "relative to the reward file)") from None
    except OSError as exc:
        raise RewardError(f"references_file {given}: cannot read it ({exc})") from None
    try:
        good, bad = read_molecules(data, given)
    except MoleculeFileError as exc:
        raise RewardError(f"references_file {exc}") from None
    if len(bad):
        row = bad.iloc[0]
        raise RewardError(f"references_file {given}: {len(bad)} record(s) RDKit cannot read, "
                     f"first at record {row['row']} ({row['reason']}); fix or remove them")
    return tuple(good["smiles"])


def parse(smiles: Sequence[str]) -> list[Chem.Mol | None]:
    """Parsed molecules for structure terms; None where the SMILES does not parse, has no
    heavy atom, or more than MAX_HEAVY_ATOMS (invalid here as in scoring)."""
    out = []
    for s in smiles:
        mol = to_mol(s) if isinstance(s, str) else None
        out.append(mol if mol is not None and 0 < mol.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS
                   else None)
    return out


def structure_values(smiles: Sequence[str], terms: Sequence[StructureTerm]) -> pd.DataFrame:
    """Every term's raw columns for `smiles` (one row each, in order, default index);
    each molecule is parsed once for all terms."""
    if not terms:
        return pd.DataFrame(index=range(len(smiles)))
    mols = parse(list(smiles))
    return pd.concat([t.raw_values(mols) for t in terms], axis=1)


def check_names(terms: Sequence[StructureTerm]) -> None:
    """Raises RewardError when two structure terms would write the same column."""
    seen: dict[str, str] = {}
    for t in terms:
        for column in t.columns:
            if column in seen:
                raise RewardError(f"two structure terms write the column {column!r} "
                             f"({seen[column]} and {t.structure}); give one of them "
                             "another name = \"...\"")
            seen[column] = t.structure
