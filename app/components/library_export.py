"""A library's downloads: the molecules that pass the filters (in library order, or in the
screen's order by a stored column, highest or lowest first), or the library's selection, as
CSV built shard by shard (one shard read at a time) when the button is pressed, at most
EXPORT_CAP molecules a file. One row per molecule with its ID (`<library>:<row>`) first,
then the columns the shards store; when the screen shows the reward in use, its `reward`
and `d_*` columns are computed shard by shard and replace the stored ones, with
`scored_with` naming it; the selection also gets the alerts, flags and scaffold the shards
lack. Spreadsheet-safe through engine.output.csv_text."""
from __future__ import annotations

import io
from collections.abc import Iterable

import pandas as pd
import streamlit as st

from app.components import library_view as view
from engine.chem.alerts import CHECK_COLUMNS, with_checks
from engine.chem.rewards import Reward
from engine.chem.scoring import rescore
from engine.output import csv_text
from engine.sampling.library_reader import (ROW, Library, RowFilter, iter_rows,
                                            read_in_order, read_rows, rows_at)

EXPORT_CAP = view.RANK_CAP   # molecules a CSV holds: about 20 MB with the 25 properties
ORDERED_PART = 5_000         # ranked rows read (from any shards) per piece of the CSV


def _rows_of(ids: Iterable[str]) -> list[int]:
    return [int(i.rsplit(":", 1)[1]) for i in ids]


def library_csv(lib: Library, parts: Iterable[pd.DataFrame], reward: Reward | None,
                checks: bool = False) -> str:
    """CSV text of `parts` (frames from read_rows) with their IDs first; with `reward`, its
    columns computed part by part; with `checks`, the alert, flag and scaffold columns
    (CHECK_COLUMNS) the shards lack, computed (15-30 ms a molecule)."""
    out, header = io.StringIO(), True
    for part in parts:
        part = view.with_ids(lib, part).drop(columns=[ROW])
        if reward is not None:
            part = rescore(part, reward).assign(scored_with=reward.name)
        if checks and (missing := [c for c in CHECK_COLUMNS if c not in part]):
            part = pd.concat([part, with_checks(part[["smiles"]])[missing]], axis=1)
        part = part[["id", *(c for c in part.columns if c != "id")]]
        text = csv_text(part)
        out.write(text if header else text.split("\n", 1)[1])
        header = False
    return out.getvalue() if not header else "id,smiles\n"


def filtered_csv(lib: Library, rows: RowFilter, reward: Reward | None,
                 cap: int = EXPORT_CAP, order: tuple[str, bool] | None = None) -> str:
    """The first `cap` molecules that pass `rows`, in library order, or the first `cap` in
    `order` (column, descending) (the shards' masks and the ordering from the
    screen's cache, computed here where it has none)."""
    if order is None:
        return library_csv(lib, iter_rows(lib, view.mask_of(lib, rows), cap), reward)
    best = view.ranked(lib, rows, order)[0][:cap]
    return library_csv(lib, (read_in_order(lib, best[i:i + ORDERED_PART])
                             for i in range(0, len(best), ORDERED_PART)), reward)


def selection_csv(lib: Library, ids: Iterable[str], reward: Reward | None,
                  cap: int = EXPORT_CAP) -> str:
    """The selected molecules (IDs `<library>:<row>`), in library order, at most `cap`,
    with their alerts, flags and scaffold (what the grid's badges show)."""
    picks = rows_at(lib, sorted(_rows_of(ids))[:cap])
    return library_csv(lib, (read_rows(lib, [p]) for p in picks), reward, checks=True)


def render(lib: Library, rows: RowFilter, reward: Reward | None, known: int,
           complete: bool, order: tuple[str, bool] | None = None) -> None:
    """The download bar: `known` molecules pass the filters (all of them when `complete`);
    `reward` is the reward in use when the screen shows it, else None (stored values);
    `order` the screen's order (None: library order)."""
    where = "in library order" if order is None else "in the screen's order"
    chosen = set(view.PICKS.chosen())
    name = view.label(lib)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{len(chosen)}** selected in this library",
                    help="The library's own selection (the sidebar counts the project's "
                         "molecules); it starts empty for each folder.")
        st.download_button(
            f"Filtered CSV ({min(known, EXPORT_CAP):,}{'+' if not complete else ''})",
            lambda: filtered_csv(lib, rows, reward, order=order),
            file_name=f"{name}_filtered.csv" if order is None else
            f"{name}_by_{order[0]}_{'highest' if order[1] else 'lowest'}_first.csv",
            mime="text/csv", on_click="ignore", icon=":material/download:",
            key="library::export::filtered", disabled=known == 0 and complete,
            help=f"The molecules that pass the filters, {where}, read one shard at a "
                 f"time; at most {EXPORT_CAP:,} a file. The columns the shards store: "
                 "alerts and scaffold only where the library was scored with them "
                 "(`score --alerts`); the selection CSV always has them.")
        st.download_button(
            "Selection CSV", lambda: selection_csv(lib, chosen, reward),
            file_name=f"{name}_selection.csv", mime="text/csv", on_click="ignore",
            icon=":material/download:", key="library::export::selection",
            disabled=not chosen,
            help="The selected molecules with the columns the shards store, plus their "
                 "alerts, flags and Bemis-Murcko scaffold (computed here, 15-30 ms a "
                 "molecule, where the shards lack them).")
        st.button("Clear selection", on_click=view.clear_picks, disabled=not chosen,
                  icon=":material/deselect:", key="library::export::clear")
    if known > EXPORT_CAP:
        st.caption(f"A CSV holds at most {EXPORT_CAP:,} molecules: the first that pass the "
                   f"filters, {where}. Narrow the filters (or split by a range) for the "
                   "rest.")
