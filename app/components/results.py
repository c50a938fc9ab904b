"""A run seen through the current reward: re-scored molecules, headline metrics and the
reward distribution (method vs base, earlier runs toggleable)."""
from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import labels, state
from engine.chem.alerts import CHECK_COLUMNS, alert_rates, with_checks
from engine.chem.diversity import unique_scaffolds
from engine.chem.scoring import rescore, summarize
from engine.bench.cost import standing
from engine.sampling.sampler import SampleSettings, reward_ceiling

PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
BASE_COLOR = "#7f7f7f"


@st.cache_data(max_entries=128, show_spinner=False)
def _checks(run_id: str, which: str, _run) -> pd.DataFrame:
    """Alert and flag columns and the Bemis-Murcko scaffold of a run's molecules: they do
    not depend on the reward, so they are computed once per run."""
    frame = _run.molecules if which == "molecules" else _run.base
    return with_checks(frame[["smiles"]])[list(CHECK_COLUMNS)]


def _stale(run: state.Run, reward) -> list[str]:
    """Raw columns of the structure terms of the reward the run was sampled for that the
    current reward does not write: they would pass for the current reward's values."""
    made_for = run.reward.structures if run.reward is not None else ()
    return [c for t in made_for for c in t.columns if c not in reward.columns]


@st.cache_data(max_entries=128, show_spinner=False)
def _rescored(run_id: str, which: str, reward_toml: str, _run, _reward):
    frame = _run.molecules if which == "molecules" else _run.base
    frame = frame.drop(columns=_stale(_run, _reward), errors="ignore")
    return pd.concat([rescore(frame, _reward), _checks(run_id, which, _run)], axis=1)


def molecules(run: state.Run, reward):
    """The run's molecules with `reward` and `d_*` columns for the current reward, then the
    alert and flag columns and the scaffold."""
    return _rescored(run.id, "molecules", reward.to_toml(), run, reward)


def base_molecules(run: state.Run, reward):
    return _rescored(run.id, "base", reward.to_toml(), run, reward)


@st.cache_data(max_entries=128, show_spinner=False)
def _summary(run_id: str, reward_toml: str, _run, _reward) -> dict:
    base_mean = float(base_molecules(_run, _reward)["reward"].mean())
    r_star = reward_ceiling(_run.ckpt, _reward)
    bank = set(_run.ckpt.bank["smiles"])
    out = summarize(molecules(_run, _reward), bank, r_star, base_mean)
    base = summarize(base_molecules(_run, _reward), bank, r_star, base_mean)
    out.update(base_validity=base["validity"], base_mean_reward_valid=base["mean_reward_valid"])
    keep = ("wall_time_s", "molecules_per_s", "device", "forward_rows_per_molecule",
            "forward_rows", "candidates", "cpu_s", "cpu_decode_s", "cpu_score_s")
    return {**out, **{k: _run.summary[k] for k in keep if k in _run.summary}}


@st.cache_data(max_entries=64, show_spinner=False)
def _standing(settings_json: str) -> str | None:
    """The matched-cost benchmark's line for these run settings (engine.bench.cost)."""
    return standing(SampleSettings.from_stored(json.loads(settings_json)))


GOOD_REWARD = 0.8   # "unique scaffolds among good molecules" counts rewards from here


@st.cache_data(max_entries=128, show_spinner=False)
def _checks_summary(run_id: str, reward_toml: str, _run, _reward) -> dict:
    """Alert rates and unique good scaffolds of the run and of its base set."""
    out = {}
    for which, frame in (("run", molecules(_run, _reward)),
                         ("base", base_molecules(_run, _reward))):
        valid = frame[frame["valid"].astype(bool)]
        out[which] = {**alert_rates(frame),
                      "good_scaffolds": unique_scaffolds(valid["smiles"].tolist(),
                                                         valid["reward"].tolist(), GOOD_REWARD)}
    return out


def summary(run: state.Run, reward) -> dict:
    """summarize() of the run under the current reward, plus its time and device."""
    return _summary(run.id, reward.to_toml(), run, reward)


LOW_VALIDITY = 0.8   # below this a run's invalid molecules dominate its score


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def metrics(run: state.Run, reward) -> None:
    s = summary(run, reward)
    mean, base = s["mean_reward"], s["base_mean_reward"]
    score = s["normalized_score"]
    method = labels.METHODS[run.settings["method"]]
    if s["validity"] < LOW_VALIDITY:
        st.warning(f"Only {s['validity']:.0%} of these SMILES are valid (base model "
                   f"{s['base_validity']:.0%}); invalid molecules score 0 and pull the mean "
                   "down. Lower γ, raise the plausibility α or keep grammar-safe SMILES on.",
                   icon=":material/warning:")
    row = st.columns(4)
    row[0].metric("Mean reward", f"{mean:.3f}", f"{mean - base:+.3f} vs base", border=True,
                  help=f"{method}: mean over all output molecules; invalid SMILES score 0.")
    row[1].metric("Base model", f"{base:.3f}", border=True,
                  help=f"Mean reward of the base model's {len(run.base)} molecules (same n, "
                       "seed, temperature, top-p and grammar mask).")
    row[2].metric("Normalized score", "n/a" if score is None else f"{score:.2f}", border=True,
                  help=f"(mean - base) / (r(y*) - base): 0 = base model, 1 = the best vector "
                       f"of the prior bank, r(y*) = {s['r_star']:.3f}.")
    row[3].metric("Time", f"{s.get('wall_time_s', 0):.1f} s", f"{s['n']:,} molecules",
                  delta_color="off",
                  delta_arrow="off", border=True,
                  help=f"Sampling and scoring {s['n']:,} molecules on {s.get('device', '?')}, "
                       f"{s.get('molecules_per_s', 0):.1f} molecules/s, "
                       f"{s.get('forward_rows_per_molecule', '?')} forward rows per molecule"
                       + (f"; CPU time {s['cpu_s']:.1f} s: decoding {s['cpu_decode_s']:.1f} s,"
                          f" scoring {s['cpu_score_s']:.1f} s, the rest for the likelihood"
                          if "cpu_s" in s else "") + " (base comparison set not included).")
    row = st.columns(3)
    valid_mean, valid_base = s["mean_reward_valid"], s["base_mean_reward_valid"]
    row[0].metric("Mean reward, valid only", _fmt(valid_mean),
                  None if None in (valid_mean, valid_base) else
                  f"{valid_mean - valid_base:+.3f} vs base ({valid_base:.3f})", border=True,
                  help="Mean reward over the valid molecules alone, for the method and the "
                       "base model: how well guidance steers, apart from validity.")
    row[1].metric("Validity", f"{s['validity']:.1%}",
                  f"{s['validity'] - s['base_validity']:+.1%} vs base "
                  f"({s['base_validity']:.1%})", border=True,
                  help="Share of SMILES that RDKit parses and sanitizes, for the method and "
                       "the base model.")
    row[2].metric("Uniqueness", f"{s['uniqueness']:.1%}", f"novelty {s['novelty']:.1%}",
                  delta_color="off", delta_arrow="off", border=True,
                  help="Uniqueness: distinct canonical SMILES among the valid ones. Novelty: "
                       "distinct valid molecules that are not in the prior bank.")
    cost = (f"Cost: CPU {s['cpu_s']:.1f} s ({1000 * s['cpu_s'] / max(s['n'], 1):.0f} ms per "
            f"molecule: decoding {s['cpu_decode_s']:.1f} s, scoring {s['cpu_score_s']:.1f} s), "
            f"{s.get('forward_rows_per_molecule', '?')} forward rows per molecule"
            + (f" ({s['candidates']} candidates each, the best kept)"
               if s.get("candidates", 1) > 1 else "") + "." if "cpu_s" in s else "")
    note = _standing(json.dumps(run.settings, sort_keys=True, default=str))
    if cost or note:
        st.caption(" ".join(x for x in (cost, note and f"At equal cost, in the {note}.") if x))
    roles(run)
    checks(run, reward)


def roles(run: state.Run) -> None:
    """How the run's own reward acted: which terms steered, which chose among candidates."""
    made_for = run.reward
    if made_for is None or not made_for.structures:
        return
    steered = ", ".join(labels.short(p) for p in made_for.properties) or "nothing"
    chosen = ", ".join(f"`{t.name}`" for t in made_for.structures)
    m = run.settings.get("candidates") or 1
    how = (f"chose the best of {m} candidates per molecule" if m > 1 else
           "only scored the molecules (1 candidate per molecule: nothing to choose)")
    st.caption(f"Sampled for “{labels.literal(made_for.name)}”: guidance steered by "
               f"{steered}; the structure terms {chosen} {how}.")


def _rate(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _rate_delta(run_value, base_value) -> str | None:
    if None in (run_value, base_value):
        return None
    return f"{run_value - base_value:+.1%} vs base ({base_value:.1%})"


def checks(run: state.Run, reward) -> None:
    """What a chemist checks: alert and flag rates and unique good scaffolds, vs base."""
    c = _checks_summary(run.id, reward.to_toml(), run, reward)
    ours, base = c["run"], c["base"]
    row = st.columns(3)
    row[0].metric("Structural alerts", _rate(ours["any_alert"]),
                  _rate_delta(ours["any_alert"], base["any_alert"]), delta_color="inverse",
                  border=True,
                  help="Share of valid molecules matching a PAINS (A/B/C), Brenk or NIH "
                       "alert of RDKit's FilterCatalog, for this run and the base model.")
    row[1].metric("Any alert or flag", _rate(ours["any_flag"]),
                  _rate_delta(ours["any_flag"], base["any_flag"]), delta_color="inverse",
                  border=True,
                  help="Also counts unassigned stereocentres, charged atoms, long aliphatic "
                       "chains (6+ sp3 carbons) and rings larger than 6 atoms.")
    row[2].metric(f"Scaffolds, reward ≥ {GOOD_REWARD:g}", f"{ours['good_scaffolds']:,}",
                  f"{ours['good_scaffolds'] - base['good_scaffolds']:+,} vs base "
                  f"({base['good_scaffolds']:,})", border=True,
                  help="Unique Bemis-Murcko scaffolds among valid molecules with a reward "
                       f"of at least {GOOD_REWARD:g} (same number of molecules as base): good "
                       "molecules in different series, not one series many times.")


# bins of 0.025 centred on 0, 0.025, ..., 1: no value sits on an edge, and the molecules at
# reward exactly 1 (often a guided run's tallest bar) have a bin inside the axis
HISTOGRAM_BINS = {"start": -0.0125, "end": 1.0125, "size": 0.025}


def reward_histograms(series, reward, height: int, means: bool = False) -> go.Figure:
    """Overlaid reward histograms, as fractions of molecules in bins of 0.025 centred on
    0, 0.025, ..., 1 (invalid molecules score 0: the first bin; the last holds the
    molecules at reward 1), of `series`: (name, table with a `reward` column, colour)
    each; with `means`, a dashed line at each mean."""
    fig = go.Figure()
    for name, frame, color in series:
        fig.add_histogram(x=frame["reward"], name=name, histnorm="probability", opacity=0.55,
                          xbins=HISTOGRAM_BINS,
                          marker_color=color)
        if means:
            fig.add_vline(x=float(frame["reward"].mean()), line_dash="dash", line_color=color)
    fig.update_layout(barmode="overlay", height=height, margin={"t": 30, "b": 40},
                      xaxis_range=[HISTOGRAM_BINS["start"], HISTOGRAM_BINS["end"]],
                      xaxis_title=f"reward ({reward.name})", yaxis_title="fraction of molecules",
                      legend={"orientation": "h", "y": 1.12})
    return fig


def distribution(run: state.Run, reward, mine: pd.DataFrame | None = None) -> None:
    """Reward histograms: this run, its base set, any earlier runs the user toggles, and
    your molecules shown beside the run (`mine`, one series per `source`)."""
    others = [r for r in state.runs() if r.id != run.id]
    shown = st.pills("Also show earlier runs", [r.id for r in others], selection_mode="multi",
                     format_func=state.run_labels().get, key="dist::others")
    series = [(f"{run.label}", molecules(run, reward), PALETTE[0]),
              ("base model", base_molecules(run, reward), BASE_COLOR)]
    series += [(r.label, molecules(r, reward), PALETTE[1 + i % (len(PALETTE) - 1)])
               for i, r in enumerate(x for x in others if x.id in (shown or []))]
    if mine is not None:    # your sets: the palette from its other end
        series += [(source, frame, PALETTE[-1 - i % (len(PALETTE) - 1)])
                   for i, (source, frame) in enumerate(mine.groupby("source", sort=False))]
    st.plotly_chart(reward_histograms(series, reward, height=380, means=True), key="dist::plot")
    st.caption("Dashed lines: means. Invalid SMILES score 0 and sit in the first bin.")
