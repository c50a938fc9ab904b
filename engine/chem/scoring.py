"""Scoring tables: one row per molecule with validity, the 25 properties and (given a reward)
its value and each term's desirability, and the summary figures of such a table.

Used by the sampler, training, benchmarks and the dashboard; nothing here samples.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.chem.properties import PROPERTY_NAMES, batch_properties


def score_molecules(smiles: list[str], reward=None) -> pd.DataFrame:
    """Properties (canonical SMILES where valid), plus `reward` and `d_<property>` columns
    when a reward is given."""
    props = batch_properties(smiles, canonical=True)
    # one dtype whatever the content (a chunk of invalid molecules alone would be object)
    props["smiles"] = (props["canonical_smiles"].where(props["valid"], props["smiles"])
                       .astype(str))
    props = props.drop(columns=["canonical_smiles"])
    return props if reward is None else rescore(props, reward)


def score_table(frame: pd.DataFrame, column: str, reward, unreadable: list[str] | None = None,
                whole_mixture: bool = False, jobs: int | None = 1,
                progress: bool = False, alerts: bool = True) -> pd.DataFrame:
    """A chemist's table scored as `score` writes it: the input columns (those this
    function computes are replaced), `scored_as` (`properties.scored_form`: the largest
    fragment of a salt or mixture, neutralized; "" when scored as given), `valid`,
    `invalid_reason`, the 25 properties, the reward's columns, and (`alerts`) the alert
    and flag columns of what was scored.
    `unreadable`: per row, why the reader could not read it ("" when it could)."""
    from engine.chem import alerts as alert_columns  # noqa: PLC0415
    from engine.chem.properties import (invalid_reason, organic_refusal,  # noqa: PLC0415
                                        scored_form)

    given = frame[column].astype(str).tolist()
    unreadable = unreadable if unreadable is not None else [""] * len(given)
    scored_as = [""] * len(given) if whole_mixture else [scored_form(s) for s in given]
    smiles = [part or whole for part, whole in zip(scored_as, given)]
    # an inorganic salt, water or a metal is not scored (as given, it is scored as written)
    refused = [""] * len(given) if whole_mixture else [organic_refusal(s) for s in smiles]
    replaced = replaced_columns(frame, column, reward, alert_columns.COLUMNS)
    props = batch_properties(["" if no else s for no, s in zip(refused, smiles)], n_jobs=jobs,
                             progress=progress)
    props.index = frame.index
    out = frame.drop(columns=replaced).join(props[["valid", *PROPERTY_NAMES]])
    reasons = [unread or no or ("" if ok else invalid_reason(smi))
               for unread, no, smi, ok in zip(unreadable, refused, smiles, out["valid"])]
    out.insert(out.columns.get_loc("valid") + 1, "invalid_reason", reasons)
    out.insert(out.columns.get_loc("valid"), "scored_as", scored_as)
    # alerts describe what was scored; the given SMILES stay
    scored = reward.evaluate(out.assign(**{column: smiles}), column)
    if alerts:
        scored = alert_columns.with_alerts(scored, column)
    return scored.assign(**{column: given})


def replaced_columns(frame: pd.DataFrame, column: str, reward, also=()) -> list[str]:
    """The input columns `score_table` computes anew (and `also`, e.g. the check columns),
    the SMILES `column` left alone: every d_* column goes, since those of an earlier
    reward would sit beside this one's."""
    computed = {"scored_as", "valid", "invalid_reason", *PROPERTY_NAMES, *reward.columns,
                *also}
    return [c for c in frame.columns
            if (c in computed or str(c).startswith("d_")) and c != column]


def rescore(frame: pd.DataFrame, reward) -> pd.DataFrame:
    """Replace `reward` and `d_*` columns (and the structure terms' raw columns) for a new
    reward, without re-sampling."""
    frame = frame.drop(columns=[c for c in frame.columns
                                if c == "reward" or c.startswith("d_")
                                or c in reward.columns])
    scored = reward.evaluate(frame)
    raw = [c for c in reward.columns if c != "reward" and not c.startswith("d_")]
    cols = ["smiles", "valid", "reward", *PROPERTY_NAMES, *raw,
            *[c for c in scored.columns if c.startswith("d_")]]
    return scored[cols + [c for c in scored.columns if c not in cols]]


def score_candidates(smiles: list[str], reward) -> pd.DataFrame:
    """`smiles` (canonical where valid), `valid` and `reward` of candidate molecules,
    computing only the properties `reward` uses (a selection needs no more; one property
    when it uses none, for validity) and its structure terms."""
    props = batch_properties(smiles, canonical=True,
                             names=reward.properties or PROPERTY_NAMES[:1])
    frame = pd.DataFrame({
        "smiles": props["canonical_smiles"].where(props["valid"], props["smiles"]).astype(str),
        "valid": props["valid"].to_numpy(bool)})
    frame["reward"] = reward.score(props.assign(smiles=frame["smiles"]))
    return frame


def select_candidates(frame: pd.DataFrame, group: int) -> np.ndarray:
    """Row positions of the molecule kept from each consecutive group of `group` candidate
    rows (`smiles`, `valid`, `reward`): the valid one with the highest reward (first on
    ties), passing over a molecule an earlier group already kept, so the output holds no
    repeat while a group has anything else valid; a group with nothing valid keeps its
    first row. Groups are taken in order, so the result does not depend on timing."""
    n = len(frame) // group
    valid = frame["valid"].to_numpy(bool)[:n * group].reshape(n, group)
    rewards = np.nan_to_num(frame["reward"].to_numpy(np.float64)[:n * group]).reshape(n, group)
    smiles = frame["smiles"].to_numpy()[:n * group].reshape(n, group)
    order = np.lexsort((np.arange(group)[None].repeat(n, 0), -rewards, ~valid), axis=1)
    kept: set[str] = set()
    picks = np.empty(n, dtype=np.int64)
    for g in range(n):
        choices = [j for j in order[g] if valid[g, j]]
        fresh = [j for j in choices if smiles[g, j] not in kept]
        j = (fresh or choices or [0])[0]
        if valid[g, j]:
            kept.add(smiles[g, j])
        picks[g] = g * group + j
    return picks


def normalized_score(mean_reward: float | None, base_mean: float | None,
                     r_star: float | None) -> float | None:
    """(mean r - mean r(base)) / (r(y*) - mean r(base)): 0 = the base model, 1 = the best
    profile in the prior bank; None when a figure is missing or r(y*) is not above base."""
    if mean_reward is None or base_mean is None or r_star is None or r_star - base_mean <= 1e-12:
        return None
    return (mean_reward - base_mean) / (r_star - base_mean)


def summarize(frame: pd.DataFrame, bank_smiles: set[str], r_star: float | None,
              base_mean_reward: float | None) -> dict:
    """Mean reward (invalid = 0, and over valid molecules only), normalized score,
    validity, uniqueness and novelty of a result table.

    Reward figures are None for a table without a `reward` column (and the valid-only mean
    when no molecule is valid)."""
    valid = frame["valid"].to_numpy(bool)
    unique = set(frame.loc[valid, "smiles"])
    mean_r = mean_valid = None
    if "reward" in frame:
        mean_r = float(frame["reward"].fillna(0).mean()) if len(frame) else 0.0
        mean_valid = float(frame.loc[valid, "reward"].mean()) if valid.any() else None
    score = normalized_score(mean_r, base_mean_reward, r_star)
    return {
        "n": int(len(frame)),
        "mean_reward": mean_r,
        "mean_reward_valid": mean_valid,     # over valid molecules only: why a run won or lost
        "base_mean_reward": base_mean_reward,
        "r_star": r_star,
        "normalized_score": score,
        "validity": float(valid.mean()) if len(frame) else 0.0,
        "uniqueness": len(unique) / max(1, int(valid.sum())),
        "novelty": len(unique - bank_smiles) / max(1, len(unique)),
    }
