"""A chemist's own molecules from a file: CSV (a SMILES column), .smi (SMILES then an
optional name per line) or SDF.

Failure contract: a record that RDKit cannot read is never dropped silently: it is returned
in the `invalid` table with its row, name, what was given and why. A file that cannot be read
at all (unknown extension, not UTF-8 text, a CSV without a SMILES column, no record) raises
MoleculeFileError naming the problem. A CSV line that is not valid CSV (a stray quote, too
many fields) is one invalid record, with its line number; the other lines are read.
"""
from __future__ import annotations

import csv
from pathlib import PurePath

import pandas as pd
from rdkit import Chem, RDLogger

from engine.chem.properties import to_mol
from engine.errors import UserError

FORMATS = {".csv": "csv", ".smi": "smi", ".smiles": "smi", ".txt": "smi", ".sdf": "sdf",
           ".sd": "sdf"}
NAME_COLUMNS = ("name", "id", "compound", "compound_id", "title")
UNREADABLE_SDF = "RDKit could not read this SDF record"


class MoleculeFileError(UserError):
    """A molecule file that cannot be read at all."""


def _text(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MoleculeFileError(f"{filename}: not UTF-8 text ({exc.reason} at byte "
                                f"{exc.start}); save it as UTF-8") from exc


def _pick_column(columns, wanted: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    return next((lower[w] for w in wanted if w in lower), None)


def _csv_fields(line: str) -> tuple[list[str] | None, str]:
    """One CSV line's fields, or (None, why) when the line is not valid CSV on its own."""
    try:
        return next(csv.reader([line], strict=True)), ""
    except csv.Error as exc:
        return None, f"not valid CSV ({exc}; a quote without its pair?)"


def _records_csv(text: str, filename: str) -> list[tuple[str, str, str]]:
    """(name, SMILES, why not readable) per data line. Each line is read on its own, so a
    stray quote or a line with too many fields spoils that line only (listed with
    its line number), never the rest of the file."""
    lines = text.splitlines()
    header, why = _csv_fields(lines[0]) if lines else ([], "")
    if header is None:
        raise MoleculeFileError(f"{filename}: the header line is {why}")
    smiles = _pick_column(header, ("smiles", "canonical_smiles", "smi"))
    if smiles is None:
        raise MoleculeFileError(f"{filename}: no SMILES column; the columns are "
                                f"{', '.join(map(str, header))} (name one 'smiles')")
    at, name = header.index(smiles), _pick_column(header, NAME_COLUMNS)
    name_at = header.index(name) if name is not None else None
    out = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields, why = _csv_fields(line)
        if fields is not None and len(fields) > len(header):
            fields, why = None, (f"{len(fields)} fields where the header has {len(header)} "
                                 "(a comma in a name without quotes?)")
        elif fields is not None:     # missing trailing fields are empty, as spreadsheets do
            fields += [""] * (len(header) - len(fields))
        if fields is None:
            out.append(("", line, f"line {number}: {why}"))
        else:
            out.append((fields[name_at] if name_at is not None else "", fields[at], ""))
    return out


def smi_records(text: str) -> list[tuple[str, str]]:
    """(name, SMILES) per line of a .smi file; blank lines and '#' comments are skipped."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)   # SMILES, then the name (which may hold spaces)
        out.append((parts[1].strip() if len(parts) > 1 else "", parts[0]))
    return out


def sdf_records(text: str) -> list[tuple[str, str]]:
    """(name, SMILES) per record; SMILES "" when RDKit cannot read the record (its reason
    is UNREADABLE_SDF)."""
    out = []
    for i, block in enumerate(text.split("$$$$")):
        if not block.strip():
            continue
        if i:   # drop the rest of the "$$$$" line: the next line is the record's name
            block = block.split("\n", 1)[1] if "\n" in block else ""
        name = block.splitlines()[0].strip() if block else ""
        mol = Chem.MolFromMolBlock(block)
        out.append((name, Chem.MolToSmiles(mol) if mol is not None else ""))
    return out


def read_molecules(data: bytes, filename: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(molecules, invalid) from the bytes of a CSV, .smi or SDF file named `filename`.

    molecules: `row` (1-based record number), `name` ("" when the file has none) and
    `smiles` (RDKit canonical), one per readable record, in file order. invalid: `row`,
    `name`, `given` (the SMILES as written; "" for an SDF record) and `reason`.
    Raises MoleculeFileError when the file cannot be read at all or holds no record."""
    kind = FORMATS.get(PurePath(filename).suffix.lower())
    if kind is None:
        raise MoleculeFileError(f"{filename}: unknown file type; allowed: "
                                f"{', '.join(sorted(FORMATS))}")
    text = _text(data, filename)
    RDLogger.DisableLog("rdApp.*")
    records = {"csv": lambda: _records_csv(text, filename),
               "smi": lambda: [(*r, "") for r in smi_records(text)],
               "sdf": lambda: [(*r, "") for r in sdf_records(text)]}[kind]()
    if not records:
        raise MoleculeFileError(f"{filename}: no molecule found in the file")
    good, bad = [], []
    for row, (name, given, broken) in enumerate(records, start=1):
        mol = to_mol(given) if given and not broken else None
        if mol is None or mol.GetNumHeavyAtoms() == 0:
            reason = broken or (UNREADABLE_SDF if kind == "sdf" else
                                "empty SMILES" if not str(given).strip() else
                                "RDKit could not parse or sanitize this SMILES")
            bad.append({"row": row, "name": name, "given": given if kind != "sdf" else "",
                        "reason": reason})
        else:
            good.append({"row": row, "name": name, "smiles": Chem.MolToSmiles(mol)})
    return (pd.DataFrame(good, columns=["row", "name", "smiles"]),
            pd.DataFrame(bad, columns=["row", "name", "given", "reason"]))
