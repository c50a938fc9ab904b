"""How much of the prior bank already meets a reward term (engine.chem.rewards.support),
said beside the term in the reward editor, property and structure terms alike."""
from __future__ import annotations

import streamlit as st

from engine.chem.rewards import MET_BY_ALL, MET_BY_FEW


def note(share: float, few: str, some: str) -> None:
    """A warning at the extremes: `few` below MET_BY_FEW (nothing there for guidance to
    reach), "it changes nothing" above MET_BY_ALL; else the caption `some`."""
    if share < MET_BY_FEW:
        st.warning(few, icon=":material/explore_off:")
    elif share > MET_BY_ALL:
        st.warning(f"{share:.1%} of the prior bank already meets this term: it changes "
                   "nothing.", icon=":material/block:")
    else:
        st.caption(some)
