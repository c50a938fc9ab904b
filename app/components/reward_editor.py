"""The reward editor: presets, one row per property, the structure terms (similarity to
references, required and forbidden SMARTS, alert families: `structure_editor`, its draft
in `structure_draft`), TOML upload/download.

Source of truth is a draft (plain dict, every property, included or not) kept in session
state; widgets mirror it and write back through callbacks, which rebuild the engine's
`Reward`. A draft the engine rejects leaves the previous valid reward in use and shows the
engine's message. Callbacks run before the page, so the page always sees the new reward.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import labels, open_project, resources
from app.components import structure_draft, structure_editor, term_support
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import (AGGREGATES, DEFAULT_WEIGHT, GOALS, REWARD_KEYS, TERM_KEYS,
                                 Reward, RewardError, Term, list_presets, support, term_reach,
                                 term_table)

CUSTOM = "Custom"
DRAFT, REWARD, ERROR = "rw::draft", "rw::reward", "rw::error"
TOAST = "rw::toast"   # an edit was just refused: say so where the chemist looks
PRESET, AGG, NAME = "rw::preset", "rw::aggregate", "rw::name"
PRESET_USED = "rw::preset_used"   # the preset in use; PRESET is its widget, which pages drop
# rewards loaded so far: part of the property groups' keys, so that a new preset or file
# opens the groups holding its terms (an expander keeps its own open state under one key)
LOADS = "rw::loads"
TOML, UPLOAD = "rw::toml", "rw::upload"
NOTE = "rw::note"   # a one-time note above the editor (what Make analogues did)
STORED, KEPT = "rw::stored", "reward in use"   # the record last kept, its project key
FIELDS = ("on", *(k for k in TERM_KEYS if k != "property"))   # a draft term's fields
FALLBACK = Reward("QED", (Term("qed", "maximize", 0.3, 0.9),),
                  description="Fallback used when no reward preset is installed.")
ss = st.session_state


def _key(prop: str, field: str) -> str:
    return f"rw::{prop}::{field}"


@st.cache_data(ttl=60, show_spinner=False)
def presets() -> dict[str, Reward]:
    """Preset key -> reward (assets/rewards/*.toml); {} when none are installed."""
    return {r.key: r for r in list_presets()}


def current() -> Reward:
    """The reward in use (the last valid one)."""
    return ss[REWARD]


def _fresh_term(prop: str, q) -> dict:
    step = labels.STEPS[prop]
    low = _clean(np.floor(q.loc["p10", prop] / step) * step)
    high = _clean(np.ceil(q.loc["p90", prop] / step) * step)
    high = high if high > low else _clean(low + step)
    return {"on": False, "goal": GOALS[0], "low": low, "high": high,
            "ramp": _clean(max(step, (high - low) / 4)), "weight": DEFAULT_WEIGHT}


def _clean(x: float) -> float:
    """`x` without binary float noise (0.6, not 0.6000000000000001)."""
    return float(f"{float(x):.10g}")


def _load(reward: Reward, preset: str, quantiles) -> None:
    """Make `reward` the draft, the reward in use and what every widget shows."""
    terms = {p: _fresh_term(p, quantiles) for p in PROPERTY_NAMES}
    for t in reward.terms:
        terms[t.property].update(on=True, goal=t.goal, low=t.low, high=t.high, weight=t.weight,
                                 ramp=t.ramp if t.ramp is not None else terms[t.property]["ramp"])
    meta = {k: v for k, v in reward.to_dict().items() if k != "terms"}
    ss[DRAFT] = {**meta, "order": list(reward.properties), "terms": terms, "key": reward.key,
                 "structures": structure_draft.draft(reward.structures)}
    ss[REWARD], ss[ERROR], ss[PRESET_USED] = reward, None, preset
    ss[LOADS] = ss.get(LOADS, 0) + 1   # the groups open anew on the terms of this reward
    ss.pop(structure_editor.PENDING, None)
    _push(overwrite=True)


def use(reward: Reward, quantiles) -> None:
    """Make `reward` (built elsewhere: Make analogues) the reward in use, as Custom."""
    _load(reward, CUSTOM, quantiles)


def _push(overwrite: bool) -> None:
    """Copy the draft into the widget keys. Every field is drawn from the draft on every
    run (callbacks have already written the user's edits into it), so a page switch or a
    failed upload can never leave a field showing a value that is not in use. The TOML
    box is the exception: it holds text being typed, refreshed only on `overwrite`."""
    draft = ss[DRAFT]
    values = {PRESET: ss[PRESET_USED], AGG: draft["aggregate"], NAME: draft["name"]}
    for prop, term in draft["terms"].items():
        values.update({_key(prop, f): term[f] for f in FIELDS})
    pending = ss.get(structure_editor.PENDING, set())
    values.update({k: v for k, v in structure_draft.widget_values(draft["structures"]).items()
                   if k not in pending})
    values.update({key: value for key, value in ((TOML, ss[REWARD].to_toml()),)
                   if overwrite or key not in ss})
    for key, value in values.items():
        if ss.get(key) != value or key not in ss:
            ss[key] = value


def _draft_dict(draft: dict) -> dict:
    terms = [term_table({"property": prop, **draft["terms"][prop]}) for prop in draft["order"]]
    terms += structure_draft.term_dicts(draft["structures"])
    return {**{k: draft[k] for k in REWARD_KEYS if k != "terms"}, "terms": terms}


def _in_editor_terms(message: str) -> str:
    """An engine message about a reward's term as the editor shows it: by the property's
    name in the editor, not by its place in the reward file ("term 1: logp (maximize): ..."
    -> "cLogP (Crippen) (maximize): ...")."""
    found = re.match(r"term \d+: (\w+)", message)
    if found and found.group(1) in labels.LABELS:
        return labels.LABELS[found.group(1)] + message[found.end():]
    return structure_draft.in_editor(message, ss[DRAFT]["structures"])


def _refuse(message: str) -> None:
    """An edit or a file not applied: ERROR (shown at the top of the editor) says why, and a
    toast says so wherever the chemist is on the page (the field edited may be far below)."""
    ss[ERROR], ss[TOAST] = message, True


def _rebuild() -> bool:
    """The draft as the reward in use; False (and the reason in ERROR) when it is invalid."""
    try:
        reward = Reward.from_dict(_draft_dict(ss[DRAFT]), key=ss[DRAFT].get("key", ""))
    except RewardError as exc:
        _refuse(_in_editor_terms(str(exc)))
        return False
    ss[REWARD], ss[ERROR], ss[TOML] = reward, None, reward.to_toml()
    ss.pop(structure_editor.PENDING, None)
    return True


def _edited(change) -> bool:
    """The user changed the reward by hand (`change` edits the draft): it is no longer the
    preset. An edit that makes the reward invalid is undone (the fields, name and preset go
    back to the reward in use) and ERROR says why. Returns whether it applied."""
    before, preset = copy.deepcopy(ss[DRAFT]), ss[PRESET_USED]
    change(ss[DRAFT])
    draft = ss[DRAFT]
    if ss[PRESET_USED] != CUSTOM:
        ss[PRESET_USED] = CUSTOM
        if draft.get("description"):   # the preset's words no longer describe all of it
            draft["description"] = (f"Edited from the preset \u201c{draft['name']}\u201d, "
                                    f"which reads: {draft['description']}")
        draft["name"] = ss[NAME] = f"{draft['name']} (edited)"
        draft["key"] = ""
    if not _rebuild():
        ss[DRAFT], ss[PRESET_USED] = before, preset
        return False
    return True


def _on_term(prop: str, field: str) -> None:
    def change(draft):
        draft["terms"][prop][field] = ss[_key(prop, field)]
        if field == "on":
            draft["order"] = ([p for p in draft["order"] if p != prop]
                              + ([prop] * ss[_key(prop, "on")]))
    _edited(change)


def _on_aggregate() -> None:
    _edited(lambda draft: draft.update(aggregate=ss[AGG]))


def _on_name() -> None:
    ss[DRAFT]["name"] = ss[NAME]
    _rebuild()


def _on_preset(quantiles) -> None:
    key = ss[PRESET]
    if key != CUSTOM:
        _load(presets()[key], key, quantiles)


def apply_toml(text: str, source: str, quantiles, key: str = "") -> bool:
    """Load a reward file's text into the editor; on RewardError keep the previous reward
    and show the engine's message (prefixed with `source`). Returns whether it loaded."""
    try:
        reward = Reward.from_toml(text, key=key)
    except RewardError as exc:
        _refuse(f"{source}: {exc}")
        return False
    match = next((k for k, r in presets().items() if r == reward), CUSTOM)
    _load(reward, match, quantiles)
    return True


def _on_upload(quantiles) -> None:
    file = ss.get(UPLOAD)
    if file is None:
        return
    try:
        text = file.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        _refuse(f"{file.name}: not a UTF-8 text file; a reward file is TOML text")
        return
    apply_toml(text, file.name, quantiles, key=Path(file.name).stem)


def _kept() -> tuple[Reward, str] | None:
    """The reward last in use in this project and its preset label (None when none is
    kept, or it no longer reads)."""
    try:
        data = json.loads(open_project.current().value(KEPT) or "null")
        if not data:
            return None
        reward = Reward.from_toml(data["toml"], key=data.get("key", ""))
    except (ValueError, KeyError, TypeError, RewardError):
        return None
    preset = data.get("preset", CUSTOM)
    return reward, preset if presets().get(preset) == reward else CUSTOM


def _keep() -> None:
    """Keep the reward in use in the project (when it changed), so a reload or a restart
    finds it as it was left."""
    record = json.dumps({"toml": ss[REWARD].to_toml(), "preset": ss[PRESET_USED],
                         "key": ss[DRAFT].get("key", "")})
    if ss.get(STORED) != record:
        open_project.current().set_value(KEPT, record)
        ss[STORED] = record


def ensure(ckpt, ckpt_key: str) -> None:
    """Initialise the editor once per session (the reward last in use in the project,
    else the default preset), restore widget keys that Streamlit dropped while another
    page was shown, and keep the reward in use in the project."""
    if REWARD not in ss:
        found = presets()
        key = "cns_penetrant" if "cns_penetrant" in found else next(iter(found), CUSTOM)
        reward, preset = _kept() or (found.get(key, FALLBACK), key)
        _load(reward, preset, resources.bank_quantiles(ckpt, ckpt_key))
    _push(overwrite=False)
    _keep()


def _shape(goal: str) -> str:
    return {"maximize": "Higher is better: no credit at or below low, full credit at or above "
                        "high (ML: desirability d from 0 to 1).",
            "minimize": "Lower is better: full credit at or below low, none at or above high "
                        "(ML: desirability d from 1 to 0).",
            "range": "Best inside [low, high]; credit fades to none over `ramp` outside (ML: "
                     "desirability d = 1 inside, 0 beyond the ramp)."}[goal]


def _term(prop: str, goal: str, low: float, high: float, ramp: float) -> Term:
    """The term a row's fields make; RewardError when they are invalid."""
    return Term(**term_table({"property": prop, "goal": goal, "low": low, "high": high,
                              "ramp": ramp}))


@st.cache_data(max_entries=512, show_spinner=False)
def _curve(prop: str, goal: str, low: float, high: float, ramp: float, centres: np.ndarray,
           counts: np.ndarray) -> dict:
    """The term's desirability over the prior bank's histogram of its property (a plotly
    figure as a dict); RewardError when the bounds are invalid."""
    t = _term(prop, goal, low, high, ramp)
    pad = (t.ramp or 0.0) + 0.15 * (t.high - t.low)
    x = np.linspace(min(centres.min(), t.low - pad), max(centres.max(), t.high + pad), 240)
    width = centres[1] - centres[0] if len(centres) > 1 else 1.0
    fig = go.Figure([
        go.Bar(x=centres, y=counts / max(counts.max(), 1), width=width, name="prior bank",
               marker_color="rgba(120,130,150,0.35)"),
        go.Scatter(x=x, y=t.desirability(x), mode="lines", name="desirability",
                   line={"color": "#d6336c", "width": 2.5}),
    ])
    fig.update_layout(height=130, margin={"l": 0, "r": 0, "t": 4, "b": 0}, showlegend=False,
                      bargap=0, yaxis={"range": [0, 1.05], "showticklabels": False},
                      xaxis={"tickfont": {"size": 10}})
    return fig.to_dict()


@st.cache_data(max_entries=512, show_spinner=False)
def _met_share(prop: str, goal: str, low: float, high: float, ramp: float, ckpt_key: str,
               _ckpt) -> float | None:
    """Share of the prior bank whose value already gives this term desirability 1; None
    when the bounds are invalid or the bank has no value."""
    try:
        term = _term(prop, goal, low, high, ramp)
    except RewardError:
        return None
    found = support(term, _ckpt.bank[prop].to_numpy(dtype=float))
    return None if found is None else found[0]


def _support(share: float | None) -> None:
    """How much of what the model has seen already meets the term, with a warning at the
    extremes (issue: a term nothing meets cannot be reached; one all meet does nothing)."""
    if share is None:
        return
    term_support.note(
        share,
        few=f"{share:.1%} of the prior bank meets this term: outside what this model has "
            "seen, guidance will struggle (prior bank: the model's sample of training "
            "molecules).",
        some=f"{share:.1%} of the prior bank already meets this term (d = 1): the share of "
             "training molecules that fully meet it.")


def _term_row(prop: str, hist: dict, ckpt, ckpt_key: str) -> None:
    on = st.toggle(labels.LABELS[prop], key=_key(prop, "on"), on_change=_on_term,
                   args=(prop, "on"),
                   help=f"Count this property in each molecule's score (ML: a reward term on "
                        f"`{prop}`).")
    if not on:
        return
    term = ss[DRAFT]["terms"][prop]
    step = labels.STEPS[prop]
    st.radio("Goal", GOALS, key=_key(prop, "goal"), horizontal=True, on_change=_on_term,
             args=(prop, "goal"), label_visibility="collapsed", help=_shape(term["goal"]))
    cols = st.columns(4 if term["goal"] == "range" else 3)
    fields = ["low", "high"] + (["ramp"] if term["goal"] == "range" else []) + ["weight"]
    for col, field in zip(cols, fields):
        col.number_input(field, key=_key(prop, field), step=0.1 if field == "weight" else step,
                         format="%g", on_change=_on_term,
                         args=(prop, field))
    try:
        st.plotly_chart(_curve(prop, term["goal"], term["low"], term["high"], term["ramp"],
                               *hist[prop]), key=f"rw::plot::{prop}",
                        config={"staticPlot": True})
    except RewardError:
        st.caption("No curve until the bounds are valid.")
    try:
        why = term_reach(_term(prop, term["goal"], term["low"], term["high"], term["ramp"]))
    except RewardError:
        why = ""
    if why:   # beyond what the property can take: not a matter of what the model has seen
        st.warning(re.sub(rf"\b{prop}\b", labels.LABELS[prop], why), icon=":material/block:")
        return
    _support(_met_share(prop, term["goal"], term["low"], term["high"], term["ramp"], ckpt_key,
                        ckpt))


def render(ckpt, ckpt_key: str) -> Reward:
    """The editor; returns the reward in use."""
    quantiles = resources.bank_quantiles(ckpt, ckpt_key)
    ensure(ckpt, ckpt_key)
    found = presets()
    st.selectbox("Preset", [CUSTOM, *found], key=PRESET, on_change=_on_preset,
                 args=(quantiles,), format_func=lambda k: found[k].name if k in found else k,
                 help="Ready-made design goals (CNS penetrant, Veber rules, ...) from "
                      "assets/rewards; editing any term switches to Custom (ML: the reward "
                      "r(y)).")
    reward = current()
    if ss.get(NOTE):
        st.success(ss.pop(NOTE), icon=":material/hub:")
    if reward.description:
        st.caption(labels.literal(reward.description))
    structure_editor.roles(reward)
    if ss[ERROR]:
        if ss.pop(TOAST, False):
            st.toast(f"Not applied: {labels.literal(ss[ERROR])}", icon=":material/error:",
                     duration="long")
        kept = (" The text you typed stays in its box, to be fixed." if
                ss.get(structure_editor.PENDING) else " The fields show it.")
        st.error(f"{labels.literal(ss[ERROR])}\n\nNot applied: the previous valid reward "
                 f"**{labels.literal(reward.name)}** is still in use.{kept}",
                 icon=":material/error:")
    st.radio("Aggregate", AGGREGATES, key=AGG, horizontal=True, on_change=_on_aggregate,
             format_func={"mean": "weighted mean", "geometric": "weighted geometric mean"}.get,
             help="Weighted mean: a strong property can make up for a weak one. Geometric "
                  "mean: a molecule that fails any included property scores 0 (ML: how the "
                  "desirabilities combine into the reward).")
    if reward.aggregate == "geometric" and (zero := reward.never_above_zero()):
        st.error("With the weighted geometric mean the reward is 0 for every molecule: "
                 f"{', '.join(labels.LABELS[p] for p in zero)} can never score above 0 "
                 "(see the warning beside each term).", icon=":material/block:")
    hist = resources.bank_histograms(ckpt, ckpt_key)
    draft = ss[DRAFT]
    for group, props in labels.GROUPS.items():
        n_on = sum(draft["terms"][p]["on"] for p in props)
        title = f"{group} · {n_on} in reward" if n_on else group
        with st.expander(title, expanded=n_on > 0,
                         key=f"rw::group::{group}::{ss.get(LOADS, 0)}"):
            for prop in props:
                _term_row(prop, hist, ckpt, ckpt_key)
    n_on = structure_draft.count(draft["structures"])
    with st.expander(f"Structure · {n_on} in reward" if n_on else "Structure",
                     expanded=n_on > 0, key=f"rw::group::Structure::{ss.get(LOADS, 0)}",
                     icon=":material/hub:"):
        structure_editor.render(draft["structures"], ckpt, ckpt_key, reward, _edited,
                                ss[ERROR])
    with st.expander("Reward file (TOML)", icon=":material/description:"):
        st.file_uploader("Upload a reward file", type=["toml"], key=UPLOAD,
                         on_change=_on_upload, args=(quantiles,))
        st.text_input("Name", key=NAME, on_change=_on_name)
        st.download_button("Download this reward (.toml)", reward.to_toml(),
                           file_name=f"{reward.key or 'custom_reward'}.toml",
                           mime="application/toml", on_click="ignore",
                           icon=":material/download:")
        st.text_area("Edit as TOML", key=TOML, height=260)
        st.button("Apply TOML", key="rw::apply", on_click=lambda: apply_toml(
            ss[TOML], "TOML text", quantiles))
    return reward
