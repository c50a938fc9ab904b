"""Rewards: data (a TOML file, see REWARDS.md) turned into a vectorized score in [0, 1].

A `Reward` is a list of `Term`s, each mapping one of the 25 properties to a desirability
in [0, 1] (maximize / minimize / range), and of structure terms (similarity to references,
substructures, alerts: engine/chem/structure_terms.py), aggregated by a weighted arithmetic
or geometric mean, structure filters multiplying it. The same frozen object serves the
dashboard's sliders, reward files and the CLI.
Every way to build one validates it; a bad file raises `RewardError` and nothing is kept.
"""
from __future__ import annotations

import difflib
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.chem.properties import (INTEGER_PROPERTIES, PROPERTY_GAPS, PROPERTY_LIMITS,
                                    PROPERTY_NAMES)
from engine.chem.reward_io import RewardError, dump_toml, finite_number, parse_toml
from engine.chem.structure_terms import (DEFAULT_WEIGHT, WINDOW, StructureTerm, check_names,
                                         structure_values)

PRESET_DIR = Path(__file__).resolve().parents[2] / "assets" / "rewards"
GOALS = ("maximize", "minimize", "range")
AGGREGATES = ("mean", "geometric")
TERM_KEYS = ("property", "goal", "low", "high", "ramp", "weight")
_BOUNDS_MEANING = {"maximize": "desirability is 0 at low and 1 at high",
                   "minimize": "desirability is 1 at low and 0 at high",
                   "range": "desirability is 1 on [low, high]"}
REWARD_KEYS = ("name", "description", "aggregate", "out_of_support", "source", "rationale",
               "terms")
MAX_FILE_BYTES = 1_000_000   # a reward file is a few hundred bytes; this bounds the parse
MAX_TERMS = 100              # each term owns a property, so 25 are ever usable
# shares of the prior bank meeting a term (`support`) beyond which the term misleads: met
# by fewer, it asks for what the model has hardly seen; by more, it changes nothing
MET_BY_FEW, MET_BY_ALL = 0.01, 0.99


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise RewardError(f"{what} must be a string, got {value!r}")
    return value


@dataclass(frozen=True)
class Term:
    """One property's desirability: `maximize` rises from 0 at `low` to 1 at `high`,
    `minimize` falls from 1 at `low` to 0 at `high`, `range` is 1 on [low, high] and falls
    to 0 over `ramp` on each side. Raises RewardError on any value REWARDS.md forbids."""

    property: str
    goal: str
    low: float
    high: float
    ramp: float | None = None
    weight: float = DEFAULT_WEIGHT

    def __post_init__(self):
        if self.property not in PROPERTY_NAMES:
            close = difflib.get_close_matches(str(self.property), PROPERTY_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RewardError(f"unknown property {self.property!r}{hint}; valid names: "
                              f"{', '.join(PROPERTY_NAMES)}")
        if self.goal not in GOALS:
            raise RewardError(f"{self.property}: unknown goal {self.goal!r}; allowed: "
                              f"{', '.join(GOALS)}")
        where = f"{self.property} ({self.goal})"
        low = finite_number(self.low, f"{where}: low")
        high = finite_number(self.high, f"{where}: high")
        if low >= high:
            raise RewardError(f"{where}: low ({low:g}) must be below high ({high:g}); "
                              f"{_BOUNDS_MEANING[self.goal]}")
        if self.goal == "range":
            if self.ramp is None:
                raise RewardError(f"{where}: goal 'range' needs a ramp > 0 (the width over "
                                  "which desirability falls to 0 outside [low, high])")
            ramp = finite_number(self.ramp, f"{where}: ramp")
            if ramp <= 0:
                raise RewardError(f"{where}: ramp must be > 0, got {ramp:g}")
        elif self.ramp is not None:
            raise RewardError(f"{where}: ramp ({self.ramp!r}) is only used by goal 'range'; "
                              f"remove it for goal {self.goal!r}")
        else:
            ramp = None
        weight = finite_number(self.weight, f"{where}: weight")
        if weight < 0:
            raise RewardError(f"{where}: weight must be >= 0, got {weight:g}")
        for name, value in (("low", low), ("high", high), ("ramp", ramp), ("weight", weight)):
            object.__setattr__(self, name, value)  # frozen: store the validated floats

    def desirability(self, values: np.ndarray) -> np.ndarray:
        """(N,) property values -> (N,) desirabilities in [0, 1]; NaN stays NaN."""
        v = np.asarray(values, dtype=np.float64)
        if self.goal == "maximize":
            d = (v - self.low) / (self.high - self.low)
        elif self.goal == "minimize":
            d = (self.high - v) / (self.high - self.low)
        else:  # distance outside [low, high]; np.maximum keeps NaN
            d = 1.0 - np.maximum(np.maximum(self.low - v, v - self.high), 0.0) / self.ramp
        return np.clip(d, 0.0, 1.0)

    def to_dict(self) -> dict:
        return {"property": self.property, "goal": self.goal, "low": self.low,
                "high": self.high, "ramp": self.ramp, "weight": self.weight}


def term_table(fields: dict) -> dict:
    """A reward file's [[terms]] table of a property term from an editor's `fields` (any
    keys): the TERM_KEYS it holds, less `ramp` when the goal is not 'range' (the only goal
    that uses one). Not checked here: `Term(**table)` or building the reward does that."""
    table = {k: fields[k] for k in TERM_KEYS if k in fields}
    if table.get("goal") != "range":
        table.pop("ramp", None)
    return table


def _takes_a_value(prop: str, low: float, high: float, closed: bool) -> bool:
    """Whether `prop` can take a value between `low` and `high` (either may be infinite),
    the ends included when `closed`: within PROPERTY_LIMITS, and a whole number for a
    count, outside its PROPERTY_GAPS."""
    lo, hi = PROPERTY_LIMITS[prop]
    if prop not in INTEGER_PROPERTIES:
        return low <= hi and high >= lo if closed else low < hi and high > lo
    first = max(lo, low if math.isinf(low) else math.ceil(low) if closed
                else math.floor(low) + 1)
    last = min(hi, high if math.isinf(high) else math.floor(high) if closed
               else math.ceil(high) - 1)
    gap = PROPERTY_GAPS.get(prop)
    if gap is not None and gap[0] <= first and last <= gap[1]:
        return False
    return first <= last


def _limits_text(prop: str) -> str:
    lo, hi = PROPERTY_LIMITS[prop]
    if prop in INTEGER_PROPERTIES:
        return f"{prop} is a whole number " + (f"of at least {lo:g}" if math.isinf(hi)
                                               else f"from {lo:g} to {hi:g}")
    return f"{prop} is at least {lo:g}" if math.isinf(hi) else \
        f"{prop} lies between {lo:g} and {hi:g}"


def term_reach(term: Term) -> str:
    """"" when some molecule can give `term` desirability 1; otherwise why none can, from
    what its property can take by definition (PROPERTY_LIMITS, whole numbers for counts):
    "fsp3 lies between 0 and 1: no molecule reaches desirability 1 on this term (it needs
    fsp3 >= 1.5)", or, where no molecule scores above 0 either, "...: this term is 0 for
    every molecule (it is above 0 only for fsp3 > 1.2)". A reward holding such a term is
    valid (a saved file still loads); the CLI and the dashboard say this beside it."""
    return _reach(term)[1]


def _reach(term: Term) -> tuple[bool, str]:
    """(whether `term` is 0 for every molecule, `term_reach`'s text)."""
    prop, low, high = term.property, term.low, term.high
    if term.goal == "maximize":
        met, needs = (high, math.inf), f">= {high:g}"
        above_zero, where = (low, math.inf), f"> {low:g}"
    elif term.goal == "minimize":
        met, needs = (-math.inf, low), f"<= {low:g}"
        above_zero, where = (-math.inf, high), f"< {high:g}"
    else:
        met, needs = (low, high), f"in [{low:g}, {high:g}]"
        above_zero = (low - term.ramp, high + term.ramp)
        where = f"strictly between {above_zero[0]:g} and {above_zero[1]:g}"
    if not _takes_a_value(prop, *above_zero, closed=False):
        return True, (f"{_limits_text(prop)}: this term is 0 for every molecule (it is above "
                      f"0 only for {prop} {where})")
    if not _takes_a_value(prop, *met, closed=True):
        return False, (f"{_limits_text(prop)}: no molecule reaches desirability 1 on this "
                       f"term (it needs {prop} {needs})")
    return False, ""


def support(term, values) -> tuple[float, int] | None:
    """(share, count) of the finite `values` (a term's raw values over a set of molecules,
    e.g. the prior bank) at which `term`, a property or a structure term, gives
    desirability 1; None when no value is finite. See MET_BY_FEW and MET_BY_ALL."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    met = int((term.desirability(v) == 1.0).sum())
    return met / len(v), met


@dataclass(frozen=True)
class Reward:
    """A reward in [0, 1]: property terms r(y) over the 25 properties, and structure terms
    (similarity, substructure, alerts) that need the molecule itself (REWARDS.md).

    `key` is the preset / file stem it was loaded from ("" when built in code); it is not
    part of the reward's content, so it is neither compared nor written to TOML.
    Raises RewardError for an unknown aggregate, no terms, a property used twice (each
    term owns one `d_<property>` column), two structure terms on one column, or all
    weights zero.
    """

    name: str
    terms: tuple[Term, ...]
    aggregate: str = "mean"
    description: str = ""
    rationale: str = ""
    source: str = ""
    out_of_support: bool = False
    structures: tuple[StructureTerm, ...] = ()
    key: str = field(default="", compare=False)

    def __post_init__(self):
        if not _text(self.name, "name").strip():
            raise RewardError("name must be a non-empty string")
        for what in ("description", "rationale", "source", "key"):
            _text(getattr(self, what), what)
        if not isinstance(self.out_of_support, bool):
            raise RewardError("out_of_support must be true or false, got "
                              f"{self.out_of_support!r}")
        if self.aggregate not in AGGREGATES:
            raise RewardError(f"unknown aggregate {self.aggregate!r}; allowed: "
                              f"{', '.join(AGGREGATES)}")
        terms = tuple(self.terms) if isinstance(self.terms, (list, tuple)) else None
        structures = (tuple(self.structures) if isinstance(self.structures, (list, tuple))
                      else None)
        if terms is None or structures is None or not terms + structures:
            raise RewardError(f"reward {self.name!r} needs at least one term")
        if not all(isinstance(t, Term) for t in terms):
            raise RewardError("terms must be Term objects")
        if not all(isinstance(t, StructureTerm) for t in structures):
            raise RewardError("structures must be StructureTerm objects")
        if len(terms) + len(structures) > MAX_TERMS:
            raise RewardError(f"{len(terms) + len(structures)} terms; a reward has at most "
                              f"{MAX_TERMS}")
        counts = Counter(t.property for t in terms)
        repeated = sorted(p for p, n in counts.items() if n > 1)
        if repeated:
            raise RewardError(f"properties used by more than one term: {', '.join(repeated)}; "
                              "use one term per property (goal 'range' covers a window)")
        check_names(structures)
        weights = [t.weight for t in terms] + [t.weight for t in structures if t.weighted]
        total = sum(weights)
        if not math.isfinite(total):
            raise RewardError(f"the term weights of reward {self.name!r} sum to {total:g}; "
                              "use weights of ordinary size (only their ratios matter)")
        if weights and total <= 0:
            raise RewardError(f"all term weights are zero in reward {self.name!r}; at least "
                              "one weight must be > 0")
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "structures", structures)

    @property
    def properties(self) -> tuple[str, ...]:
        """The properties the property terms use, in term order."""
        return tuple(t.property for t in self.terms)

    @property
    def steering(self) -> Reward | None:
        """The part guidance can steer by: the property terms alone (a function of y),
        with their weights and aggregate; None when the reward has no property term.
        Structure terms act only through selection and scoring."""
        if not self.structures:
            return self
        if not self.terms:
            return None
        return Reward(name=self.name, terms=self.terms, aggregate=self.aggregate,
                      key=self.key)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column `evaluate` adds: reward, the structure terms' raw columns, and one
        desirability per term (`d_<property>`, `d_<structure term name>`)."""
        raw = tuple(c for t in self.structures for c in t.columns)
        return ("reward", *raw, *(f"d_{p}" for p in self.properties),
                *(f"d_{t.name}" for t in self.structures))

    def goal_values(self) -> dict[str, float]:
        """Per property term, the value that meets it best: `high` for maximize, `low` for
        minimize, the middle of a range."""
        pick = {"maximize": lambda t: t.high, "minimize": lambda t: t.low,
                "range": lambda t: (t.low + t.high) / 2}
        return {t.property: float(pick[t.goal](t)) for t in self.terms}

    def lead_profile(self, smiles: str) -> dict[str, float]:
        """The 25 properties of the molecule `smiles`, with each property term the lead
        does not meet set to that term's goal value (`goal_values`); a term it meets keeps
        the lead's own value. The lead's profile as this reward wants it changed: a target
        for the conditional model (BENCHMARKS.md, lead optimization). A salt is profiled as
        `score` scores it (`properties.scored_form`: its largest fragment, neutralized).
        Raises RewardError when `smiles` is not a valid molecule."""
        from engine.chem.properties import batch_properties, scored_form  # noqa: PLC0415

        values = batch_properties([scored_form(smiles) or smiles], n_jobs=1).iloc[0]
        if not values["valid"]:
            raise RewardError(f"lead {smiles!r} is not a valid molecule (RDKit cannot parse "
                              "it)")
        profile = {p: float(values[p]) for p in PROPERTY_NAMES}
        goals = self.goal_values()
        for t in self.terms:
            if float(t.desirability(np.array([profile[t.property]]))[0]) < 1.0:
                profile[t.property] = goals[t.property]
        return profile

    def analogues_of(self, smiles: str, name: str | None = None, low: float = WINDOW["low"],
                     high: float = WINDOW["high"], ramp: float = WINDOW["ramp"]) -> Reward:
        """This reward's property terms plus a similarity window (Tanimoto `low`-`high`:
        analogues, not copies) to the molecule `smiles`, replacing any similarity term of
        the same column; raises RewardError when `smiles` does not parse."""
        lead = StructureTerm("similarity", goal="range", low=low, high=high, ramp=ramp,
                             references=(smiles,))
        kept = tuple(t for t in self.structures if not set(t.columns) & set(lead.columns))
        return Reward(name=name or f"Analogues of {smiles}", terms=self.terms,
                      aggregate=self.aggregate, structures=kept + (lead,),
                      description=f"{self.name}, near {smiles} (Tanimoto {low:g}-{high:g})")

    def describe_terms(self) -> list[tuple[str, str]]:
        """(role, text) per term: "steers" for property terms (guidance uses them),
        "selects" for weighted structure terms, "filters" for structure filters."""
        out = [("steers", f"{t.property}: {t.goal} {t.low:g}-{t.high:g}") for t in self.terms]
        out += [("selects" if t.weighted else "filters", f"{t.name}: {t.describe()}")
                for t in self.structures]
        return out

    def never_above_zero(self) -> tuple[str, ...]:
        """The properties of the weighted terms that are 0 for every molecule (`term_reach`):
        with the geometric mean, each makes the reward 0 for every molecule."""
        return tuple(t.property for t in self.terms if t.weight > 0 and _reach(t)[0])

    def unreachable(self) -> list[str]:
        """`term_reach`'s text for each weighted property term no molecule can fully meet
        (with the geometric mean, a term that is 0 for every molecule makes the reward 0
        for every molecule, said too)."""
        lines = []
        for term in (t for t in self.terms if t.weight > 0):
            zero, why = _reach(term)
            if zero and self.aggregate == "geometric":
                why += "; with the geometric mean the reward is 0 for every molecule"
            if why:
                lines.append(why)
        return lines

    def desirabilities(self, values) -> np.ndarray:
        """(N, n_terms) desirabilities of the property terms, weight-0 terms included; NaN
        where a value is NaN.

        `values`: a DataFrame with the term properties as columns, or an (N, 25) array in
        PROPERTY_NAMES order. Raises RewardError when a column is missing or the array
        has the wrong shape.
        """
        columns = _property_columns(values, self.properties)
        if not columns:
            return np.empty((len(values), 0))
        return np.stack([t.desirability(c) for t, c in zip(self.terms, columns)], axis=1)

    def structure_values(self, values, smiles_column: str = "smiles") -> pd.DataFrame | None:
        """The structure terms' raw columns for a table of molecules: computed from its
        `smiles_column` (so they always match the molecules), else read from the table;
        None when the reward has no structure term. Raises RewardError when the table has
        neither, or `values` is a property array (structure terms need molecules)."""
        if not self.structures:
            return None
        if not isinstance(values, pd.DataFrame):
            raise RewardError(f"reward {self.name!r} has structure terms "
                              f"({', '.join(t.name for t in self.structures)}): it scores "
                              "molecules, not property vectors; guidance uses "
                              "reward.steering")
        if smiles_column in values.columns:
            raw = structure_values(values[smiles_column].tolist(), self.structures)
            raw.index = values.index
            return raw
        needed = [c for t in self.structures for c in t.columns]
        missing = [c for c in needed if c not in values.columns]
        if missing:
            raise RewardError(f"the table has no smiles column and lacks the structure "
                              f"column(s) {', '.join(missing)} that the reward uses")
        return values[needed]

    def _score(self, values, raw: pd.DataFrame | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rewards (N,), property desirabilities (N, n_terms), structure desirabilities
        (N, n_structures)); `raw` None: every structure term met (the bound)."""
        d_props = d = self.desirabilities(values)
        w = [t.weight for t in self.terms]
        if raw is None:   # the bound: every structure term met
            ds = np.ones((len(d), len(self.structures)))
        else:
            ds = (np.stack([t.desirability(raw[t.name]) for t in self.structures], axis=1)
                  if self.structures else np.empty((len(d), 0)))
        weighted = [j for j, t in enumerate(self.structures) if t.weighted]
        filters = [j for j, t in enumerate(self.structures) if not t.weighted]
        d = np.concatenate([d, ds[:, weighted]], axis=1)
        w = np.array(w + [self.structures[j].weight for j in weighted], dtype=np.float64)
        if len(w):
            w = w / w.sum()
            active = w > 0  # weight-0 terms are shown, not counted (and 0 ** 0 never arises)
            d, w = d[:, active], w[active]
            r = d @ w if self.aggregate == "mean" else np.prod(d ** w, axis=1)
        else:   # filters only: 1 where every filter passes
            r = np.ones(len(d))
        if filters:
            r = r * np.nan_to_num(ds[:, filters]).prod(axis=1)
        invalid = _invalid_rows(values)
        if raw is not None:
            invalid |= raw[[t.name for t in self.structures]].isna().to_numpy().any(axis=1)
        r = np.where(invalid, 0.0, r)
        return np.clip(r, 0.0, 1.0), d_props, ds

    def score_bound(self, values) -> np.ndarray:
        """(N,) an upper bound of `score` from the properties alone: the reward with every
        structure term met (desirability 1, filters passing). Equal to `score` for a
        reward without structure terms; takes a property array or table like
        `desirabilities`."""
        return self._score(values, None)[0]

    def score(self, values) -> np.ndarray:
        """(N,) rewards in [0, 1]. Invalid rows score 0: any NaN property, or `valid` False
        in a DataFrame that has that column. With structure terms, `values` must be a table
        of molecules (see `structure_values`); weighted structure terms join the weighted
        aggregate, filters multiply it. Same inputs and errors as `desirabilities`."""
        return self._score(values, self.structure_values(values))[0]

    def evaluate(self, frame: pd.DataFrame, smiles_column: str = "smiles") -> pd.DataFrame:
        """A copy of `frame` plus `reward`, the structure terms' raw columns (from the
        molecules in `smiles_column`) and one `d_<column>` per term."""
        out = frame.copy()
        raw = self.structure_values(frame, smiles_column)
        out["reward"], d, ds = self._score(frame, raw)
        if raw is not None:
            for column in raw.columns:
                out[column] = raw[column]
        for j, prop in enumerate(self.properties):
            out[f"d_{prop}"] = d[:, j]
        for j, t in enumerate(self.structures):
            out[f"d_{t.name}"] = ds[:, j]
        return out

    def to_dict(self) -> dict:
        """Plain data (what the TOML file holds); `Reward.from_dict` inverts it."""
        return {"name": self.name, "description": self.description,
                "aggregate": self.aggregate, "out_of_support": self.out_of_support,
                "source": self.source, "rationale": self.rationale,
                "terms": [t.to_dict() for t in self.terms]
                + [t.to_dict() for t in self.structures]}

    @classmethod
    def from_dict(cls, data: dict, key: str = "", folder: Path | None = None) -> Reward:
        """Build and validate a reward from plain data; raises RewardError on unknown or
        missing keys and on every bad value. A term with a `structure` key is a structure
        term; its `references_file` is read relative to `folder`."""
        if not isinstance(data, dict):
            raise RewardError(f"a reward is a table of keys, got {type(data).__name__}")
        _check_keys(data, REWARD_KEYS, ("name", "terms"), "reward")
        raw_terms = data["terms"]
        if not isinstance(raw_terms, list) or not all(isinstance(t, dict) for t in raw_terms):
            raise RewardError("terms must be a list of [[terms]] tables")
        if len(raw_terms) > MAX_TERMS:
            raise RewardError(f"{len(raw_terms)} terms; a reward has at most {MAX_TERMS}")
        terms, structures = [], []
        for i, raw in enumerate(raw_terms, start=1):
            try:
                if "structure" in raw:
                    if "property" in raw:
                        raise RewardError("a term has either property = ... or structure = "
                                          "..., not both")
                    structures.append(StructureTerm.from_dict(raw, folder))
                else:
                    _check_keys(raw, TERM_KEYS, ("property", "goal", "low", "high"), "term")
                    terms.append(Term(**raw))
            except RewardError as exc:
                raise RewardError(f"term {i}: {exc}") from None
        return cls(terms=tuple(terms), structures=tuple(structures), key=key,
                   **{k: v for k, v in data.items() if k != "terms"})

    @classmethod
    def from_toml(cls, text: str, key: str = "", folder: Path | None = None) -> Reward:
        """Parse a reward file's text; raises RewardError when it is not TOML, larger than
        MAX_FILE_BYTES, or invalid. `folder`: where `references_file` names are read."""
        if isinstance(text, str) and len(text) > MAX_FILE_BYTES:
            raise RewardError(f"{len(text):,} characters; a reward file has at most "
                              f"{MAX_FILE_BYTES:,}")
        try:
            data = parse_toml(text)
        except ValueError as exc:
            raise RewardError(str(exc)) from None
        return cls.from_dict(data, key=key, folder=folder)

    @classmethod
    def from_file(cls, path) -> Reward:
        """Load a reward file; `key` becomes the file stem. Raises RewardError (prefixed
        with the path) when the file is missing, unreadable, not TOML or invalid."""
        path = Path(path)
        try:
            if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
                raise RewardError(f"{path}: {path.stat().st_size:,} bytes; a reward file has "
                                  f"at most {MAX_FILE_BYTES:,}")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RewardError(f"{path}: no such reward file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RewardError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
        try:
            return cls.from_toml(text, key=path.stem, folder=path.parent)
        except RewardError as exc:
            raise RewardError(f"{path}: {exc}") from None

    def to_toml(self) -> str:
        """The reward file's text; `Reward.from_toml(r.to_toml()) == r`."""
        return dump_toml(self.to_dict(), "terms")

    def save(self, path) -> Path:
        """Write the reward file to `path` (parent folders created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_toml(), encoding="utf-8")
        return path


def _check_keys(table: dict, allowed: tuple[str, ...], required: tuple[str, ...],
                what: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise RewardError(f"unknown key(s) {', '.join(map(repr, unknown))} in {what}; "
                          f"allowed: {', '.join(allowed)}")
    missing = [k for k in required if k not in table]
    if missing:
        raise RewardError(f"{what} is missing {', '.join(map(repr, missing))}")


def _property_columns(values, names: tuple[str, ...]) -> list[np.ndarray]:
    """The (N,) float columns of `names` from a DataFrame or an (N, 25) array."""
    if isinstance(values, pd.DataFrame):
        missing = [n for n in names if n not in values.columns]
        if missing:
            raise RewardError(f"the table lacks the property column(s) {', '.join(missing)} "
                              "that the reward uses")
        return [values[n].to_numpy(dtype=np.float64, na_value=np.nan) for n in names]
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(PROPERTY_NAMES):
        raise RewardError(f"expected an (N, {len(PROPERTY_NAMES)}) array of properties in "
                          f"PROPERTY_NAMES order, got shape {array.shape}")
    return [array[:, PROPERTY_NAMES.index(n)] for n in names]


def _invalid_rows(values) -> np.ndarray:
    """(N,) True where a molecule is invalid: any NaN property, or `valid` False."""
    if isinstance(values, pd.DataFrame):
        props = [n for n in PROPERTY_NAMES if n in values.columns]
        invalid = values[props].isna().to_numpy().any(axis=1)
        if "valid" in values.columns:
            invalid |= ~values["valid"].eq(True).to_numpy(dtype=bool)
        return invalid
    return np.isnan(np.asarray(values, dtype=np.float64)).any(axis=1)


def preset_paths() -> dict[str, Path]:
    """Preset key (file stem) -> path, sorted by key."""
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.toml"))}


def list_presets() -> list[Reward]:
    """All presets in `assets/rewards`, sorted by key; each `Reward.key` is its file stem."""
    return [Reward.from_file(p) for p in preset_paths().values()]


def load_reward(name_or_path) -> Reward:
    """A preset by key (e.g. "cns_penetrant") or a reward file by path.

    Raises RewardError when it is neither an existing file nor a preset key (the message
    lists the presets), or when the file is invalid.
    """
    presets = preset_paths()
    text = str(name_or_path)
    if text in presets:
        return Reward.from_file(presets[text])
    path = Path(text).expanduser()
    if path.is_file():
        return Reward.from_file(path)
    close = difflib.get_close_matches(text, presets, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise RewardError(f"{text!r} is neither a reward file nor a preset{hint}; presets: "
                      f"{', '.join(presets) or '(none found in ' + str(PRESET_DIR) + ')'}")
