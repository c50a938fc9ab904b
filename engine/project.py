"""A project: a folder that keeps a chemist's work between sessions.

`project.sqlite` is the catalogue (SQLite from the standard library): one row per run
(generated or imported molecule set) with its settings, the reward TOML it was made for,
the checkpoint's identity and its summary; named selections (lists of molecule IDs); and
notes. Each run's molecules sit beside it in `molecules/`, in a parquet file the catalogue
names.

Writes are atomic. A run's parquet file is written under a temporary name and renamed;
only then is its catalogue row committed, in one SQLite transaction. A process killed at
any moment leaves the catalogue as it was before the run (at worst an orphan parquet file,
which a later `open` removes once it is ten minutes old) or with the whole run. SQLite's write-ahead log lets the dashboard,
a second browser tab and the CLI read and write the same project at once.

Molecule IDs are `<run id>:<row>` and never reused: run IDs only grow, so a deleted run's
IDs stay dead. Every valid molecule also carries its InChIKey. Generated runs also get a
run number, the one a chemist sees (#1, #2, ...): base sets and imported files take none,
so the first generated run is #1; numbers only grow too.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from rdkit import Chem

from engine.errors import UserError
from engine.model.checkpoint import DEFAULT_CHECKPOINT

CATALOGUE = "project.sqlite"
MOLECULES = "molecules"
SCHEMA_VERSION = 1
KINDS = ("generated", "base", "imported")   # base: the comparison set of a generated run
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created TEXT NOT NULL,
    settings TEXT NOT NULL,
    reward_toml TEXT NOT NULL,
    reward_name TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    n INTEGER NOT NULL,
    file TEXT NOT NULL,
    number INTEGER);
CREATE TABLE IF NOT EXISTS selections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    reward_toml TEXT NOT NULL,
    members TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    run_id INTEGER,
    text TEXT NOT NULL);
"""
MAX_NAME = 200
ORPHAN_AGE_S = 600.0
LOCKED_WAIT_S = 30.0


class ProjectError(UserError):
    """A project folder or request that cannot be used, with what is allowed."""


@dataclass(frozen=True)
class RunRecord:
    """One stored run, without its molecules (`Project.molecules(id)` reads them)."""
    id: int
    name: str
    kind: str
    created: str
    settings: dict
    reward_toml: str
    reward_name: str
    checkpoint: str
    checkpoint_id: str
    summary: dict
    n: int
    number: int | None = None   # generated runs only: #1, #2, ... in the order made


@dataclass(frozen=True)
class Selection:
    id: int
    name: str
    created: str
    reward_toml: str
    members: tuple[str, ...]     # molecule IDs, "<run id>:<row>"


def checkpoint_id(folder) -> str:
    """A short identity of a checkpoint's weights: the first 16 hex digits of the SHA-256
    of `model.safetensors` ("" when there is no such file)."""
    weights = Path(folder) / "model.safetensors"
    if not weights.is_file():
        return ""
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def inchikeys(smiles) -> list[str]:
    """The InChIKey of each SMILES ("" where RDKit cannot parse it)."""
    keys = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s else None
        keys.append(Chem.MolToInchiKey(mol) if mol is not None else "")
    return keys


def molecule_ids(run_id: int, n: int) -> list[str]:
    return [f"{run_id}:{i}" for i in range(n)]


def split_id(molecule_id: str) -> tuple[int, int]:
    """`"12:40"` -> (12, 40); a clear error for anything else."""
    try:
        run, row = str(molecule_id).split(":")
        return int(run), int(row)
    except ValueError:
        raise ProjectError(f"molecule ID {molecule_id!r} is not of the form "
                           "'<run id>:<row>'") from None


SHOWN_SETTINGS = {"gamma": "γ", "ys": "|Y_S|", "candidates": "candidates", "advantage": "advantage",
                  "plausibility": "α", "temperature": "T", "top_p": "top-p",
                  "grammar": "grammar", "ring_check": "ring check", "q_weights": "Q weights",
                  "seed": "seed", "precision": "precision"}
SHIPPED_MODEL = DEFAULT_CHECKPOINT   # a run from it names no model


def _shown(value) -> str:
    """A setting's value without float noise: 0.6, not 0.6000000000000001."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def _checkpoint_name(checkpoint) -> str | None:
    """The model a run came from as a short name (its folder and that folder's parent);
    None for the shipped model or when not given."""
    if not checkpoint:
        return None
    path = Path(checkpoint).expanduser().resolve()
    if path == SHIPPED_MODEL:
        return None
    return "/".join(path.parts[-2:])


TARGET_SHOWN = 4     # a target of more properties is named by its size and a digest
REWARD_SHOWN = 80    # a longer reward name is cut in a run's name


def run_name(settings, reward=None, checkpoint=None) -> str:
    """A run's name: method, reward, n, then every sampling setting that differs from the
    defaults (`settings` is a settings dataclass), a target's values and the checkpoint
    folder when it is not the shipped model, so runs that differ never share one and a run
    at the defaults has a short name."""
    from dataclasses import fields  # noqa: PLC0415

    default = settings.defaults() if hasattr(settings, "defaults") else None
    changed = [f"{label}={_shown(getattr(settings, f.name))}"
               for f in fields(settings) if (label := SHOWN_SETTINGS.get(f.name))
               and getattr(settings, f.name) != (f.default if default is None
                                                 else getattr(default, f.name))]
    target = getattr(settings, "target", None) or {}
    if len(target) <= TARGET_SHOWN:
        changed += [f"{key}={_shown(float(value))}" for key, value in target.items()]
    else:   # a whole profile (a lead's): its size and a digest keep names short and distinct
        digest = hashlib.sha1(json.dumps(sorted((k, float(v)) for k, v in target.items()))
                              .encode()).hexdigest()[:6]
        changed.append(f"target of {len(target)} properties #{digest}")
    if (model := _checkpoint_name(checkpoint)) is not None:
        changed.append(f"model={model}")
    method = settings.method
    if method == "base" and getattr(settings, "candidates", 1) > 1:
        method = f"best-of-{settings.candidates}"
        changed = [c for c in changed if not c.startswith("candidates=")]
    if reward is None:
        head = method
    else:
        shown = reward.name if len(reward.name) <= REWARD_SHOWN else (
            reward.name[:REWARD_SHOWN - 1] + "…")
        head = f"{method}, {shown}"
    return fit_name(f"{head}, n={settings.n}" + (f" ({', '.join(changed)})" if changed else ""))


def fit_name(name: str) -> str:
    """`name` cut to MAX_NAME characters (the last one an ellipsis) when longer."""
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "…"


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _name(name: str, what: str) -> str:
    name = str(name).strip()
    if not name or len(name) > MAX_NAME:
        raise ProjectError(f"{what} name must be 1 to {MAX_NAME} characters, got {name!r}")
    return name


class Project:
    """A project folder: `Project.open(path)` creates it when missing."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = Path(path)
        self.db_path = self.path / CATALOGUE
        self.read_only = read_only
        self._values: dict[str, str] = {}   # a read-only project's values, this process only

    @classmethod
    def open(cls, path, read_only: bool = False) -> Project:
        """Open (or create) the project in `path`. With `read_only` (a shipped project such
        as the demo) it must exist; nothing is ever written in the folder, not even SQLite's
        journal, every change of runs, selections or notes is refused with ProjectError,
        `set_value` is kept for this process only, and `copy_to` makes a writable copy."""
        path = Path(path).expanduser()
        if read_only:
            return cls._open_read_only(path)
        if path.exists() and not path.is_dir():
            raise ProjectError(f"{path}: a project is a folder, and this is a file")
        try:
            (path / MOLECULES).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"{path}: cannot create the project folder ({exc.strerror})") \
                from None
        project = cls(path)
        with project._connect() as db:
            db.executescript(SCHEMA)
            # one statement, so two processes creating the same project cannot both insert
            db.execute("INSERT INTO meta VALUES ('schema', ?) ON CONFLICT(key) DO NOTHING",
                       (str(SCHEMA_VERSION),))
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row[0] != str(SCHEMA_VERSION):
                raise ProjectError(f"{project.db_path}: project format {row[0]} is not the "
                                   f"supported version {SCHEMA_VERSION}")
        project._number_runs()
        project._remove_orphans()
        return project

    @classmethod
    def _open_read_only(cls, path: Path) -> Project:
        if not (path / CATALOGUE).is_file():
            raise ProjectError(f"{path}: no project catalogue ({CATALOGUE}) to open read-only")
        project = cls(path, read_only=True)
        with project._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise ProjectError(f"{project.db_path}: project format {row and row[0]} is not "
                               f"the supported version {SCHEMA_VERSION}")
        return project

    def _writable(self) -> None:
        if self.read_only:
            raise ProjectError(f"{self.path} is a read-only project: copy it to a folder of "
                               "your own first (Project.copy_to), or open another project")

    def copy_to(self, folder) -> Project:
        """A copy of this project in `folder` (which must not exist or be empty), opened
        writable: the same runs, IDs, run numbers, selections, notes and values. Refused
        with ProjectError for a folder that holds anything."""
        folder = Path(folder).expanduser()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ProjectError(f"{folder}: a project is copied into a new or empty folder, "
                               "and this one holds files")
        try:
            (folder / MOLECULES).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"{folder}: cannot create the project folder "
                               f"({exc.strerror})") from None
        with self._connect() as db:
            files = [r[0] for r in db.execute("SELECT file FROM runs")]
            with closing(sqlite3.connect(folder / CATALOGUE)) as target:
                db.backup(target)       # a consistent snapshot, even while others write
        for file in files:
            shutil.copy2(self.path / MOLECULES / file, folder / MOLECULES / file)
        copy = Project.open(folder)
        for key, value in self._values.items():
            copy.set_value(key, value)
        return copy

    def _connect(self) -> sqlite3.Connection:
        # switching a new catalogue to WAL answers "locked" at once, without waiting, while
        # another process creates it: retried for up to LOCKED_WAIT_S
        if self.read_only:     # immutable: no journal, no locks, nothing written beside it
            uri = f"{self.db_path.resolve().as_uri()}?immutable=1"
            try:
                return _Transaction(sqlite3.connect(uri, uri=True, isolation_level=None))
            except sqlite3.DatabaseError as exc:
                raise ProjectError(f"{self.db_path}: not a readable project catalogue "
                                   f"({exc})") from None
        deadline = time.monotonic() + LOCKED_WAIT_S
        while True:
            db = None
            try:
                db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")
                db.execute("PRAGMA busy_timeout=30000")
                db.execute("SELECT count(*) FROM sqlite_master").fetchall()  # ends the read
                return _Transaction(db)
            except sqlite3.OperationalError as exc:
                if db is not None:
                    db.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise ProjectError(f"{self.db_path}: not a readable project catalogue "
                                       f"({exc})") from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                raise ProjectError(f"{self.db_path}: not a readable project catalogue "
                                   f"({exc})") from None

    def _number_runs(self) -> None:
        """Give run numbers to generated runs that have none, in the order they were made (a
        catalogue from before run numbers, or rows written by an older version)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if "number" not in {r[1] for r in db.execute("PRAGMA table_info(runs)")}:
                db.execute("ALTER TABLE runs ADD COLUMN number INTEGER")
            for (run_id,) in db.execute("SELECT id FROM runs WHERE kind = 'generated' AND "
                                        "number IS NULL ORDER BY id").fetchall():
                db.execute("UPDATE runs SET number = ? WHERE id = ?",
                           (_next_number(db), run_id))

    def _remove_orphans(self) -> None:
        """What a process killed mid-save leaves, once older than `ORPHAN_AGE_S` (a younger
        one may belong to a save in flight): a base set that no run is compared with (its
        run was never stored), then molecule files no catalogue row names."""
        now = time.time()
        runs = self.runs()
        used = {r.settings.get("base_run") for r in runs}
        for record in runs:
            created = datetime.fromisoformat(record.created).timestamp()
            if record.kind == "base" and record.id not in used and now - created > ORPHAN_AGE_S:
                with self._connect() as db:
                    db.execute("DELETE FROM runs WHERE id = ?", (record.id,))
        with self._connect() as db:
            named = {r[0] for r in db.execute("SELECT file FROM runs")}
        for f in (self.path / MOLECULES).iterdir():
            try:
                if f.name not in named and now - f.stat().st_mtime > ORPHAN_AGE_S:
                    f.unlink()
            except FileNotFoundError:
                pass

    # runs ---------------------------------------------------------------------------
    def add_run(self, molecules: pd.DataFrame, *, name: str, kind: str = "generated",
                settings: dict | None = None, reward_toml: str = "", reward_name: str = "",
                checkpoint: str = "", summary: dict | None = None) -> RunRecord:
        """Store a run: its molecules get IDs and InChIKeys; returns the record."""
        self._writable()
        if kind not in KINDS:
            raise ProjectError(f"run kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if "smiles" not in molecules.columns:
            raise ProjectError("a run's molecules need a 'smiles' column")
        name = _name(name, "run")
        settings, summary = dict(settings or {}), dict(summary or {})
        ckpt_id = checkpoint_id(checkpoint) if checkpoint else ""
        frame = molecules.reset_index(drop=True).drop(columns=["id", "run_id"],
                                                      errors="ignore")
        if "inchikey" not in frame.columns:
            frame.insert(0, "inchikey", inchikeys(frame["smiles"]))
        # the file first, under a name of its own; the catalogue row makes it part of the
        # project, in a write transaction short enough not to starve other writers
        file = f"{uuid.uuid4().hex}.parquet"
        target = self.path / MOLECULES / file
        tmp = target.with_name(file + ".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, target)
        try:
            with self._connect() as db:
                db.execute("BEGIN IMMEDIATE")
                number = _next_number(db) if kind == "generated" else None
                run_id = db.execute(
                    "INSERT INTO runs (name, kind, created, settings, reward_toml, "
                    "reward_name, checkpoint, checkpoint_id, summary, n, file, number) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (name, kind, _now(), json.dumps(settings, default=str), reward_toml,
                     reward_name, str(checkpoint), ckpt_id, json.dumps(summary, default=float),
                     len(frame), file, number)).lastrowid
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return self.run(run_id)

    def runs(self) -> list[RunRecord]:
        with self._connect() as db:
            rows = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id").fetchall()
        return [_run_record(r) for r in rows]

    def run_ids(self, kind: str) -> set[int]:
        """The IDs of the runs of one kind (one small query, no records built)."""
        with self._connect() as db:
            return {r[0] for r in db.execute("SELECT id FROM runs WHERE kind = ?", (kind,))}

    def find_base(self, checkpoint_id: str, settings: dict, keys, smiles=None,
                  same_folder=None) -> int | None:
        """The ID of the newest stored base set made by the weights `checkpoint_id` (see
        `checkpoint_id`) whose settings agree with `settings` on `keys` (what a comparison
        set depends on: engine.sampling.compare.BASE_KEYS) and, when given, holding these
        very `smiles` in order, so a set is stored once and found again after a restart;
        `same_folder(stored checkpoint)` may also require the folder it came from. None
        when there is none, or `checkpoint_id` is "" (no weights to identify)."""
        if not checkpoint_id:
            return None
        wanted = {k: settings.get(k) for k in keys}
        for record in reversed(self.runs()):
            if (record.kind == "base" and record.checkpoint_id == checkpoint_id
                    and (same_folder is None or same_folder(record.checkpoint))
                    and {k: record.settings.get(k) for k in keys} == wanted
                    and (smiles is None
                         or self.molecules(record.id)["smiles"].tolist() == list(smiles))):
                return record.id
        return None

    def run(self, run_id: int) -> RunRecord:
        with self._connect() as db:
            row = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?",
                             (int(run_id),)).fetchone()
        if row is None:
            raise ProjectError(f"no run {run_id} in {self.path}")
        return _run_record(row)

    def molecules(self, run_id: int) -> pd.DataFrame:
        """A stored run's molecules, as they were saved (IDs and InChIKeys included)."""
        record = self.run(run_id)
        path = self.path / MOLECULES / self._file(record.id)
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ProjectError(f"{path}: the molecules of run {record.id} cannot be read "
                               f"({exc})") from None
        frame.insert(0, "id", molecule_ids(record.id, len(frame)))
        frame.insert(1, "run_id", record.id)
        return frame

    def _file(self, run_id: int) -> str:
        with self._connect() as db:
            row = db.execute("SELECT file FROM runs WHERE id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise ProjectError(f"no run {run_id} in {self.path}")
        return row[0]

    def rename_run(self, run_id: int, name: str) -> RunRecord:
        self._writable()
        name = _name(name, "run")
        with self._connect() as db:
            if db.execute("UPDATE runs SET name = ? WHERE id = ?",
                          (name, int(run_id))).rowcount == 0:
                raise ProjectError(f"no run {run_id} in {self.path}")
        return self.run(run_id)

    def delete_run(self, run_id: int) -> None:
        """Remove a run, and the base set it was compared with unless another run is
        compared with it too: catalogue rows first, then the molecule files. Selections
        keep their IDs (the molecules show as gone)."""
        self._writable()
        record = self.run(run_id)
        base = record.settings.get("base_run")
        shared = any(r.settings.get("base_run") == base for r in self.runs() if r.id != record.id)
        doomed = [record.id] + ([int(base)] if base and not shared else [])
        files = [self._file(i) for i in doomed if self._exists(i)]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for i in doomed:
                db.execute("DELETE FROM runs WHERE id = ?", (i,))
                db.execute("DELETE FROM notes WHERE run_id = ?", (i,))
        for file in files:
            (self.path / MOLECULES / file).unlink(missing_ok=True)

    def _exists(self, run_id: int) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() \
                is not None

    # small facts the dashboard keeps (e.g. this machine's sampling rates) -------------
    def value(self, key: str) -> str | None:
        """A stored text value of the project (None when unset)."""
        if key in self._values:
            return self._values[key]
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (f"app:{key}",)).fetchone()
        return None if row is None else row[0]

    def set_value(self, key: str, value: str) -> None:
        """Store a text value (a read-only project keeps it for this process only)."""
        if self.read_only:
            self._values[key] = str(value)
            return
        with self._connect() as db:
            db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                       "value = excluded.value", (f"app:{key}", str(value)))

    # selections ---------------------------------------------------------------------
    def save_selection(self, name: str, members, reward_toml: str = "") -> Selection:
        """Store (or replace) a named selection of molecule IDs."""
        self._writable()
        name = _name(name, "selection")
        members = tuple(dict.fromkeys(str(m) for m in members))
        for m in members:
            split_id(m)
        with self._connect() as db:
            db.execute("INSERT INTO selections (name, created, reward_toml, members) "
                       "VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET created = "
                       "excluded.created, reward_toml = excluded.reward_toml, members = "
                       "excluded.members", (name, _now(), reward_toml, json.dumps(members)))
        return self.selection(name)

    def selection(self, name: str) -> Selection:
        with self._connect() as db:
            row = db.execute("SELECT id, name, created, reward_toml, members FROM selections "
                             "WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ProjectError(f"no selection named {name!r} in {self.path}")
        return Selection(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])))

    def selections(self) -> list[Selection]:
        with self._connect() as db:
            names = [r[0] for r in db.execute("SELECT name FROM selections ORDER BY id")]
        return [self.selection(n) for n in names]

    def gather(self, ids) -> pd.DataFrame:
        """The stored rows of these molecule IDs, in the given order, with the run's name
        and the reward it was made for; IDs of deleted runs are left out."""
        by_run: dict[int, list[int]] = {}
        for m in ids:
            run, row = split_id(m)
            by_run.setdefault(run, []).append(row)
        known = {r.id: r for r in self.runs()}
        parts = []
        for run, rows in by_run.items():
            if run not in known:
                continue
            frame = self.molecules(run)
            frame = frame.iloc[[r for r in rows if 0 <= r < len(frame)]].copy()
            frame["run_name"] = known[run].name
            frame["generated_for"] = known[run].reward_name
            parts.append(frame)
        if not parts:
            return pd.DataFrame(columns=["id", "run_id", "inchikey", "smiles"])
        out = pd.concat(parts, ignore_index=True)
        order = {m: i for i, m in enumerate(dict.fromkeys(str(m) for m in ids))}
        return out.sort_values("id", key=lambda s: s.map(order)).reset_index(drop=True)

    # notes --------------------------------------------------------------------------
    def add_note(self, text: str, run_id: int | None = None) -> int:
        self._writable()
        text = str(text).strip()
        if not text:
            raise ProjectError("a note needs some text")
        with self._connect() as db:
            return db.execute("INSERT INTO notes (created, run_id, text) VALUES (?,?,?)",
                              (_now(), run_id, text)).lastrowid

    def notes(self, run_id: int | None = None) -> list[dict]:
        query = "SELECT id, created, run_id, text FROM notes"
        args: tuple = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (int(run_id),)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [dict(zip(("id", "created", "run_id", "text"), r)) for r in rows]


_RUN_COLUMNS = ("id, name, kind, created, settings, reward_toml, reward_name, checkpoint, "
                "checkpoint_id, summary, n, number")


def _run_record(row) -> RunRecord:
    return RunRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6],
                     row[7], row[8], json.loads(row[9]), row[10], row[11])


def _next_number(db) -> int:
    """The next run number, inside the caller's write transaction: one past the highest
    ever given (kept in meta, so a deleted run's number is not given again)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'last_number'").fetchone()
    highest = db.execute("SELECT max(number) FROM runs").fetchone()[0] or 0
    number = max(int(row[0]) if row else 0, highest) + 1
    db.execute("INSERT INTO meta VALUES ('last_number', ?) ON CONFLICT(key) DO UPDATE SET "
               "value = excluded.value", (str(number),))
    return number


class _Transaction:
    """A connection used as `with`: commits on success, rolls back on error, then closes
    (sqlite3's own context manager does not close)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        with closing(self.db):
            if self.db.in_transaction:
                self.db.execute("ROLLBACK" if exc_type else "COMMIT")
