"""The Library screen's reading of a library folder (engine.sampling.library_reader): the
folder opened and checked (cached on its modification time), the filter bar (valid molecules
only, range filters on stored numeric columns, a SMARTS pattern checked shard by shard as
far as the pages go), the order (library order, or the best by a stored column over every
shard), the pager, and the page of molecules the grid and the table show:
read from its shards alone, re-scored with the reward in use on request, with alerts and
scaffold computed for the page when the shards lack them. The library's molecules have their
own selection (IDs `<library>:<row>`), apart from the project's selection of run molecules."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app import labels, state
from app.components import grid
from engine.chem.alerts import CHECK_COLUMNS, with_checks
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import Reward
from engine.chem.scoring import rescore
from engine.sampling.library import UNIQUE_DIR
from engine.sampling.library_reader import (ROW, Library, RowFilter, column_range,
                                            open_library, page_rows, ranked_rows,
                                            shard_mask)
from engine.sampling.sampler import SETTING_COLUMNS

ss = st.session_state
FOLDER, UNIQUE, INVALID = "library::folder", "library::unique", "library::invalid"
RANGES, SMARTS, REWARD = "library::ranges", "library::smarts", "library::reward"
PAGE, PAGE_SIZE, SCANNED = "library::page", "library::page_size", "library::scanned"
PICKED, PICKED_FOR = "library::picked", "library::picked_for"
ORDER_BY, LOWEST_FIRST = "library::order_by", "library::lowest_first"
LIBRARY_ORDER = "library order"
RANK_CAP = 50_000   # molecules an ordering keeps (the pages and the filtered CSV go this far)
PAGE_SIZES = (48, 96, 192)   # molecules read per page; the grid pages through them
STORED, IN_USE = "stored", "in use"
# stored columns no range filter is for: how the molecules were made, and their numbers
NOT_FILTERS = {*SETTING_COLUMNS, "library_index", ROW}


def _chosen() -> set[str]:
    return ss.setdefault(PICKED, set())


PICKS = state.Picks(_chosen, lambda ids: _chosen().update(ids),
                    lambda ids: _chosen().difference_update(ids))


def clear_picks() -> None:
    _chosen().clear()


def folder_stamp(folder: Path) -> tuple[int, ...]:
    """Changes when a shard is committed (a rename in the folder) or the manifest is written
    (in the folder, or in the parent for unique/)."""
    return tuple(p.stat().st_mtime_ns for p in (folder, folder.parent) if p.is_dir())


@st.cache_data(max_entries=16, show_spinner="Reading the shards' footers…")
def _open(folder: str, stamp: tuple[int, ...]) -> Library:
    return open_library(folder)


def open_folder(text: str) -> Library:
    """The library at `text`. Raises LibraryError (see open_library)."""
    path = Path(text.strip()).expanduser()
    return _open(str(path), folder_stamp(path))


def shown(lib: Library) -> Library:
    """The molecules the screen shows: the library, or its unique/ when it has one and the
    chemist ticks it. The selection of library molecules starts empty for each folder."""
    if lib.unique_folder is not None and st.toggle(
            "Unique molecules only", key=UNIQUE, on_change=reset_page, persist_state="session",
            help=f"The shards of {UNIQUE_DIR}/ (written by `--dedupe`): repeated InChIKeys "
                 "and invalid SMILES dropped."):
        lib = _open(str(lib.unique_folder), folder_stamp(lib.unique_folder))
    if ss.get(PICKED_FOR) != str(lib.folder):
        ss[PICKED_FOR] = str(lib.folder)
        clear_picks()
    return lib


def label(lib: Library) -> str:
    """The library's name in molecule IDs and file names."""
    return f"{lib.folder.parent.name}-unique" if lib.is_unique else lib.folder.name


def with_ids(lib: Library, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (from read_rows) with the molecules' IDs first, `<library>:<row>`; an `id`
    column the shards store (a scored file's own) becomes `input_id`."""
    frame = frame.rename(columns={"id": "input_id"})
    frame.insert(0, "id", [f"{label(lib)}:{r}" for r in frame[ROW]])
    return frame


@st.cache_data(max_entries=4096, show_spinner=False)
def _mask(file: str, stamp: int, k: int, key: str, _lib: Library, _rows: RowFilter):
    return shard_mask(_lib, k, _rows)


def mask_of(lib: Library, rows: RowFilter, note=None):
    """`mask(k)` for `rows`, cached per shard file and filter; `note` (a placeholder) says
    which shard is being checked."""
    def mask(k: int) -> np.ndarray:
        if note is not None and rows.smarts:
            note.caption(f"Checking `{rows.smarts}` in shard {k + 1} of {len(lib.files)}…")
        file = lib.files[k]
        return _mask(str(file), file.stat().st_mtime_ns, k, repr(rows), lib, rows)
    return mask


def reset_page() -> None:
    ss[PAGE] = 1
    ss["grid::page"] = 1


def folder_changed() -> None:
    """Another folder: its first page, and its own reward choice (its stored reward when it
    has one, whatever the folder before showed)."""
    reset_page()
    ss.pop(REWARD, None)


def _range_key(column: str) -> str:
    return f"library::range::{column}"


@st.cache_data(max_entries=256, show_spinner=False)
def _bounds(folder: str, stamp: tuple[int, ...], column: str, _lib: Library):
    return column_range(_lib, column)


def _step_format(step: float) -> str:
    """A slider's readout as precise as its step (at most 3 decimals): "%.0f" for 10,
    "%.2f" for 0.25."""
    decimals = next((d for d in range(3) if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-9),
                    3)
    return f"%.{decimals}f"


def _clean(x: float) -> float:
    """`x` without binary float noise (0.25, not 0.25000000000000006)."""
    return float(f"{x:.10g}")


def filter_bar(lib: Library, cols) -> RowFilter | None:
    """The filters, drawn in the three columns `cols`, as a RowFilter; None (with the error
    shown) for an invalid SMARTS."""
    columns = filter_columns(lib)
    left, middle, right = cols
    with left.popover("Range filters", icon=":material/tune:", width="stretch"):
        picked = st.multiselect("Filter on", columns, key=RANGES, persist_state="session",
                                format_func=labels.label, placeholder="choose columns",
                                on_change=reset_page,
                                help="Columns stored in the shards; the reward in use is "
                                     "computed for the page shown, not filtered on.")
        ranges = []
        for column in picked:
            found = _bounds(str(lib.folder), folder_stamp(lib.folder), column, lib)
            if found is None or found[0] == found[1]:
                st.caption(f"{labels.label(column)}: " + (
                    "no values" if found is None else f"every molecule has {found[0]:g}"))
                continue
            step = labels.STEPS.get(column, (found[1] - found[0]) / 100)
            # bounds on the step's grid, or the slider snaps its upper end below the maximum
            low, high = (_clean(math.floor(found[0] / step) * step),
                         _clean(math.ceil(found[1] / step) * step))
            key = _range_key(column)
            old = ss.get(key, (low, high))
            ss[key] = (min(max(old[0], low), high), max(min(old[1], high), low))
            st.slider(labels.label(column), low, high, key=key, on_change=reset_page,
                      step=step, persist_state="session", format=_step_format(step))
            if ss[key] != (low, high):
                ranges.append((column, float(ss[key][0]), float(ss[key][1])))
    middle.checkbox("Invalid SMILES too", key=INVALID, on_change=reset_page,
                    persist_state="session",
                    help="Rows RDKit could not read (valid = False) are left out unless "
                         "this is ticked.")
    smarts = right.text_input("SMARTS in every shard", key=SMARTS, persist_state="session",
                              on_change=reset_page, placeholder="e.g. c1ccccc1 or [NX3;H2]",
                              help="Keep the library's molecules that contain the pattern "
                                   "(highlighted in the grid). Checked shard by shard as far "
                                   "as the pages shown go, about a second per 10,000 "
                                   "molecules; the plots check every shard.")
    try:
        return RowFilter(ranges=tuple(ranges), valid_only=not ss.get(INVALID, False),
                         smarts=(smarts or "").strip())
    except ValueError as exc:   # SmartsError, LibraryError
        st.error(str(exc), icon=":material/error:")
        return None


def filter_columns(lib: Library) -> list[str]:
    """The stored numeric columns a chemist filters or orders on: reward, the properties,
    then the rest (how the molecules were made and their numbers left out)."""
    return [c for c in dict.fromkeys(("reward", *PROPERTY_NAMES, *lib.numeric))
            if c in lib.numeric and c not in NOT_FILTERS]


def _order_changed() -> None:
    """A new order starts at its first page, and the grid sorts its cards the same way."""
    reset_page()
    if ss.get(ORDER_BY, LIBRARY_ORDER) != LIBRARY_ORDER:
        ss.update({"grid::sort": ss[ORDER_BY], "grid::then": grid.NONE,
                   "grid::order": "ascending" if ss.get(LOWEST_FIRST) else "descending"})


def order_bar(lib: Library, col) -> tuple[str, bool] | None:
    """The order control, drawn in `col`: None for library order, else (column, descending)."""
    options = [LIBRARY_ORDER, *filter_columns(lib)]
    if ss.get(ORDER_BY) not in options:
        ss[ORDER_BY] = LIBRARY_ORDER
    by, lowest = ss[ORDER_BY], ss.get(LOWEST_FIRST, False)
    title = "Library order" if by == LIBRARY_ORDER else labels.order_words(by, not lowest)
    with col.popover(f"Order: {title}", icon=":material/sort:", width="stretch"):
        st.selectbox("Order by", options, key=ORDER_BY, on_change=_order_changed,
                     persist_state="session",
                     format_func=lambda c: "Library order" if c == LIBRARY_ORDER
                     else labels.label(c),
                     help=f"The molecules ordered by a value stored in the shards, over "
                          f"every shard (the pages and the filtered CSV go as far as the "
                          f"first {RANK_CAP:,} in that order); molecules without a value "
                          "are left out. The "
                          "reward in use, computed for the page only, cannot order the "
                          "library: score the folder with it first.")
        st.toggle("Lowest first", key=LOWEST_FIRST, on_change=_order_changed,
                  persist_state="session",
                  disabled=by == LIBRARY_ORDER,
                  help="For values where less is better: SA score, NLL, molecular weight.")
    return None if by == LIBRARY_ORDER else (by, not lowest)


@st.cache_data(max_entries=64, show_spinner="Ordering every shard…")
def _ranked(folder: str, stamp: tuple[int, ...], key: str, column: str, descending: bool,
            _lib: Library, _rows: RowFilter) -> tuple[np.ndarray, int]:
    return ranked_rows(_lib, mask_of(_lib, _rows), column, RANK_CAP, descending)


def ranked(lib: Library, rows: RowFilter, order: tuple[str, bool]) -> tuple[np.ndarray, int]:
    """The row numbers of the best RANK_CAP molecules that pass `rows`, in `order`, and how
    many that pass have a value (cached per folder, filter and order; every shard's mask is
    computed, so a SMARTS is then checked everywhere)."""
    found = _ranked(str(lib.folder), folder_stamp(lib.folder), repr(rows), *order, lib, rows)
    mark_scanned(lib, rows, len(lib.files))
    return found


def describe(rows: RowFilter) -> str:
    """The filters in words ("" for none but validity)."""
    parts = [f"{labels.short(c)} {labels.fmt(c, low)}-{labels.fmt(c, high)}"
             for c, low, high in rows.ranges]
    if rows.smarts:
        parts.append(f"containing `{rows.smarts}`")
    return "; ".join(parts)


def scanned(lib: Library, rows: RowFilter) -> int:
    """How many shards (from the first) have been checked for `rows`: every shard without a
    SMARTS (a few columns each), with one as far as the pages and plots went."""
    if not rows.smarts:
        return len(lib.files)
    return ss.get(SCANNED, {}).get((str(lib.folder), repr(rows)), 0)


def counts(lib: Library, rows: RowFilter) -> tuple[int, bool]:
    """(molecules known to pass `rows`, whether every shard was checked)."""
    mask, done = mask_of(lib, rows), scanned(lib, rows)
    return sum(int(mask(k).sum()) for k in range(done)), done == len(lib.files)


def mark_scanned(lib: Library, rows: RowFilter, scanned: int) -> None:
    done = ss.setdefault(SCANNED, {})
    key = (str(lib.folder), repr(rows))
    done[key] = max(done.get(key, 0), scanned)


def _page_span() -> tuple[int, int]:
    """(index of the page's first molecule, molecules a page) as the pager has them."""
    size = ss.setdefault(PAGE_SIZE, PAGE_SIZES[0])
    return (max(1, int(ss.get(PAGE, 1))) - 1) * size, size


def page(lib: Library, rows: RowFilter, note) -> tuple[list, int]:
    """The page asked for (the first when the filters leave it empty): its (shard,
    positions) pairs and the index of its first molecule among those that pass. `note`
    says which shard a SMARTS is being checked in."""
    start, size = _page_span()
    picks, _, scanned = page_rows(lib, mask_of(lib, rows, note), start, size)
    if not picks and start:
        reset_page()
        start = 0
        picks, _, scanned = page_rows(lib, mask_of(lib, rows, note), 0, size)
    note.empty()
    mark_scanned(lib, rows, scanned)
    return picks, start


def ranked_page(lib: Library, rows: RowFilter,
                order: tuple[str, bool]) -> tuple[list[int], int, int]:
    """The page asked for in `order`: its row numbers in that order, the index of its first
    molecule, and how many molecules that pass have a value to order by."""
    start, size = _page_span()
    best, total = ranked(lib, rows, order)
    if start >= len(best) and start:
        reset_page()
        start = 0
    return best[start:start + size].tolist(), start, total


def pager(known: int, complete: bool, text: str) -> None:
    """The page controls for `known` molecules that pass (at least, unless `complete`),
    with `text` beside them."""
    size = ss[PAGE_SIZE]
    pages = max(1, math.ceil(known / size)) + (0 if complete else 1)
    ss[PAGE] = min(max(1, int(ss.get(PAGE, 1))), pages)
    left, middle, right = st.columns([1, 1, 3], vertical_alignment="bottom")
    of = f"{pages:,}" if complete else f"{pages - 1:,}+"
    left.number_input(f"Library page (of {of})", 1, pages,
                      key=PAGE, on_change=lambda: ss.update({"grid::page": 1}))
    middle.selectbox("Molecules a page", PAGE_SIZES, key=PAGE_SIZE, on_change=reset_page,
                     persist_state="session",
                     help="Read from the shards for each library page; the grid shows "
                          "them 12, 24 or 48 at a time, the table all of them.")
    right.caption(text)


@st.cache_data(max_entries=64, show_spinner=False)
def _checks(smiles: tuple[str, ...]) -> pd.DataFrame:
    """Alerts, flags and scaffold of a page's molecules (15-30 ms a molecule)."""
    return with_checks(pd.DataFrame({"smiles": list(smiles)}))[list(CHECK_COLUMNS)]


def page_frame(lib: Library, read: pd.DataFrame, reward: Reward,
               rescored: bool) -> pd.DataFrame:
    """The page's rows (`read`: from read_rows or read_in_order) as the views take them:
    `id` first, the reward (the stored one, or `reward` computed here when `rescored` or
    none is stored), alerts and scaffold, and every column the table shows (empty where
    the library has none)."""
    frame = with_ids(lib, read)
    frame["valid"] = (frame["valid"].fillna(False).astype(bool) if "valid" in frame
                      else frame["mw"].notna())
    if rescored or "reward" not in frame:
        frame = rescore(frame, reward)
    missing = [c for c in CHECK_COLUMNS if c not in frame]
    if missing and len(frame):
        checks = _checks(tuple(frame["smiles"]))
        frame = pd.concat([frame, checks[missing].set_axis(frame.index)], axis=1)
    wanted = ("nll", "inchikey", *CHECK_COLUMNS, *PROPERTY_NAMES,
              *(f"d_{p}" for p in reward.properties))
    return frame.reindex(columns=[*frame.columns, *(c for c in wanted if c not in frame)])


def missing_properties(lib: Library) -> list[str]:
    return [p for p in PROPERTY_NAMES if p not in lib.columns]

