"""What a library is, above its molecules on the Library screen: the manifest's counts (the
shards' footers where there is none yet), dedupe, alert rates and how it was made; and the
rewards it can be shown with: the one its shards store, or the reward in use (the one the
Explore screen edits)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from app import resources, state
from app.components import reward_editor
from engine.chem.alerts import FAMILY_LABELS
from engine.chem.rewards import Reward, RewardError
from engine.errors import UserError
from engine.sampling.library import UNIQUE_DIR
from engine.sampling.library_reader import Library

ss = st.session_state


def reward_label(lib: Library) -> str | None:
    """The name of the reward the shards' `reward` column holds (None without one)."""
    if "reward" not in lib.columns:
        return None
    stored = stored_reward(lib)
    return stored.name if stored is not None else str(
        lib.manifest.get("reward") or "the reward stored in the shards")


def reward_in_use() -> Reward:
    """The reward the Explore screen edits (the project's last one when this session has not
    opened Explore yet; the editor's fallback when the checkpoint cannot be loaded)."""
    if reward_editor.REWARD not in ss:
        try:
            key = resources.checkpoint_key(ss[state.CHECKPOINT])
            reward_editor.ensure(resources.load_model(key), key)
        except UserError:
            return reward_editor.FALLBACK
    return reward_editor.current()


def stored_reward(lib: Library) -> Reward | None:
    """The reward the shards' `reward` column holds: from the plan of `sample --out DIR/`,
    or the manifest of `score --out DIR/`; None when neither holds a readable one."""
    try:
        return Reward.from_toml(lib.plan.get("reward_toml") or lib.manifest["reward_toml"])
    except (KeyError, TypeError, RewardError):
        return None


def summary(lib: Library) -> None:
    """Counts from the manifest (the shards' footers where it has none), dedupe, alert rates
    and how the library was made."""
    m, plan = lib.manifest, lib.plan
    for note in lib.notes:
        st.warning(note, icon=":material/warning:")
    if not m and plan.get("n"):
        st.warning(f"No manifest yet: {len(lib.files)} shards of "
                   f"{math.ceil(plan['n'] / plan.get('shard_size', plan['n']))} are written "
                   "(`sample ... --resume` finishes the library and writes manifest.json).",
                   icon=":material/hourglass_top:")
    cols = st.columns(6)
    cols[0].metric("Molecules", f"{lib.n:,}", help=f"Rows in the {len(lib.files)} shards of "
                   f"{lib.folder}.")
    cols[1].metric("Shards", f"{len(lib.files):,}")
    if m.get("validity") is not None:
        cols[2].metric("Validity", f"{m['validity']:.1%}",
                       help=f"{m.get('valid', 0):,} valid of {m.get('n', 0):,} (manifest).")
    if m.get("mean_reward") is not None:
        cols[3].metric("Mean reward", f"{m['mean_reward']:.3f}",
                       help=f"Of {reward_label(lib) or 'the reward'} (manifest).")
    else:
        cols[3].metric("Mean reward", "none", help="Sampled without a reward; the page is "
                       "scored with the reward in use.")
    dedupe = m.get("dedupe")
    if dedupe:
        cols[4].metric("Unique (InChIKey)", f"{dedupe['unique']:,}",
                       help=f"{dedupe['duplicates_dropped']:,} repeats and "
                            f"{dedupe['invalid_dropped']:,} invalid SMILES dropped into "
                            f"{UNIQUE_DIR}/.")
    if m.get("cpu_s") is not None:
        cols[5].metric("CPU time", f"{m['cpu_s'] / 3600:.2f} h")
    rates = {k: v for k, v in (m.get("alert_rates") or {}).items() if k != "sample"}
    if rates:
        with st.expander(f"Alert rates (manifest, over {m['alert_rates'].get('sample', 0):,} "
                         "valid molecules drawn with a fixed seed)"):
            names = {**FAMILY_LABELS, "any_alert": "any of PAINS, Brenk, NIH",
                     "any_flag": "any flag"}
            st.dataframe(pd.DataFrame({"check": [names.get(k, k) for k in rates],
                                       "share": [f"{v:.1%}" if v is not None else "–"
                                                 for v in rates.values()]}),
                         hide_index=True, width="content")
    if m.get("input"):   # written by `score --out DIR/`
        unique = Path(m["input"]).name == UNIQUE_DIR
        st.caption(f"Scored from `{m['input']}`" + (
            f": a library's {UNIQUE_DIR}/ molecules, its invalid SMILES already dropped "
            "there, so every one is valid." if unique else "."))
    if lib.is_unique and m:
        st.caption(f"Showing {UNIQUE_DIR}/: validity, mean reward, CPU time and alert rates "
                   "are those of the whole library (its manifest).")
    settings = plan.get("settings") or {}
    if settings:
        made = ", ".join(f"{k} {settings[k]}" for k in ("method", "gamma", "candidates",
                                                         "temperature", "top_p", "seed")
                         if k in settings)
        st.caption(f"Made with {made}; checkpoint `{plan.get('checkpoint', '?')}`; reward: "
                   f"{reward_label(lib) or 'none'}.")
