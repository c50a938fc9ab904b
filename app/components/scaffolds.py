"""Scaffolds and clusters of the shown molecules: Bemis-Murcko scaffolds with counts and
mean reward, or Butina clusters at a chosen Tanimoto distance. Picking a row lists its
molecules, which one button adds to the selection."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import chemview, state
from engine.chem.diversity import butina_clusters, scaffold_table

ss = st.session_state
DISTANCE, GROUP_BY = "clusters::distance", "scaffolds::by"
IMAGE = st.column_config.ImageColumn("structure", width=130)


@st.cache_data(max_entries=32, show_spinner=False)
def _scaffolds(mols: pd.DataFrame) -> pd.DataFrame:
    table = scaffold_table(mols)
    table.insert(0, "structure", [chemview.mol_image(s) for s in table["scaffold"]])
    return table[["structure", *(c for c in table.columns if c not in ("structure",
                                                                      "scaffold")), "scaffold"]]


@st.cache_data(max_entries=32, show_spinner=False)
def _clusters(smiles: tuple[str, ...], distance: float) -> list[int | None]:
    return butina_clusters(smiles, distance)


def _picked_row(key: str) -> int | None:
    rows = ss.get(key, {}).get("selection", {}).get("rows", [])
    return rows[0] if rows else None


def _members(members: pd.DataFrame, what: str, key: str) -> None:
    """The molecules of one scaffold or cluster, best reward first, and a select button."""
    members = members.sort_values("reward", ascending=False, kind="stable")
    shown = members[["smiles", "reward", "alerts"]].assign(
        structure=[chemview.mol_image(s) for s in members["smiles"]])
    st.markdown(f"**{len(members)}** molecule{'s' * (len(members) != 1)} in {what}")
    st.dataframe(shown[["structure", "smiles", "reward", "alerts"]], hide_index=True,
                 row_height=70, column_config={"structure": IMAGE, "reward": st.column_config
                                               .NumberColumn(format="%.3f")})
    st.button(f"Add these {len(members)} to the selection", key=f"{key}::select",
              on_click=state.select, args=(members["id"].tolist(),),
              icon=":material/add_circle:")


def _scaffold_view(mols: pd.DataFrame) -> None:
    table = _scaffolds(mols[["smiles", "valid", "reward"]])
    cyclic = table[table["scaffold"] != ""]
    st.caption(f"{len(cyclic)} Bemis-Murcko scaffolds among {len(mols)} molecules "
               f"({int(table.loc[table['scaffold'] == '', 'molecules'].sum())} acyclic); "
               "most molecules first. Pick a row to see its molecules.")
    st.dataframe(table, key="scaffolds::table", on_select="rerun",
                 selection_mode="single-row", hide_index=True, height=420, row_height=90,
                 column_config={"structure": IMAGE,
                                "scaffold": st.column_config.TextColumn("scaffold (SMILES)"),
                                "mean_reward": st.column_config.NumberColumn(format="%.3f"),
                                "best_reward": st.column_config.NumberColumn(format="%.3f")})
    row = _picked_row("scaffolds::table")
    if row is not None and row < len(table):
        scaffold = table["scaffold"].iloc[row]
        _members(mols[mols["scaffold"] == scaffold],
                 f"scaffold `{scaffold}`" if scaffold else "no scaffold (acyclic)",
                 "scaffolds::members")


def _cluster_view(mols: pd.DataFrame) -> None:
    ss.setdefault(DISTANCE, 0.6)
    distance = st.slider("Butina distance cutoff (1 - Tanimoto)", 0.2, 0.9, step=0.05,
                         key=DISTANCE, persist_state="session",
                         help="Molecules within this distance of a cluster's centroid join "
                              "it (Morgan radius 2, 2048 bits). Lower: tighter clusters.")
    mols = mols.assign(cluster=_clusters(tuple(mols["smiles"]), distance))
    groups = mols.sort_values("reward", ascending=False, kind="stable").groupby("cluster")
    table = pd.DataFrame({"molecules": groups.size(), "mean_reward": groups["reward"].mean(),
                          "best": groups["smiles"].first()}).reset_index()
    table.insert(1, "structure", [chemview.mol_image(s) for s in table["best"]])
    singletons = int((table["molecules"] == 1).sum())
    st.caption(f"{len(table)} clusters at distance {distance:.2f} ({singletons} singletons); "
               "largest first, drawn by their best-reward molecule. Pick a row to see its "
               "molecules.")
    st.dataframe(table, key="clusters::table", on_select="rerun", selection_mode="single-row",
                 hide_index=True, height=420, row_height=90,
                 column_config={"structure": IMAGE,
                                "best": st.column_config.TextColumn("best molecule"),
                                "mean_reward": st.column_config.NumberColumn(format="%.3f")})
    row = _picked_row("clusters::table")
    if row is not None and row < len(table):
        number = table["cluster"].iloc[row]
        _members(mols[mols["cluster"] == number], f"cluster {number}", "clusters::members")


def render(frame: pd.DataFrame) -> None:
    mols = frame[frame["valid"].astype(bool)].drop_duplicates("smiles")
    if mols.empty:
        st.info("No valid molecules to group.")
        return
    ss.setdefault(GROUP_BY, "Bemis-Murcko scaffold")
    by = st.segmented_control("Group by", ("Bemis-Murcko scaffold", "Butina cluster"),
                              key=GROUP_BY, persist_state="session")
    (_cluster_view if by == "Butina cluster" else _scaffold_view)(mols)
