"""The bar above the result views: hide molecules with alerts or flags, similarity to the
chemist's reference molecules (with a minimum), range filters on any reward, desirability or
property column, and "pick N diverse" from what is shown into the selection. Every view
below the bar shows the same filtered molecules.

The bar's references write `similarity` and `nearest_reference`, unless the reward's own
similarity term writes those columns: then they write `ref_similarity` and `ref_nearest`
(`columns`), so a reward term's values are never overwritten and both reach the exports."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import labels, state
from engine.chem.alerts import FAMILY_COLUMNS, FAMILY_LABELS, flagged
from engine.chem.diversity import SimilarityError, pick_diverse, reference_similarity
from engine.chem.properties import PROPERTY_NAMES

ss = st.session_state
HIDE, REFS, MIN_SIM = "filters::hide", "filters::refs", "filters::min_sim"
PICK_N, PICKED, RANGES = "filters::pick_n", "filters::picked", "filters::ranges"
PLAIN, RENAMED = ("similarity", "nearest_reference"), ("ref_similarity", "ref_nearest")
LABELS = {"similarity": "Similarity to a reference",
          "ref_similarity": "Similarity to the bar's references"}


def references() -> list[str]:
    """The reference SMILES the user pasted, one per line (blank lines left out)."""
    return [line.strip() for line in (ss.get(REFS) or "").splitlines() if line.strip()]


@st.cache_data(max_entries=64, show_spinner=False)
def _similarity(smiles: tuple[str, ...], refs: tuple[str, ...]) -> pd.DataFrame:
    return reference_similarity(smiles, refs)


def columns(reward) -> tuple[str, str] | None:
    """The bar's (similarity, nearest reference) columns: PLAIN, or RENAMED when the
    reward's terms write a PLAIN column; None in the odd case that they write both pairs."""
    taken = set(reward.columns)
    return next((pair for pair in (PLAIN, RENAMED) if not taken & set(pair)), None)


def with_similarity(frame: pd.DataFrame, reward) -> pd.DataFrame:
    """`frame` with the bar's similarity columns (`columns`) when references are set and
    all parse; unchanged otherwise (the bar shows why)."""
    refs, names = tuple(references()), columns(reward)
    if not refs or names is None:
        return frame
    try:
        table = _similarity(tuple(frame["smiles"]), refs)
    except SimilarityError:
        return frame
    table = table.set_axis(list(names), axis=1).set_axis(frame.index)
    return pd.concat([frame.drop(columns=list(names), errors="ignore"), table], axis=1)


def _pick(smiles: list[str], ids: list[str]) -> None:
    chosen = state.selection()
    already = [i for i, m in enumerate(ids) if m in chosen]
    picked = [ids[i] for i in pick_diverse(smiles, int(ss[PICK_N]), already)]
    state.select(picked)
    ss[PICKED] = len(picked)


def reference_input(reward) -> None:
    """The popover where the chemist pastes reference SMILES."""
    with st.popover("Reference molecules", icon=":material/compare_arrows:"):
        st.text_area("Reference SMILES, one per line", key=REFS, height=140,
                     persist_state="session",
                     placeholder="your lead or known actives, e.g.\nCN1CCC[C@H]1c1cccnc1",
                     help="Each molecule gets its largest Tanimoto similarity (Morgan radius "
                          "2, 2048 bits) to these, and the nearest one. They only filter and "
                          "sort; the reward's own references are in its Structure section.")
        names = columns(reward)
        if names is None:
            st.caption("The reward's terms already write both similarity column pairs: "
                       "these references are not used.")
        elif names == RENAMED:
            st.caption("The reward has a similarity term, which writes `similarity` and "
                       "`nearest_reference`; these references write `ref_similarity` and "
                       "`ref_nearest` (table, molecules, exports).")


def _range_key(column: str) -> str:
    return f"filters::range::{column}"


def range_input(frame: pd.DataFrame) -> None:
    """The popover with a range slider for each column the chemist picks (reward,
    desirabilities, properties, similarity), bounded by the values in `frame`."""
    shown = [c for c in ("reward", "similarity", "ref_similarity", *structure_columns(frame),
                         *(c for c in frame if c.startswith("d_")), *PROPERTY_NAMES)
             if c in frame]
    with st.popover("Range filters", icon=":material/tune:"):
        picked = st.multiselect("Filter on", list(dict.fromkeys(shown)), key=RANGES,
                                persist_state="session",
                                format_func=_column_label, placeholder="choose columns")
        for column in picked:
            values = frame[column].dropna()
            if values.empty:
                continue
            low, high = float(values.min()), float(values.max())
            if low == high:
                st.caption(f"{_column_label(column)}: every molecule has {low:g}")
                continue
            key = _range_key(column)
            old = ss.get(key, (low, high))
            ss[key] = (min(max(old[0], low), high), max(min(old[1], high), low))
            st.slider(_column_label(column), low, high, key=key,
                      step=labels.STEPS.get(column, (high - low) / 100))


def structure_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric raw columns of the reward's structure terms in `frame` (each has a
    `d_<name>` beside it and is not a property)."""
    return [c for c in frame if f"d_{c}" in frame and c not in PROPERTY_NAMES]


def _column_label(column: str) -> str:
    return LABELS.get(column) or labels.label(column)


def _in_ranges(frame: pd.DataFrame) -> pd.Series:
    """True where every picked column lies within its slider's range (missing values are
    out once a range is set)."""
    keep = pd.Series(True, index=frame.index)
    for column in ss.get(RANGES) or []:
        if column in frame and _range_key(column) in ss:
            low, high = ss[_range_key(column)]
            keep &= frame[column].between(low, high)
    return keep


def render(frame: pd.DataFrame, run_label: str,
           reward) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the bar (under `reference_input`); "Add N diverse" picks among the rows whose
    `source` is `run_label` (the run shown). Returns (the frame with similarity columns,
    the molecules shown)."""
    refs = references()
    if refs:
        try:
            reference_similarity([], refs)   # checks the references alone
        except SimilarityError as exc:
            st.error(str(exc), icon=":material/error:")
    annotated = with_similarity(frame, reward)
    sim = (columns(reward) or PLAIN)[0] if refs else "similarity"
    has_sim = sim in annotated
    hide_col, sim_col, n_col, button_col = st.columns([3, 2, 1, 1.6],
                                                      vertical_alignment="bottom")
    hide = hide_col.multiselect(
        "Hide molecules flagged for", list(FAMILY_COLUMNS), key=HIDE, persist_state="session",
        format_func=FAMILY_LABELS.get, placeholder="nothing hidden",
        help="Structural alerts from RDKit's FilterCatalog (PAINS A/B/C, Brenk, NIH, the "
             "seven ChEMBL sets) and the NIBR hit-triaging filters, and sanity flags. The "
             "names of what matched are in the Table's `alerts` column and on each drawing "
             "in Molecules.")
    ss.setdefault(MIN_SIM, 0.0)
    min_sim = sim_col.slider("Minimum similarity", 0.0, 1.0, step=0.05,
                             key=MIN_SIM, disabled=not has_sim, persist_state="session",
                             help="Largest Tanimoto similarity to a reference molecule: "
                                  "the bar's references (the button above) when set, else "
                                  "the reward's similarity term's.")
    shown = annotated
    n_flagged = n_far = 0
    if hide:
        out = flagged(shown, hide)
        n_flagged = int(out.sum())
        shown = shown[~out]
    if has_sim and min_sim > 0:
        near = shown[sim].fillna(-1) >= min_sim
        n_far = int((~near).sum())
        shown = shown[near]
    in_range = _in_ranges(shown)
    n_out = int((~in_range).sum())
    shown = shown[in_range]
    ss.setdefault(PICK_N, 10)
    n_col.number_input("Pick N", 1, 500, key=PICK_N, persist_state="session",
                       help="RDKit MaxMin on Morgan fingerprints: adds the N shown molecules "
                            "farthest from each other and from the selection.")
    # from the run shown: uploaded molecules are there to compare with, not to pick
    ours = shown["source"] == run_label if "source" in shown and run_label else True
    candidates = shown[ours & shown["valid"].astype(bool)].drop_duplicates("smiles")
    button_col.button("Add N diverse", key="filters::pick", on_click=_pick,
                      args=(candidates["smiles"].tolist(), candidates["id"].tolist()),
                      icon=":material/scatter_plot:",
                      disabled=candidates.empty, width="stretch",
                      help="Add the N most diverse shown molecules of this run (not your "
                           "uploaded ones) to the selection.")
    notes = []
    if n_flagged:
        notes.append(f"{n_flagged} hidden for flags")
    if n_far:
        notes.append(f"{n_far} below similarity {min_sim:.2f}")
    if n_out:
        notes.append(f"{n_out} outside the range filters")
    if ss.get(PICKED) is not None:
        notes.append(f"{ss.pop(PICKED)} diverse molecules added to the selection")
    if notes:
        st.caption(f"Showing {len(shown)} of {len(frame)} molecules: " + "; ".join(notes) + ".")
    return annotated, shown
