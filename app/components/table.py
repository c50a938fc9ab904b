"""Every molecule of the run: structure, reward, the reward's structure columns and
similarity to the references, alerts, raw properties beside per-term desirabilities, flags
and scaffold, with row selection mirrored both ways with the shared selection, and "Make
analogues" of one molecule below it."""
from __future__ import annotations

from functools import partial

import streamlit as st

from app import chemview, labels, state
from app.components import analogues, filters
from engine.chem.alerts import FAMILY_COLUMNS, FAMILY_LABELS
from engine.chem.properties import PROPERTY_NAMES

ss = st.session_state
KEY, ROWS = "table::df", "table::rows"
ROW_HEIGHT, IMAGE_WIDTH = 60, 96   # pixels: room for the structure drawings
ROWS_SHOWN = 16   # a tall table, as in DataWarrior: 16 rows at a time, then it scrolls
HEIGHT = ROW_HEIGHT * ROWS_SHOWN + 38   # + the header row


def _on_select(picks: state.Picks) -> None:
    shown = ss[ROWS]
    chosen = {shown[i] for i in ss[KEY]["selection"]["rows"]}
    picks.remove(set(shown) - chosen)
    picks.add(chosen)


def _column_config(columns, structure: dict[str, str]) -> dict:
    config = {"smiles": st.column_config.TextColumn("smiles", width="medium", pinned=True),
              "reward": st.column_config.ProgressColumn("reward", min_value=0.0, max_value=1.0,
                                                        format="%.3f", pinned=True),
              "nll": st.column_config.NumberColumn("nll", format="%.1f",
                                                   help="-log p(x) under the base model"),
              "id": st.column_config.TextColumn("ID", help="Run and row: where the molecule "
                                                "came from, kept in exports"),
              "inchikey": st.column_config.TextColumn("InChIKey"),
              "given_smiles": st.column_config.TextColumn(
                  "given SMILES", help="Your file's SMILES; `smiles` is what was scored: a "
                  "salt's largest fragment, neutralized where a proton does it")}
    config["structure"] = st.column_config.ImageColumn("structure", width=IMAGE_WIDTH,
                                                       pinned=True)
    config["similarity"] = st.column_config.ProgressColumn(
        "similarity", min_value=0.0, max_value=1.0, format="%.2f",
        help="Largest Tanimoto similarity (Morgan radius 2, 2048 bits) to a reference")
    config["ref_similarity"] = st.column_config.ProgressColumn(
        "ref_similarity", min_value=0.0, max_value=1.0, format="%.2f",
        help="Largest Tanimoto similarity to the filter bar's references (the reward's "
             "similarity term writes `similarity`)")
    config["nearest_image"] = st.column_config.ImageColumn("nearest reference",
                                                           width=IMAGE_WIDTH)
    config["ref_nearest_image"] = st.column_config.ImageColumn("ref_nearest",
                                                               width=IMAGE_WIDTH)
    config["alerts"] = st.column_config.TextColumn("alerts", width="medium",
                                                   help="What matched, by family")
    for c in FAMILY_COLUMNS:
        config[c] = st.column_config.CheckboxColumn(c, help=FAMILY_LABELS[c])
    for c in columns:
        if c in structure and c not in config:
            config[c] = st.column_config.NumberColumn(c, format="%.2f",
                                                      help=structure[c])
        elif c.startswith("d_"):
            config[c] = st.column_config.NumberColumn(c, format="%.3f", help=labels.label(c))
        elif c in PROPERTY_NAMES:
            fmt = "%d" if c in labels.COUNTS else "%.2f"
            config[c] = st.column_config.NumberColumn(c, format=fmt, help=labels.LABELS[c])
    return config


def render(frame, reward, picks: state.Picks = state.SHARED,
           order: tuple[str, bool] | None = None) -> None:
    """Every row of `frame`; ticking rows writes to `picks`. Rows by `order` (column,
    descending) where given, else the reference similarity (when set) and the reward."""
    # the bar's references first when set (what the chemist just asked about)
    first = next((c for c in ("ref_similarity", "similarity") if c in frame), None)
    by = [first, "reward"] if first else ["reward"]
    if order is not None:
        by = [order[0]]
    table = frame.sort_values(by, ascending=order is not None and not order[1],
                              kind="stable", na_position="last").reset_index(drop=True)
    table["structure"] = [chemview.mol_image(s) if v else None
                          for s, v in zip(table["smiles"], table["valid"])]
    similarity = []
    # the bar's references first, as the rows are sorted
    for value, nearest, image in (("ref_similarity", "ref_nearest", "ref_nearest_image"),
                                  ("similarity", "nearest_reference", "nearest_image")):
        if value in table:
            table[image] = [chemview.mol_image(s) for s in table[nearest]]
            similarity += [value, image]
    structure = {t.name: t.describe() for t in reward.structures
                 if t.name in table and t.name not in similarity}
    d_cols = [c for c in table.columns if c.startswith("d_")]
    mine = (["source", "name"] if "name" in table else []) + \
        (["given_smiles"] if "given_smiles" in table else [])
    columns = ["smiles", "structure", *mine, "reward", *similarity, *structure, "alerts",
               "valid", *d_cols, *PROPERTY_NAMES, *FAMILY_COLUMNS, "scaffold", "nll", "id",
               "inchikey"]
    if order is not None and order[0] in columns:   # the column the rows follow, in sight
        columns.remove(order[0])
        columns.insert(columns.index("reward") + (order[0] != "reward"), order[0])
    ss[ROWS] = table["id"].tolist()
    chosen = picks.chosen()
    wanted = [i for i, s in enumerate(ss[ROWS]) if s in chosen]
    current = ss.get(KEY, {}).get("selection", {}).get("rows")
    if current != wanted:
        ss[KEY] = {"selection": {"rows": wanted}}
    st.dataframe(table[columns], key=KEY, on_select=partial(_on_select, picks),
                 selection_mode="multi-row", hide_index=True, height=HEIGHT,
                 row_height=ROW_HEIGHT, column_config=_column_config(columns, structure),
                 placeholder="–")
    if order is not None:
        shown = f"by {labels.order_words(*order)}"
    else:
        shown = (f"most similar first ({filters.LABELS.get(first, first).lower()})" if first
                 else "best reward first")
    st.caption(f"{len(table)} molecules, {shown}; {len(wanted)} rows selected. Click a "
               "header to sort; tick rows to add them to the selection, untick to remove.")
    analogues.picker(table, key="table::lead")
