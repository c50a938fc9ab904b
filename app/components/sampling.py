"""Sampling controls, the time estimate, and one sampling run with a progress bar.

Nothing samples until Generate is pressed; sliders only update the estimate."""
from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from app import labels, resources, state
from engine.chem.scoring import rescore
from engine.sampling import methods as M
from engine.sampling.sampler import SampleSettings, sample

ss = st.session_state
RATES = "s::rows_per_s"  # {"guided": .., "base": ..} forward rows/s measured this session
# Before a measurement: CPU rates of the shipped model on an idle 2-core machine, scoring and
# views included (scripts/bench_app.py, BENCHMARKS.md: 2,304 guided rows in 9.1 s, the 256-row
# base set in 4.7 s). Wide guided batches run more rows/s than the 1-row base set.
# No GPU default: GPUs vary too much.
DEFAULT_CPU_RATES = {"guided": 250.0, "base": 55.0}
WARN_SECONDS = 120.0


def controls() -> SampleSettings:
    """The sampling widgets (they survive page switches); returns the settings."""
    method = st.selectbox("Method", list(labels.METHODS), format_func=labels.METHODS.get,
                          key="s::method", help=labels.METHOD_HELP, persist_state="session")
    gamma = st.slider("γ, guidance strength", 0.0, 8.0, M.DEFAULT_GAMMA, 0.25, key="s::gamma",
                      disabled=method not in labels.USES_GAMMA, persist_state="session",
                      help="How hard the reward steers: 0 = the unguided model, larger = "
                           "greedier and less diverse. For CFG, the weight w.")
    ys = st.slider("|Y_S|, reference molecules per molecule", 2, 64, M.DEFAULT_YS,
                   key="s::ys", disabled=method not in labels.USES_YS, persist_state="session",
                   help="Each generated molecule is steered by the property profiles of K "
                        "random training molecules, contrasted by their reward (1 + K "
                        "forward passes per token). Best-of-N keeps the best of N = 1 + K.")
    n = st.number_input("Molecules", 1, 5000, M.DEFAULT_N, 64, key="s::n",
                        persist_state="session")
    with st.expander("Decoding details"):
        guided = method in labels.GUIDED
        advantage = st.selectbox(
            "Advantage rule", list(labels.ADVANTAGES), format_func=labels.ADVANTAGES.get,
            index=list(labels.ADVANTAGES).index(M.DEFAULT_ADVANTAGE), key="s::advantage",
            disabled=method != "rcfg", persist_state="session",
            help="How RCFG weighs the reference profiles. Relative is gentle where most "
                 "molecules already score well; z-scores (the paper's rule) push equally "
                 "hard on every reward and break more SMILES where the model already does well.")
        plausibility = st.slider(
            "Plausibility α", 0.0, 0.3, M.DEFAULT_PLAUSIBILITY, 0.01, key="s::plausibility",
            disabled=not guided, persist_state="session",
            help="Guidance may only choose among tokens the unguided model finds plausible: "
                 "at least α × its top token's probability. 0 = off. Keeps guided SMILES "
                 "valid.")
        grammar = st.checkbox("Grammar-safe SMILES", True, key="s::grammar",
                              persist_state="session",
                              help="Never emit a token that makes the SMILES unparsable "
                                   "(unclosed rings or branches). Off only to measure it.")
        temperature = st.slider("Temperature", 0.1, 2.0, M.DEFAULT_TEMPERATURE, 0.05,
                                key="s::temperature", persist_state="session")
        top_p = st.slider("Top-p (nucleus)", 0.05, 1.0, M.DEFAULT_TOP_P, 0.01, key="s::top_p",
                          persist_state="session")
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="s::seed", persist_state="session")
    return SampleSettings(method=method, gamma=float(gamma), ys=int(ys), n=int(n),
                          temperature=float(temperature), top_p=float(top_p), seed=int(seed),
                          advantage=advantage, plausibility=float(plausibility),
                          grammar=bool(grammar))


def estimate(s: SampleSettings, ckpt_key: str, on_gpu: bool) -> None:
    """Show the forward rows a run costs and, on CPU or once measured, the time; warn when
    it is long (the settings stay allowed)."""
    kind = "base" if s.method == "base" else "guided"
    rows = s.rows_per_molecule * s.n
    base_rows = 0 if kind == "base" or resources.has_base_set(ckpt_key, s) else s.n
    measured = ss.get(RATES, {})
    rates = {**({} if on_gpu else DEFAULT_CPU_RATES), **measured}
    extra = ", plus the base comparison set" if base_rows else ""
    text = f"{rows + base_rows:,} forward rows ({s.rows_per_molecule} per molecule{extra})"
    if kind not in rates or (base_rows and "base" not in rates):
        st.caption(f"{text}; the time is measured on the first run.")
        return
    seconds = rows / rates[kind] + (base_rows / rates["base"] if base_rows else 0.0)
    when = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
    source = "measured on this session's runs" if kind in measured else "typical for a 2-core CPU"
    text = f"{text}: about {when} ({source})."
    if seconds > WARN_SECONDS:
        st.warning(f"Slow settings. {text} Nothing starts until you press Generate.",
                   icon=":material/hourglass:")
    else:
        st.caption(text)


def _progress_bar(bar, what: str):
    last = [-1]

    def update(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct != last[0]:  # at most 101 updates, whatever the batch size
            last[0] = pct
            bar.progress(pct / 100, text=f"{what}: {done:,} / {total:,} molecules")
    return update


def generate(ckpt, ckpt_key: str, reward, s: SampleSettings) -> state.Run:
    """Sample the base comparison set (cached) and then the method; returns the run."""
    bar = st.progress(0.0, text="Starting…")
    base, base_summary = resources.base_set(
        ckpt, ckpt_key, s, reward, progress=_progress_bar(bar, "Base model comparison set"))
    rates = ss.setdefault(RATES, {})
    rates["base"] = s.n / max(base_summary["wall_time_s"], 1e-6)
    if s.method == "base":
        molecules, summary = base, dict(base_summary)
    else:
        base_mean = float(rescore(base, reward)["reward"].mean())
        result = sample(ckpt, reward, s, progress=_progress_bar(bar, labels.METHODS[s.method]),
                        base_mean_reward=base_mean)
        molecules, summary = result.molecules, result.summary
        rates["guided"] = s.n * s.rows_per_molecule / max(summary["wall_time_s"], 1e-6)
    bar.empty()
    return state.Run(number=state.next_run_number(), settings=asdict(s), summary=summary,
                     molecules=molecules, base=base, reward=reward, ckpt=ckpt,
                     checkpoint=ckpt_key.rsplit("@", 1)[0])
