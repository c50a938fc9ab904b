"""The molecule grid: RDKit drawings of the valid molecules with reward, key properties,
similarity to the references and a badge naming any alerts or flags or a failed structure
term; sortable, paged, SMARTS-filtered with highlighted matches (without a filter, the
reward's required and forbidden SMARTS are highlighted), each with a select checkbox and
"Make analogues"."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app import chemview, labels, state
from app.components import analogues, filters, structure_editor
from engine.chem.alerts import FAMILY_COLUMNS, FAMILY_SHORT
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.structures import SmartsError

ss = st.session_state
# three cards a row at a drawing of 320 x 240 (mols2grid's cards, drawn at the width the
# right-hand pane gives them on a laptop screen); "Large drawings": two a row
COLUMNS, LARGE_COLUMNS = 3, 2
SMALL, LARGE = (320, 240), (480, 340)   # drawing sizes (width, height) in pixels
NONE = "-"   # "then by" left unset


def _toggle(molecule_id: str, key: str, picks: state.Picks) -> None:
    (picks.add if ss[key] else picks.remove)([molecule_id])


MAX_FACTS = 8   # a card's facts fit in two lines at three cards a row


def _key_properties(reward) -> list[str]:
    """What a card lists: every property the reward scores (a chemist tuning it reads each
    term's value; at most MAX_FACTS), then QED, MW and logP up to four."""
    terms = list(dict.fromkeys(reward.properties))[:MAX_FACTS]
    return list(dict.fromkeys([*terms, "qed", "mw", "logp"]))[:max(4, len(terms))]


def _card(row, smarts, shown: list[str], size: tuple[int, int], reward,
          picks: state.Picks) -> None:
    smiles = row["smiles"]
    with st.container(border=True):
        st.image(chemview.mol_svg(smiles, smarts, *size), width="stretch")
        facts = " · ".join(f"{labels.short(p)} {labels.fmt(p, row[p])}" for p in shown)
        for column, short in (("similarity", "sim"), ("ref_similarity", "ref sim")):
            if pd.notna(row.get(column)):
                facts += f" · {short} {row[column]:.2f}"
        st.markdown(f"**reward {row['reward']:.3f}**  \n:small[{facts}]")
        if isinstance(row.get("name"), str):   # one of your own molecules
            st.caption(f"yours: {row['name'] or row['source']}")
        families = [FAMILY_SHORT[c] for c in FAMILY_COLUMNS
                    if pd.notna(row.get(c, pd.NA)) and row[c]]
        if families:
            st.badge(", ".join(families), icon=":material/warning:", color="red",
                     help=row["alerts"])
        failed = [t for t in reward.structures if t.structure != "similarity"
                  and row.get(f"d_{t.name}") == 0]
        if failed:
            st.badge("fails " + ", ".join(t.name for t in failed), icon=":material/block:",
                     color="orange",
                     help="; ".join(labels.literal(t.describe()) for t in failed))
        key = f"grid::sel::{row['id']}"
        ss[key] = row["id"] in picks.chosen()
        with st.container(horizontal=True, vertical_alignment="center"):
            st.checkbox("select", key=key, on_change=_toggle, args=(row["id"], key, picks),
                        help=f"{smiles} (ID {row['id']})")
            analogues.button(row, key=f"grid::analogues::{row['id']}", label="Analogues",
                             kind="tertiary")


def _sort_label(column: str) -> str:
    special = {"nll": "NLL (base model)", **filters.LABELS, NONE: "nothing"}
    return special.get(column) or labels.label(column)


def render(frame, reward, picks: state.Picks = state.SHARED, matched: str = "",
           smarts_label: str = "SMARTS filter") -> None:
    """The valid molecules of `frame` as cards; their select boxes write to `picks`.
    `matched`: a SMARTS the molecules were filtered by already (the Library screen's),
    highlighted unless the grid's own filter is set; `smarts_label` names the grid's own
    SMARTS box (the Library screen has one for the whole library too)."""
    mols = frame[frame["valid"]].drop_duplicates("smiles")
    extra = [c for c in ("similarity", "ref_similarity", *filters.structure_columns(frame))
             if c in frame]
    sort_options = list(dict.fromkeys(["reward", *extra, *[f"d_{p}" for p in reward.properties],
                                       *PROPERTY_NAMES, "nll"]))
    if ss.get("grid::sort") not in sort_options:
        ss["grid::sort"] = "reward"
    if ss.get("grid::then") not in (NONE, *sort_options):
        ss["grid::then"] = NONE
    c1, c1b, c2, c3, c4 = st.columns([3, 3, 2, 3, 1.6])
    then = c1b.selectbox("Then by", (NONE, *sort_options), key="grid::then",
                         persist_state="session", format_func=_sort_label,
                         help="Breaks ties of the first key (e.g. reward 1.000).")
    sort = c1.selectbox("Sort by", sort_options, key="grid::sort", persist_state="session",
                        format_func=_sort_label)
    descending = c2.radio("Order", ("descending", "ascending"), key="grid::order",
                          persist_state="session") == "descending"
    smarts = c3.text_input(smarts_label, key="grid::smarts", persist_state="session",
                           placeholder="e.g. c1ccccc1 or [NX3;H2]",
                           help="Keep molecules that contain the pattern; matches highlighted.")
    per_page = c4.selectbox("Per page", (12, 24, 48), key="grid::per_page",
                            persist_state="session")
    smarts = (smarts or "").strip()
    if smarts:
        try:
            keep = chemview.smarts_matches(tuple(mols["smiles"]), smarts)
        except SmartsError as exc:
            st.error(str(exc), icon=":material/error:")
            smarts = ""
        else:
            st.caption(f"{sum(keep)} of {len(mols)} molecules contain `{smarts}`.")
            mols = mols[keep]
    highlight = smarts or matched or structure_editor.smarts_of(reward)
    if highlight and not (smarts or matched):
        st.caption("Highlighted: the reward's SMARTS, "
                   + "; ".join(f"{'required' if goal == 'require' else 'forbidden'} "
                               + ", ".join(f"`{p}`" for p in found)
                               for goal in ("require", "forbid")
                               if (found := structure_editor.smarts_of(reward, goal)))
                   + ". A SMARTS filter highlights its own matches instead.")
    if mols.empty:
        st.info("No valid molecules to show." if not smarts else "No molecule matches.")
        return
    keys = [sort] if then in (NONE, sort) else [sort, then]
    mols = mols.sort_values(keys, ascending=not descending, kind="stable", na_position="last")
    pages = math.ceil(len(mols) / per_page)
    if not 1 <= ss.get("grid::page", 1) <= pages:
        ss["grid::page"] = 1
    left, middle, right = st.columns([1, 2, 1.2], vertical_alignment="bottom")
    page = left.number_input(f"Page (of {pages})", 1, pages, key="grid::page")
    middle.button(f"Select all {len(mols)} shown", key="grid::all", on_click=picks.add,
                  args=(mols["id"].tolist(),), icon=":material/select_all:")
    large = right.toggle("Large drawings", key="grid::large", persist_state="session",
                         help="Two molecules per row, drawn larger.")
    columns, size = (LARGE_COLUMNS, LARGE) if large else (COLUMNS, SMALL)
    shown = _key_properties(reward)
    rows = mols.iloc[(page - 1) * per_page: page * per_page].to_dict("records")
    for start in range(0, len(rows), columns):
        for col, row in zip(st.columns(columns), rows[start:start + columns]):
            with col:
                _card(row, highlight, shown, size, reward, picks)
