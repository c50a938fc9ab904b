"""The reward editor's Structure section: similarity to reference molecules (pasted or
uploaded, drawn on cards, a window over the prior bank's similarity to them), SMARTS to
require or forbid (checked when entered), and alert families to penalize.

The section edits the draft's `structures` (`structure_draft`); the reward editor turns the
draft into the reward and undoes an edit the engine refuses. A slot that is on but still
empty says so. Text the engine refuses stays in its box (PENDING), so a pasted list can be
fixed rather than pasted again; any later valid edit shows the reward in use again."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import chemview, labels, resources
from app.components import term_support
from app.components.structure_draft import SLOTS, TEXT, TITLES, key, lines
from engine.chem.molfile import FORMATS, MoleculeFileError, read_molecules
from engine.chem.rewards import support
from engine.chem.structure_terms import (DEFAULT_NAMES, FAMILIES, FAMILY_NAMES, GOALS,
                                         MATCHES, MODES, SIMILARITY_RANGE)

ss = st.session_state
PENDING = "rw::st::pending"   # widget keys holding refused text, kept for fixing
NOTE = "rw::st::upload_note"  # what an upload of references left out
CARDS = 6                     # reference drawings shown (two a row); the rest are counted
BINS = np.linspace(*SIMILARITY_RANGE, 51)
GOAL_LABELS = {"maximize": "more similar", "minimize": "less similar",
               "range": "window (analogues, not copies)"}
MODE_LABELS = {"filter": "filter (reward 0 when it fails)", "term": "weighted term"}
MATCH_LABELS = {"all": "all patterns", "any": "any pattern"}
assert set(GOAL_LABELS) == set(GOALS["similarity"]) and set(MODE_LABELS) == set(MODES)
assert set(MATCH_LABELS) == set(MATCHES)


def _refused(slot: str, error: str | None) -> None:
    """The engine's message again beside a box whose text it refused (the editor's error
    sits at its top, out of sight from the Structure section)."""
    if error and key(slot, TEXT[slot]) in ss.get(PENDING, ()):
        st.error(f"{labels.literal(error.rstrip('.'))}. Not applied: the reward in use is "
                 "unchanged.",
                 icon=":material/error:")


def _on(slot: str, field: str, edited) -> None:
    widget = key(slot, field)
    value = ss[widget]

    def change(draft):
        fields = draft["structures"][slot]
        if field == "window":
            fields["low"], fields["high"] = (float(v) for v in value)
        else:
            fields[field] = value
    applied = edited(change)
    if not applied and field == TEXT.get(slot):
        ss.setdefault(PENDING, set()).add(widget)   # keep the typed text to be fixed


def _on_upload(edited) -> None:
    file = ss.get(key("similarity", "upload"))
    if file is None:
        return
    try:
        good, bad = read_molecules(file.getvalue(), file.name)
    except MoleculeFileError as exc:
        ss[NOTE] = str(exc)
        return
    ss[NOTE] = (f"{file.name}: {len(bad)} record(s) RDKit cannot read were left out, the "
                f"first at record {bad.iloc[0]['row']} ({bad.iloc[0]['reason']})."
                if len(bad) else None)

    def change(draft):
        fields = draft["structures"]["similarity"]
        fields["references"] = "\n".join(lines(fields["references"])
                                          + list(good["smiles"]))
        fields["on"] = True
    edited(change)


def _cards(refs: list[str]) -> None:
    """The references drawn small, two a row (the first CARDS), in the order of the lines."""
    shown = refs[:CARDS]
    for start in range(0, len(shown), 2):
        for col, smiles in zip(st.columns(2), shown[start:start + 2]):
            col.container(border=True).image(chemview.mol_svg(smiles, "", 220, 150),
                                             width="stretch")
    if len(refs) > 1:
        more = f"; {len(refs) - CARDS:,} more not drawn" if len(refs) > CARDS else ""
        st.caption(f"{len(refs):,} reference molecules, drawn in the order of the lines{more}.")


def _figure(values: np.ndarray, term) -> dict:
    counts, _ = np.histogram(values[np.isfinite(values)], bins=BINS)
    centres = (BINS[:-1] + BINS[1:]) / 2
    x = np.linspace(*SIMILARITY_RANGE, 201)
    fig = go.Figure([
        go.Bar(x=centres, y=counts / max(counts.max(), 1), width=BINS[1] - BINS[0],
               name="prior bank", marker_color="rgba(120,130,150,0.35)"),
        go.Scatter(x=x, y=term.desirability(x), mode="lines", name="desirability",
                   line={"color": "#d6336c", "width": 2.5}),
    ])
    fig.update_layout(height=130, margin={"l": 0, "r": 0, "t": 4, "b": 0}, showlegend=False,
                      bargap=0, yaxis={"range": [0, 1.05], "showticklabels": False},
                      xaxis={"range": list(SIMILARITY_RANGE), "tickfont": {"size": 10},
                             "title": {"text": "largest Tanimoto to the references",
                                       "font": {"size": 10}}})
    return fig.to_dict()


def _term(reward, name: str):
    return next((t for t in reward.structures if t.name == name), None)


def _bank_share(ckpt, ckpt_key: str, term) -> tuple[np.ndarray, float, int]:
    """(raw values over the prior bank, share and number of its molecules with
    desirability 1: none when no value is known)."""
    values = resources.bank_structure_values(ckpt, ckpt_key, term)[term.name].to_numpy(float)
    return values, *(support(term, values) or (0.0, 0))


def _similarity(ckpt, ckpt_key: str, reward, s: dict, edited, error) -> None:
    st.text_area("Reference SMILES, one per line", key=key("similarity", "references"),
                 height=96, on_change=_on, args=("similarity", "references", edited),
                 placeholder="your lead or known actives, e.g.\nCC(=O)Nc1ccc(O)cc1",
                 help="Each molecule is scored by its largest Tanimoto similarity (Morgan "
                      "radius 2, 2048 bits) to these. Ctrl+Enter or click away to apply.")
    _refused("similarity", error)
    st.file_uploader("Or add them from a file (.smi, .csv, .sdf)",
                     type=[f.lstrip(".") for f in FORMATS], key=key("similarity", "upload"),
                     on_change=_on_upload, args=(edited,))
    if ss.get(NOTE):
        st.warning(ss[NOTE], icon=":material/warning:")
    refs = lines(s["references"])
    if not refs:
        st.info("Paste or upload reference molecules: the term joins the reward once it has "
                "one.", icon=":material/info:")
        return
    _cards(refs)
    st.radio("Goal", GOALS["similarity"], key=key("similarity", "goal"), horizontal=True,
             format_func=GOAL_LABELS.get, on_change=_on, args=("similarity", "goal", edited),
             label_visibility="collapsed",
             help="Window: full credit inside [low, high], fading over the ramp outside "
                  "(close analogues, not copies). More similar: no credit at or below low, "
                  "full credit at or above high. Less similar: the reverse.")
    ranged = s["goal"] == "range"
    cols = st.columns([2.4, 1, 1] if ranged else [2.4, 1])
    cols[0].slider("Window (low, high)" if ranged else "From low to high", *SIMILARITY_RANGE,
                   key=key("similarity", "window"), step=0.01, on_change=_on,
                   args=("similarity", "window", edited),
                   help="Tanimoto similarity: 0 shares nothing, 1 is the same fingerprint.")
    if ranged:
        cols[1].number_input("ramp", key=key("similarity", "ramp"), step=0.05, format="%g",
                             on_change=_on, args=("similarity", "ramp", edited))
    cols[-1].number_input("weight", key=key("similarity", "weight"), step=0.1, format="%g",
                          on_change=_on, args=("similarity", "weight", edited))
    term = _term(reward, s["name"])
    if term is None:      # the draft's references are not in use (an edit was refused)
        return
    values, share, met = _bank_share(ckpt, ckpt_key, term)
    st.plotly_chart(_figure(values, term), key="rw::st::plot::similarity",
                    config={"staticPlot": True})
    term_support.note(
        share,
        few=f"{met:,} of the prior bank's {len(values):,} molecules ({share:.1%}) meet this "
            "term: guidance cannot steer by similarity (only choosing among the candidates "
            "per molecule does), so few molecules will reach it. Widen the window, raise the "
            "candidates, or aim a Conditional run at the lead's property profile (Make "
            "analogues offers it).",
        some=f"{share:.1%} of the prior bank (the model's {len(values):,} training "
             "molecules) already meets this term (d = 1).")


def _substructure(ckpt, ckpt_key: str, reward, slot: str, s: dict, edited, error) -> None:
    example = ("c1ccc2[nH]ccc2c1 (indole core)" if slot == "require"
               else "[N+](=O)[O-] (nitro)\nC(=O)Cl (acyl chloride)")
    st.text_area("SMARTS, one per line", key=key(slot, "smarts"), height=68, on_change=_on,
                 args=(slot, "smarts", edited), placeholder=f"e.g. {example}",
                 help="Checked by RDKit when you press Ctrl+Enter or click away; matches are "
                      "highlighted in the Molecules view.")
    _refused(slot, error)
    if not lines(s["smarts"]):
        st.info("Type a SMARTS pattern: the term joins the reward once it has one.",
                icon=":material/info:")
        return
    _mode_row(slot, s, edited, match=True)
    term = _term(reward, s["name"])
    if term is not None:
        values, share, _ = _bank_share(ckpt, ckpt_key, term)
        st.caption(f"{share:.1%} of the prior bank (the model's {len(values):,} training "
                   "molecules) passes this term.")


def _mode_row(slot: str, s: dict, edited, match: bool = False) -> None:
    cols = st.columns([1, 1.4, 0.8] if match else [1.4, 0.8])
    if match:
        cols[0].radio("Match", MATCHES, key=key(slot, "match"), on_change=_on,
                      args=(slot, "match", edited), format_func=MATCH_LABELS.get,
                      help="Require: all patterns or at least one. Forbid with 'any': no "
                           "pattern may match; with 'all': not all of them together.")
    cols[-2].radio("Mode", MODES, key=key(slot, "mode"), on_change=_on,
                   args=(slot, "mode", edited), format_func=MODE_LABELS.get,
                   help="Filter: a molecule that fails scores 0. Weighted term: it loses this "
                        "term's share of the reward (d = 1 passes, 0 fails).")
    if s["mode"] == "term":
        cols[-1].number_input("weight", key=key(slot, "weight"), step=0.1, format="%g",
                              on_change=_on, args=(slot, "weight", edited))


def _alerts(s: dict, edited) -> None:
    st.multiselect("Alert families", list(FAMILIES), key=key("alerts", "families"),
                   format_func=FAMILY_NAMES.get, on_change=_on,
                   args=("alerts", "families", edited), placeholder="choose families",
                   help="RDKit FilterCatalog families; the term counts the distinct alerts "
                        "of these families a molecule matches and passes when there is none.")
    if not s["families"]:
        st.info("Choose at least one family: the term joins the reward once it has one.",
                icon=":material/info:")
        return
    _mode_row("alerts", s, edited)
    st.caption("The first time for a set of families, counting them over the prior bank "
               "(for the normalized score) takes about a minute.")


def render(structures: dict, ckpt, ckpt_key: str, reward, edited, error: str | None) -> None:
    """The section's slots; `edited(change)` applies a change to the draft (False when the
    engine refuses it); `error` is the editor's message about the last refused edit."""
    st.caption("What the molecule itself must be like. Structure terms are not functions of "
               "the property profile, so guidance cannot steer by them: they choose among "
               "the candidates per molecule and count in every score.")
    for slot in SLOTS:
        st.toggle(TITLES[slot], key=key(slot, "on"), on_change=_on, args=(slot, "on", edited))
        s = structures[slot]
        if not s["on"]:
            continue
        if slot == "similarity":
            _similarity(ckpt, ckpt_key, reward, s, edited, error)
        elif slot == "alerts":
            _alerts(s, edited)
        else:
            _substructure(ckpt, ckpt_key, reward, slot, s, edited, error)
    if structures["extra"]:
        extra = [t for t in reward.structures if t.name in
                 {e.get("name", DEFAULT_NAMES[e["structure"]]) for e in structures["extra"]}]
        st.caption("Also in this reward (edit them in the TOML box below): "
                   + "; ".join(f"`{t.name}`: {labels.literal(t.describe())}" for t in extra))


def smarts_of(reward, goal: str | None = None) -> tuple[str, ...]:
    """The SMARTS of the reward's substructure terms (of one goal when given)."""
    return tuple(p for t in reward.structures if t.structure == "substructure"
                 and goal in (None, t.goal) for p in t.smarts)


def roles(reward) -> None:
    """Which terms steer the guidance and which act by selection or filter."""
    if not reward.structures:
        return
    by_role: dict[str, list[str]] = {"steers": [], "selects": [], "filters": []}
    for (role, text), name in zip(reward.describe_terms(),
                                  [*reward.properties, *(t.name for t in reward.structures)]):
        by_role[role].append(labels.short(name) if role == "steers"
                             else f"`{name}` ({labels.literal(text.split(': ', 1)[1])})")
    steer = (f"**Steer the guidance:** {', '.join(by_role['steers'])}." if by_role["steers"]
             else "**Nothing steers the guidance** (no property term): molecules come as "
                  "from the base model, and only the choice among candidates acts.")
    parts = [steer]
    if by_role["selects"]:
        parts.append("**Act by selection** among the candidates per molecule: "
                     + "; ".join(by_role["selects"]) + ".")
    if by_role["filters"]:
        parts.append("**Filter** (reward 0 when failed), by selection too: "
                     + "; ".join(by_role["filters"]) + ".")
    st.caption(" ".join(parts))
