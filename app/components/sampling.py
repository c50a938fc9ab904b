"""Sampling controls, the time estimate, and one sampling run with a progress bar.

Nothing samples until Generate is pressed; sliders only update the estimate."""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, replace

import pandas as pd
import streamlit as st

from app import labels, open_project, resources, state
from app.components import analogues, results
from engine.chem.scoring import rescore, summarize
from engine.sampling import estimate as E
from engine.sampling import methods as M
from engine.sampling.sampler import FIRST_CHUNK, SampleSettings, sample

ss = st.session_state
RATES = "s::rows_per_s"  # {"guided": .., "base": ..} forward rows/s measured this session
WARN_SECONDS = 120.0
PREVIEW_EVERY = 0.75   # seconds between redraws of the molecules finished so far
TIMING = "s::timing"   # the last Generate's times: first molecules drawn, total, estimate
SEED, FIX_SEED = "s::seed", "s::fix_seed"


def seed_fixed() -> bool:
    """Whether Generate uses the Seed field as it is (else it draws a new seed)."""
    return bool(ss.get(FIX_SEED, False))


def new_seed() -> None:
    """Generate's click: unless the seed is fixed, draw a new one into the Seed field before
    the page runs, so the run records it and the field shows it."""
    if not seed_fixed():
        ss[SEED] = secrets.randbelow(2**31)


def structure_note(reward, s: SampleSettings) -> None:
    """Structure terms act only by choosing among candidates: say so when there is one."""
    if reward.structures and s.candidates == 1:
        names = ", ".join(t.name for t in reward.structures)
        st.warning(f"The reward's structure terms ({names}) act only by choosing among the "
                   "candidates per molecule: with 1 they score the molecules but choose "
                   "nothing. Raise Candidates per molecule (4 or more).",
                   icon=":material/filter_alt:")


def controls() -> SampleSettings:
    """The sampling widgets (they survive page switches); returns the settings."""
    method = st.selectbox("Method", list(labels.METHODS), format_func=labels.METHODS.get,
                          key="s::method", help=labels.METHOD_HELP, persist_state="session")
    spec = M.METHODS[method]
    target = analogues.lead_target(method)
    # each method keeps its own γ and candidates: their scales and defaults differ
    tilted = spec.rows == "drawn"
    gamma = st.slider("γ, guidance strength", 0.0, M.GAMMA_RANGE[1] if tilted else 8.0,
                      spec.default_gamma, 1.0 if tilted else 0.25, key=f"s::gamma::{method}",
                      disabled=method not in labels.USES_GAMMA, persist_state="session",
                      help="How hard the molecules are pushed toward your reward: 0 = "
                           "molecules like the training set, higher = better scores but fewer "
                           "distinct and more invalid SMILES (ML: guidance strength γ; for "
                           "CFG, the weight w; for reward-tilted, the power of r(y) in the "
                           "chance of drawing a profile, so its scale is larger).")
    candidates = st.number_input(
        "Candidates per molecule", 1, 64, spec.default_candidates, 1,
        key=f"s::candidates::{method}", persist_state="session",
        help="Makes this many molecules for each one you get and keeps the best by your "
             "reward, never the same molecule twice; the time grows with it. With the base "
             "model this is best-of-N (ML: selection over M candidates, M × the forward rows).")
    ys = st.slider("|Y_S|, reference molecules per molecule", 2, 64, M.DEFAULT_YS,
                   key="s::ys", disabled=method not in labels.USES_YS, persist_state="session",
                   help="How many random training molecules' property profiles steer each "
                        "new molecule, toward the high scorers and away from the low: more "
                        "steers more reliably and costs more time (ML: |Y_S| = K reference "
                        "vectors, 1 + K forward rows).")
    n = st.number_input("Molecules", 1, 5000, M.DASHBOARD_N, 64, key="s::n",
                        persist_state="session",
                        help="How many molecules to make; the time grows with it (ML: sample "
                             "size n).")
    with st.expander("Decoding details"):
        guided = method in labels.GUIDED
        advantage = st.selectbox(
            "Advantage rule", list(labels.ADVANTAGES), format_func=labels.ADVANTAGES.get,
            index=list(labels.ADVANTAGES).index(M.DEFAULT_ADVANTAGE), key="s::advantage",
            disabled=method != "rcfg", persist_state="session",
            help="How the reference molecules' scores become a push (RCFG only). Relative "
                 "is gentle where most molecules already score well; z-score (the paper's "
                 "rule) pushes as hard on every reward, and breaks more SMILES there (ML: "
                 "advantage normalisation).")
        plausibility = st.slider(
            "Plausibility α", 0.0, 0.3, M.DEFAULT_PLAUSIBILITY, 0.01, key="s::plausibility",
            disabled=not guided, persist_state="session",
            help="Guidance may only pick the next atom, bond or ring digit among those the "
                 "unguided model finds reasonable there (at least α × its likeliest "
                 "choice), which keeps guided SMILES valid; 0 = off (ML: adaptive "
                 "plausibility constraint on tokens).")
        grammar = st.checkbox("Grammar-safe SMILES", True, key="s::grammar",
                              persist_state="session",
                              help="Never write a character that leaves a ring or branch "
                                   "open, closes one never opened or bonds an atom to "
                                   "itself; off only to measure it (ML: grammar mask on "
                                   "tokens).")
        ring_check = st.checkbox("Ring checks", True, key="s::ring_check",
                                 disabled=not grammar, persist_state="session",
                                 help="When a ring closes, RDKit checks it: an aromatic ring "
                                      "that cannot be drawn with alternating double bonds, or "
                                      "an atom given more bonds than it can hold, is refused "
                                      "and the model picks again; works with grammar-safe "
                                      "SMILES; off only to measure it (ML: kekulization and "
                                      "valence checks at ring closure).")
        temperature = st.slider("Temperature", 0.1, 2.0, M.DEFAULT_TEMPERATURE, 0.05,
                                key="s::temperature", persist_state="session",
                                help="Below 1: more typical, safer molecules; above 1: more "
                                     "unusual ones and more invalid SMILES (ML: softmax "
                                     "temperature).")
        top_p = st.slider("Top-p (nucleus)", 0.05, 1.0, M.DEFAULT_TOP_P, 0.01, key="s::top_p",
                          persist_state="session",
                          help="Leaves out the rarest next atoms and bonds: only the likeliest, "
                               "together this share of the probability, can be picked; lower = "
                               "more conservative molecules (ML: nucleus sampling).")
        fixed = st.checkbox("Fix the seed", False, key=FIX_SEED, persist_state="session",
                            help="Off: every Generate draws a new seed, so a second Generate "
                                 "makes new molecules; the seed is kept with the run (its name "
                                 "says seed=...) and shown below. On: Generate uses the seed "
                                 "below, so the same seed and settings make the same molecules "
                                 "again on this machine.")
        seed = st.number_input("Seed", 0, 2**31 - 1, key=SEED, persist_state="session",
                               disabled=not fixed,
                               help="The last Generate's seed while the seed is drawn anew; "
                                    "tick 'Fix the seed' to reuse it or to type one (ML: "
                                    "random seed).")
    return SampleSettings(method=method, gamma=float(gamma), ys=int(ys), n=int(n),
                          candidates=int(candidates),
                          temperature=float(temperature), top_p=float(top_p), seed=int(seed),
                          advantage=advantage, plausibility=float(plausibility),
                          grammar=bool(grammar), ring_check=bool(ring_check and grammar),
                          target=target)


def rates() -> tuple[dict, str]:
    """Forward rows/s ("guided", "base") for the estimate and where they come from: this
    session's last runs, else the last ones on this machine and device (kept in the
    project), else the typical 2-core CPU (none on a GPU)."""
    device = resources.device_label()
    stored = json.loads(open_project.current().value(f"rates:{device}") or "{}")
    session = ss.get(RATES, {})
    typical = {} if device.startswith("GPU") else E.TYPICAL_CPU_RATES
    source = ("measured on this session's runs" if session else
              "measured on this machine's last runs" if stored else "typical for a 2-core CPU")
    return {**typical, **stored, **session}, source


def _measured(kind: str, rows_per_s: float) -> None:
    """Keep a measured rate for this session and for the next ones on this machine."""
    ss.setdefault(RATES, {})[kind] = rows_per_s
    device = resources.device_label()
    key = f"rates:{device}"
    stored = json.loads(open_project.current().value(key) or "{}")
    open_project.current().set_value(key, json.dumps({**stored, kind: rows_per_s}))


def _own_base(s: SampleSettings) -> bool:
    """A plain base-model run is its own comparison set."""
    return s.method == "base" and s.candidates == 1


def _needs_base(s: SampleSettings, ckpt_key: str) -> bool:
    """Whether a Generate of `s` samples a base comparison set: always for a seed drawn
    anew (the set is drawn with the run's seed), else when none is sampled or stored yet."""
    return not seed_fixed() or not resources.has_base_set(ckpt_key, s)


def estimate(s: SampleSettings, ckpt_key: str) -> None:
    """Show the forward rows a run costs and, on CPU or once measured, the time; warn when
    it is long (the settings stay allowed). Shown again after a Generate, with the rates it
    measured."""
    needs_base = not _own_base(s) and _needs_base(s, ckpt_key)
    known, source = rates()
    extra = (", plus the base model's comparison set" +
             ("" if seed_fixed() else " for the new seed")) if needs_base else ""
    picks = f" ({s.candidates} candidates each, the best kept)" if s.candidates > 1 else ""
    cost = (f"the model runs {s.rows_per_molecule}× per molecule{picks}{extra}: "
            f"{E.forward_rows(s, needs_base):,} forward rows")
    seconds = E.seconds(s, known, needs_base)
    if seconds is None:
        st.caption(f"{s.n:,} molecules; {cost}. The time is measured on the first run.")
        return
    when = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
    text = f"{s.n:,} molecules in about {when} ({source}); {cost}."
    if seconds > WARN_SECONDS:
        st.warning(f"Slow settings. {text} Nothing starts until you press Generate.",
                   icon=":material/hourglass:")
    else:
        st.caption(text)


def progress_bar(bar, what: str):
    """A `progress(done, total)` callback that fills the Streamlit progress `bar` with
    "`what`: done / total molecules"."""
    last = [-1]

    def update(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct != last[0]:  # at most 101 updates, whatever the batch size
            last[0] = pct
            bar.progress(pct / 100, text=f"{what}: {done:,} / {total:,} molecules")
    return update


class _Live:
    """What a chemist sees while a Generate runs: each phase as it starts (with the time
    since Generate), a progress bar, and the reward histogram of the molecules finished so
    far, redrawn as they come in. Records when the first molecules were drawn."""

    def __init__(self, s: SampleSettings, reward, base: pd.DataFrame | None):
        self.t0, self.s, self.reward, self.base = time.perf_counter(), s, reward, base
        self.status = st.status(f"Generating {s.n:,} molecules…", expanded=True)
        with self.status:
            self.log, self.bar, self.chart = st.empty(), st.progress(0.0), st.empty()
        self.lines: list[str] = []
        self.first_shown: float | None = None
        self.draws = 0

    def phase(self, text: str) -> None:
        self.lines.append(f"{time.perf_counter() - self.t0:5.1f} s · {text}")
        self.log.caption("  \n".join(self.lines))
        self.status.update(label=f"{text}…", expanded=True, state="running")

    def progress(self, what: str):
        return progress_bar(self.bar, what)

    def preview(self, frame: pd.DataFrame) -> None:
        valid = frame["valid"].astype(bool)
        series = [(f"{labels.METHODS[self.s.method]}, {len(frame):,} of {self.s.n:,} so far",
                   frame, results.PALETTE[0])]
        if self.base is not None:
            series.append(("base model", self.base, results.BASE_COLOR))
        fig = results.reward_histograms(series, self.reward, height=260, means=True)
        fig.update_layout(title={"text": f"mean reward {frame['reward'].mean():.3f} · "
                                         f"{valid.mean():.0%} valid", "font": {"size": 13}})
        self.draws += 1
        self.chart.plotly_chart(fig, key=f"s::live{self.draws}")
        if self.first_shown is None:   # None after the run: they came with the results
            self.first_shown = time.perf_counter() - self.t0

    def done(self, base_s: float | None) -> float:
        """Collapse to the phase log: the full views of the run follow. `base_s`: the base
        comparison set's share of the time, when it was sampled."""
        self.chart.empty()
        self.bar.empty()
        seconds = time.perf_counter() - self.t0
        split = (f": {seconds - base_s:.1f} s this run, {base_s:.1f} s the base model's "
                 "comparison set" if base_s is not None else "")
        self.status.update(label=f"Generated {self.s.n:,} molecules in {seconds:.1f} s{split} "
                                 f"(seed {self.s.seed})", state="complete", expanded=False)
        return seconds


def generate(ckpt, ckpt_key: str, reward, s: SampleSettings) -> state.Run:
    """Sample the method first, showing its molecules as they finish, then the base
    comparison set when it is not sampled or stored yet; returns the run. The times (first molecules drawn, total, the estimate given beforehand) go to
    TIMING for scripts/bench_app.py."""
    s = replace(s, first_chunk=FIRST_CHUNK)   # the first molecules show within seconds
    own = _own_base(s)   # the base set is the run itself: its phases and molecules show
    needs_base = not resources.has_base_set(ckpt_key, s)
    estimated = E.seconds(s, rates()[0], needs_base and not own)
    cached = (None if needs_base else
              rescore(resources.base_set(ckpt, ckpt_key, s, reward)[0], reward))
    base_mean = None if cached is None else float(cached["reward"].mean())
    live = _Live(s, reward, cached)
    if not own:
        result = sample(ckpt, reward, s, progress=live.progress(labels.METHODS[s.method]),
                        base_mean_reward=base_mean, phase=live.phase, preview=live.preview,
                        preview_every=PREVIEW_EVERY)
        molecules, summary = result.molecules, dict(result.summary)
        _measured(E.rate_kind(s), E.forward_rows(s) / max(summary["wall_time_s"], 1e-6))
    if needs_base and not own:
        live.phase("Base model comparison set (once for these settings)")
    base, base_summary = resources.base_set(
        ckpt, ckpt_key, s, reward, progress=live.progress("Base model comparison set"),
        phase=live.phase if own else None, preview=live.preview if own else None,
        stored=not own)
    if needs_base:
        _measured("base", s.n / max(base_summary["wall_time_s"], 1e-6))
    if own:
        molecules, summary = base, dict(base_summary)
    elif base_mean is None:   # the base set came after the run: its mean completes the score
        summary.update(summarize(molecules, set(ckpt.bank["smiles"]), summary["r_star"],
                                 float(rescore(base, reward)["reward"].mean())))
    total = live.done(base_summary["wall_time_s"] if needs_base and not own else None)
    ss[TIMING] = {"first_molecules_s": live.first_shown or total, "total_s": total,
                  "estimate_s": estimated, "needs_base": needs_base, "phases": live.lines}
    return state.Run(number=state.next_run_number(), settings=asdict(s), summary=summary,
                     molecules=molecules, base=base, reward=reward, ckpt=ckpt,
                     checkpoint=ckpt_key.rsplit("@", 1)[0])
