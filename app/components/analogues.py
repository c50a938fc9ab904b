"""Lead optimization in one click: "Make analogues" of a molecule (from a card of the grid,
the table or the 3D view) makes the reward in use `Reward.analogues_of` that molecule (the
current terms plus a Tanimoto window 0.4-0.8 to it: analogues, not copies), named after it,
and offers the molecule's profile as the target of a Conditional run (`Reward.lead_profile`:
its 25 properties with each property term's goal value put in, and
`methods.ANALOGUE_CANDIDATES` candidates per molecule: the recipe measured in BENCHMARKS.md,
"Lead optimization with structure terms", and the CLI's `sample --analogues-of`). The run's
name carries the reward's name, and so names its lead."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app import chemview, labels, resources, state
from app.components import reward_editor
from engine.chem.rewards import Reward
from engine.sampling import methods as M
from engine.sampling.sampler import outside_bank

ss = st.session_state
SHORT_SMILES = 20   # a lead's SMILES longer than this is left out of the reward's name
# the lead of the last "Make analogues" (id, smiles, the reward's goal values, the target
# profile) and whether a target-aiming method aims at its profile
LEAD, AIM = "s::lead", "s::aim_at_lead"
AIMING = ("target", "null+target")   # condition rows of the methods that take a target
HELP = ("A new reward: the current terms plus a similarity window (Tanimoto 0.4-0.8: "
        "analogues, not copies) to this molecule; its property profile is offered as a "
        "target under Sampling.")


def lead_name(row: dict) -> str:
    """How a reward and its runs name the lead: its ID, and its SMILES when short."""
    smiles = row["smiles"]
    return f"{row['id']} ({smiles})" if len(smiles) <= SHORT_SMILES else str(row["id"])


def reward_for(row: dict, current: Reward) -> Reward:
    """The analogue reward of the molecule `row` (needs `id` and `smiles`) from `current`."""
    return current.analogues_of(row["smiles"], name=f"Analogues of {lead_name(row)}")


def make(row: dict) -> None:
    """Button callback: the analogue reward of `row` in use, its profile on offer."""
    ckpt_key = resources.checkpoint_key(ss[state.CHECKPOINT])
    quantiles = resources.bank_quantiles(resources.load_model(ckpt_key), ckpt_key)
    reward = reward_for(row, reward_editor.current())
    reward_editor.use(reward, quantiles)
    ss[LEAD] = {"id": row["id"], "smiles": row["smiles"], "goals": reward.goal_values(),
                "target": reward.lead_profile(row["smiles"])}
    st.toast(f"Reward “{reward.name}” in use; the lead's profile is offered under "
             "Sampling.", icon=":material/hub:")
    ss[reward_editor.NOTE] = (
        f"Reward **{labels.literal(reward.name)}** in use: the terms of the reward before, "
        "plus a Tanimoto window 0.4-0.8 to this molecule. Its property profile is offered as "
        "a target under Sampling.")


def payload(row) -> dict:
    """What `make` needs of a table row: its ID and SMILES."""
    return {"id": row["id"], "smiles": row["smiles"]}


def button(row, key: str, label: str = "Make analogues", kind: str = "secondary") -> None:
    st.button(label, key=key, on_click=make, args=(payload(row),), icon=":material/hub:",
              type=kind, help=HELP)


def picker(frame: pd.DataFrame, key: str) -> None:
    """Make analogues of one molecule of `frame` (valid ones, the selected first, then the
    rest best first): for views without a button per molecule (the table)."""
    mols = frame[frame["valid"].astype(bool)].drop_duplicates("smiles")
    if mols.empty:
        return
    chosen = state.selection()
    ranked = mols.sort_values("reward", ascending=False, kind="stable")
    ordered = pd.concat([ranked[ranked["id"].isin(chosen)], ranked[~ranked["id"].isin(chosen)]])
    rows = {r["id"]: r for r in ordered.to_dict("records")}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    picked = left.selectbox("Lead molecule (selected first, then the best by reward)",
                            list(rows), key=key,
                            format_func=lambda i: f"{i} · {rows[i]['reward']:.3f} · "
                                                  f"{rows[i]['smiles']}")
    with right:
        button(rows[picked], key=f"{key}::go")


def _aim() -> None:
    """Aim at the lead: the analogue method on its profile, with at least
    ANALOGUE_CANDIDATES candidates (the similarity acts only by choosing among them)."""
    ss["s::method"] = M.ANALOGUE_METHOD
    candidates = f"s::candidates::{M.ANALOGUE_METHOD}"
    ss[candidates] = max(int(ss.get(candidates, 1)), M.ANALOGUE_CANDIDATES)
    ss[AIM] = True


def _forget_lead() -> None:
    ss.pop(LEAD, None)


def lead_target(method: str) -> dict[str, float] | None:
    """The box of the lead offered by Make analogues (nothing when there is none); returns
    its profile when the method aims at a target and the chemist keeps it on."""
    lead = ss.get(LEAD)
    if not lead:
        return None
    goals = ", ".join(f"{labels.short(p)} {v:g}" for p, v in lead["goals"].items())
    profile = (f"its {len(lead['target'])} properties with the reward's goals put in "
               f"({goals})" if goals else f"its {len(lead['target'])} properties")
    analogue = labels.METHODS[M.ANALOGUE_METHOD]
    target = None
    with st.container(border=True):
        st.image(chemview.mol_svg(lead["smiles"], "", 240, 140), width="stretch")
        st.markdown(f"**Lead {lead['id']}** · {labels.literal(lead['smiles'])}")
        if M.METHODS[method].rows in AIMING:
            ss.setdefault(AIM, True)
            if st.checkbox("Aim at the lead's property profile", key=AIM,
                           help="The molecules are conditioned on the lead's profile instead "
                                "of the prior bank's best one; the run's name lists it."):
                target = lead["target"]
                st.caption(f"Target: {profile}.")
                ckpt = resources.load_model(resources.checkpoint_key(ss[state.CHECKPOINT]))
                for line in outside_bank(ckpt, target):
                    st.caption(f":orange[{line}]")
        else:
            st.caption(f"Its profile ({profile}) can be the target of the conditional "
                       f"methods; {labels.METHODS[method]} draws profiles by the reward and "
                       "reaches a similarity window far less often (BENCHMARKS.md, lead "
                       "optimization).")
            st.button("Condition on the lead's profile", key="s::aim", on_click=_aim,
                      icon=":material/my_location:", width="stretch",
                      help=f"Switch the method to “{analogue}”, which then conditions on "
                           f"the lead's profile instead of y*, with {M.ANALOGUE_CANDIDATES} "
                           "candidates per molecule or more.")
        st.button("Forget the lead", key="s::forget_lead", on_click=_forget_lead,
                  type="tertiary", icon=":material/close:")
    return target
