"""Lead optimization in one click: "Make analogues" of a molecule (from a card of the grid,
the table or the 3D view) makes a new reward the one in use: the current property terms
and non-similarity structure terms, plus a similarity term with that molecule as the only
reference (window 0.4-0.8, ramp 0.1: analogues, not copies), weighted as much as the
property terms together (at weight 1 among five property terms, a molecule unlike the lead
would lose a sixth of its reward and still rank high), named after the molecule. Its
property profile is then offered as a target in the sidebar (`lead_target`), so
a Conditional or CFG run can aim at it; the run's name carries the reward's name, and so
names its lead."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import chemview, labels, resources, state
from app.components import reward_editor
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import Reward
from engine.chem.structure_terms import StructureTerm
from engine.sampling import methods as M

ss = st.session_state
WINDOW, RAMP = (0.4, 0.8), 0.1
# the target's properties besides the reward's own: size, lipophilicity, polarity, shape
CORE = ("mw", "logp", "tpsa", "hbd", "hba", "rotatable_bonds", "rings", "aromatic_rings")
# at most this many target values: each is written into the run's name, which a project
# keeps to 200 characters (engine.project.MAX_NAME)
MAX_TARGET = 6
SHORT_SMILES = 20   # a lead's SMILES longer than this is left out of the reward's name
# the lead of the last "Make analogues" (id, smiles, target profile) and whether a
# target-aiming method aims at its profile
LEAD, AIM = "s::lead", "s::aim_at_lead"
AIMING = ("target", "null+target")   # condition rows of the methods that take a target


def lead_name(row: dict) -> str:
    """How a reward and its runs name the lead: its ID, and its SMILES when short."""
    smiles = row["smiles"]
    return f"{row['id']} ({smiles})" if len(smiles) <= SHORT_SMILES else str(row["id"])


def reward_for(row: dict, current: Reward) -> Reward:
    """The analogue reward of the molecule `row` (needs `id` and `smiles`) from `current`:
    its property terms and its structure terms other than similarity, plus the similarity
    window to the molecule."""
    weight = sum(t.weight for t in current.terms) or 1.0
    similarity = StructureTerm("similarity", "range", low=WINDOW[0], high=WINDOW[1],
                               ramp=RAMP, weight=weight, references=(row["smiles"],))
    kept = tuple(t for t in current.structures if t.structure != "similarity")
    return Reward(name=f"Analogues of {lead_name(row)}", terms=current.terms,
                  aggregate=current.aggregate, structures=(similarity, *kept),
                  description=f"Tanimoto {WINDOW[0]:g}-{WINDOW[1]:g} to molecule {row['id']} "
                              f"({row['smiles']}), weighted as the property terms of "
                              f"“{current.name}” together.")


def _rounded(prop: str, value: float) -> float:
    """A target value as a chemist writes it (counts whole, MW and TPSA to 0.1)."""
    if prop in labels.COUNTS:
        return float(round(value))
    return round(float(value), 1 if prop in ("mw", "tpsa", "molar_refractivity",
                                             "bertz_complexity") else 2)


def target_profile(row: dict, reward: Reward) -> dict[str, float]:
    """The molecule's profile as a target: the properties of the reward's terms, each moved
    to the nearest value that meets its term in full, then the CORE ones as they are (at
    most MAX_TARGET values)."""
    out = {}
    for term in reward.terms:
        value = float(row[term.property])
        if term.goal == "maximize":
            value = max(value, term.high)
        elif term.goal == "minimize":
            value = min(value, term.low)
        else:
            value = float(np.clip(value, term.low, term.high))
        out[term.property] = _rounded(term.property, value)
    for prop in CORE:
        if prop not in out and pd.notna(row.get(prop)):
            out[prop] = _rounded(prop, row[prop])
    return dict(list(out.items())[:MAX_TARGET])


def make(row: dict) -> None:
    """Button callback: the analogue reward of `row` in use, its profile on offer."""
    ckpt_key = resources.checkpoint_key(ss[state.CHECKPOINT])
    quantiles = resources.bank_quantiles(resources.load_model(ckpt_key), ckpt_key)
    reward = reward_for(row, reward_editor.current())
    reward_editor.use(reward, quantiles)
    ss[LEAD] = {"id": row["id"], "smiles": row["smiles"],
                         "target": target_profile(row, reward)}
    st.toast(f"Reward “{reward.name}” in use; the lead's profile is offered under "
             "Sampling.", icon=":material/hub:")
    ss[reward_editor.NOTE] = (
        f"Reward **{labels.literal(reward.name)}** in use: the property terms, plus Tanimoto "
        f"{WINDOW[0]:g}-{WINDOW[1]:g} to this molecule weighted as they are together. Its "
        "property profile is offered as a target under Sampling.")


def payload(row) -> dict:
    """What `make` needs of a table row: ID, SMILES and the properties."""
    return {"id": row["id"], "smiles": row["smiles"],
            **{p: float(row[p]) for p in PROPERTY_NAMES if pd.notna(row.get(p))}}


def button(row, key: str, label: str = "Make analogues", kind: str = "secondary") -> None:
    st.button(label, key=key, on_click=make, args=(payload(row),), icon=":material/hub:",
              type=kind,
              help="A new reward: this molecule as the similarity reference (window "
                   f"{WINDOW[0]:g}-{WINDOW[1]:g}: analogues, not copies) plus the current "
                   "property terms; its property profile is offered as a target.")


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
    """Aim at the lead: Conditional on its profile, at least the default method's number of
    candidates (the analogue reward's similarity acts only by choosing among them)."""
    ss["s::method"] = "conditional"
    candidates = "s::candidates::conditional"
    ss[candidates] = max(int(ss.get(candidates, 1)), M.DEFAULT_CANDIDATES)
    ss[AIM] = True


def _forget_lead() -> None:
    ss.pop(LEAD, None)


def lead_target(method: str) -> dict[str, float] | None:
    """The box of the lead offered by Make analogues (nothing when there is none); returns
    its profile when the method aims at a target and the chemist keeps it on."""
    lead = ss.get(LEAD)
    if not lead:
        return None
    profile = ", ".join(f"{labels.short(p)} {v:g}" for p, v in lead["target"].items())
    target = None
    with st.container(border=True):
        st.image(chemview.mol_svg(lead["smiles"], "", 240, 140), width="stretch")
        st.markdown(f"**Lead {lead['id']}** · {labels.literal(lead['smiles'])}")
        if M.METHODS[method].rows in AIMING:
            ss.setdefault(AIM, True)
            if st.checkbox("Aim at the lead's property profile", key=AIM,
                           help="The molecules are conditioned on this profile instead of "
                                "the prior bank's best one (the properties of the reward's "
                                "terms moved into their windows, the others as the lead has "
                                "them); the run's name lists it."):
                target = lead["target"]
            st.caption(f"Target: {profile}.")
        else:
            st.caption(f"Its property profile ({profile}) can be the target of Conditional "
                       f"or CFG; {labels.METHODS[method]} draws profiles by the reward.")
            st.button("Aim at it: Conditional", key="s::aim", on_click=_aim,
                      icon=":material/my_location:", width="stretch",
                      help="Switch to Conditional on the lead's profile, with "
                           f"{M.DEFAULT_CANDIDATES} candidates per molecule or more.")
        st.button("Forget the lead", key="s::forget_lead", on_click=_forget_lead,
                  type="tertiary", icon=":material/close:")
    return target
