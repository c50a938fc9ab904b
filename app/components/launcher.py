"""Start distillation / RL runs as background processes and watch them live.

Runs are real processes (engine.train.launch); everything shown is read back from their
folders, so a run started from another session, the CLI or before a restart looks the same.
"""
from __future__ import annotations

import re
import time
from dataclasses import fields
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from app import messages, resources
from app.components import reward_editor
from engine.chem.rewards import list_presets
from engine.errors import UserError
from engine.train import launch as runs
from engine.train import runfolder
from engine.sampling import methods as M
from engine.train.finetune import DEFAULT_STEPS, TEACHERS, FinetuneConfig

KIND_LABELS = {"distill": "Distil a guided teacher into the model",
               "rl": "RL fine-tuning of the unconditional model"}
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# the form starts from FinetuneConfig's defaults, as the CLI does
DEFAULTS = {f.name: f.default for f in fields(FinetuneConfig)}
STATUS_ICONS = {"running": ":material/autorenew:", "finished": ":material/check_circle:",
                "stopped": ":material/pause_circle:", "failed": ":material/error:"}


def _rewards() -> dict:
    """Label -> reward: the one being edited in Explore first, then every preset."""
    out = {}
    edited = st.session_state.get(reward_editor.REWARD)
    if edited is not None:
        out[f"Explore's reward: {edited.name}"] = edited
    out.update({f"Preset: {r.name} ({r.key})": r for r in list_presets()})
    return out


def launch_form() -> None:
    """The form that starts a run under runs/."""
    kind = st.radio("Run", list(KIND_LABELS), format_func=KIND_LABELS.get, horizontal=True,
                    key="launch::kind")
    rewards = _rewards()
    with st.form("launch::form", border=True, enter_to_submit=False):   # Start button only
        left, mid, right = st.columns(3)
        label = left.selectbox("Reward", list(rewards), key="launch::reward")
        starts = [str(p) for p in resources.checkpoint_choices()]
        start = mid.selectbox(
            "Start from", starts, key="launch::start", format_func=resources.display_path,
            help="Distillation: the model that makes the guided example molecules and that "
                 "learns to make them unguided (ML: teacher and student's start). RL: the "
                 "model trained on the reward and kept close to its start (ML: starting "
                 "policy and KL reference); pick a distilled run to compare.")
        reward = rewards[label]
        default_name = f"{kind}-{reward.key or 'custom'}-{time.strftime('%m%d-%H%M')}"
        name = right.text_input("Run name (folder under runs/)", default_name,
                                key=f"launch::name::{kind}")
        a, b, c, d, e = st.columns(5)
        steps = a.number_input("Steps", 1, 100_000, DEFAULT_STEPS[kind],
                               key=f"launch::steps::{kind}")
        save_every = e.number_input(
            "Save every (steps)", 1, 100_000, DEFAULTS["save_every"], key="launch::save_every",
            help="The model is saved this often, and whenever the run is stopped: a "
                 "stopped run resumes from the step it reached (ML: checkpoint interval).")
        batch = b.number_input("Molecules per step", 2, 4096, DEFAULTS["batch_size"],
                               key="launch::batch",
                               help="Molecules made and learned from at each step (ML: batch "
                                    "size).")
        lr = c.number_input("Learning rate", 1e-7, 1e-2, DEFAULTS["lr"], step=1e-5, format="%.1e",
                             key="launch::lr",
                             help="How far the model moves at each step: too high can ruin "
                                  "its SMILES (ML: AdamW learning rate).")
        if kind == "distill":
            teacher = d.selectbox(
                "Teacher", TEACHERS, format_func=lambda k: M.METHODS[k].label,
                key="launch::teacher",
                help="How the example molecules are made: RCFG steers each one with |Y_S| "
                     "reference profiles; reward-tilted asks each for one profile drawn in "
                     "favour of high rewards, so the model learns p(x) r(x)^γ (ML: the "
                     "distillation teacher).")
            gamma = d.number_input(
                "Teacher γ", *M.GAMMA_RANGE, None, 0.5, key="launch::gamma",
                placeholder="teacher's default",   # the form's fields do not follow the teacher
                help="How hard the example molecules are pushed toward the reward; empty: "
                     "the teacher's default (" + ", ".join(
                         f"{M.METHODS[k].label} {M.METHODS[k].default_gamma:g}"
                         for k in TEACHERS) + "); the rest is the sampler's defaults (ML: the "
                     "teacher's γ; advantage rule, plausibility α, grammar-safe SMILES at "
                     "their defaults).")
            ys = st.slider("Teacher |Y_S|", 2, 64, DEFAULTS["ys"], key="launch::ys",
                           help="How many training molecules' profiles steer each example "
                                "molecule (ML: the RCFG teacher's |Y_S|).")
            valid_only = st.checkbox(
                "Learn only from valid teacher molecules", key="launch::valid_only",
                help="Learn nothing from example molecules RDKit rejects, so the model does "
                     "not learn invalid SMILES (ML: invalid teacher samples left out of the "
                     "KL loss).")
            extra = {"teacher": teacher, "gamma": gamma, "ys": ys,
                     "teacher_keep": "valid" if valid_only else "all"}
        else:
            beta = d.number_input("KL weight β", 0.0, 10.0, DEFAULTS["beta"], 0.01, format="%.3f",
                                  key="launch::beta",
                                  help="How closely the model must keep to its starting "
                                       "molecules: higher stays closer, lower chases the "
                                       "reward harder (ML: KL penalty weight β).")
            extra = {"beta": beta}
        submitted = st.form_submit_button("Start run", type="primary",
                                          icon=":material/play_arrow:")
    if not submitted:
        return
    if not NAME_RULE.match(name):
        st.error(f"Run name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or "
                 "'-', starting with a letter or digit.")
        return
    out = resources.runs_dir() / name
    try:
        pid = runs.launch(kind, reward, out, start, steps=int(steps), batch_size=int(batch),
                          lr=float(lr), save_every=int(save_every), **extra)
    except UserError as exc:
        st.error(messages.shown(exc))
        return
    st.success(f"Started {kind} run `{name}` (process {pid}); it appears below and keeps "
               "running if this page is closed.")


def duration(seconds: float) -> str:
    """"40 s", "3.5 min", "2.1 h": a time as a chemist reads it."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def launched_folders() -> list[Path]:
    """Distillation / RL run folders under runs/, from here or a terminal (newest first)."""
    root = resources.runs_dir()
    if not root.is_dir():
        return []
    found = [p.parent for p in root.glob(f"*/{runfolder.PROCESS_FILE}")]
    return sorted(found, key=lambda p: (p / runfolder.PROCESS_FILE).stat().st_mtime,
                  reverse=True)


def any_running() -> bool:
    return any(runs.is_running(f) for f in launched_folders())


def _curves(kind: str, history: list[dict], key: str) -> None:
    fig = go.Figure()
    per_step = [h for h in history if h["step"] > 0]
    evals = [h for h in history if "eval_reward" in h]
    if evals:
        fig.add_scatter(x=[h["step"] for h in evals], y=[h["eval_reward"] for h in evals],
                        name="mean reward of the model's own samples", mode="lines+markers")
    batch_key = "teacher_reward" if kind == "distill" else "reward"
    batch_name = "RCFG teacher's batch reward" if kind == "distill" else "batch reward"
    if per_step:
        fig.add_scatter(x=[h["step"] for h in per_step], y=[h[batch_key] for h in per_step],
                        name=batch_name, mode="lines", opacity=0.6)
        fig.add_scatter(x=[h["step"] for h in per_step],
                        y=[h["kl_per_molecule"] for h in per_step], yaxis="y2",
                        name="KL per molecule (right axis)", mode="lines",
                        line={"dash": "dot"})
    fig.update_layout(height=300, margin={"t": 30, "b": 30}, xaxis_title="step",
                      yaxis={"title": "mean reward (invalid = 0)"},
                      yaxis2={"title": "KL", "overlaying": "y", "side": "right",
                              "showgrid": False},
                      legend={"orientation": "h", "y": 1.2})
    st.plotly_chart(fig, key=key)


def run_panel(folder: Path, newest: bool = False) -> str:
    """One run: status, curves, log and its stop / resume button; returns the status.
    Open when it is running or the newest run."""
    state = runs.run_state(folder)
    status, kind = state["status"], state["kind"] or "run"
    steps = state["steps"] or "?"
    title = f"{folder.name} · {kind} · {status}, step {state['step']} of {steps}"
    if status == "running" and state["left_s"] is not None:
        title += f" · about {duration(state['left_s'])} left"
    elif state["seconds"] is not None and status != "running":
        title += f" · {duration(state['seconds'])} of training"
    with st.expander(title, icon=STATUS_ICONS.get(status), expanded=newest or status == "running",
                     key=f"launch::panel::{folder}"):
        if state["history"]:
            _curves(kind, state["history"], key=f"launch::curves::{folder}")
            evals = [h for h in state["history"] if "eval_reward" in h]
            if len(evals) > 1:
                st.caption(f"Mean reward of the model's own samples: "
                           f"{evals[0]['eval_reward']:.3f} at step {evals[0]['step']} → "
                           f"{evals[-1]['eval_reward']:.3f} at step {evals[-1]['step']} "
                           f"(validity {evals[-1]['eval_validity']:.2f}). Pick this folder "
                           "as the checkpoint in the sidebar to sample from it.")
        _ended(state)
        if status == "running":
            if st.button("Stop", key=f"launch::stop::{folder}", icon=":material/stop:",
                         help="The run finishes its current step, saves and exits; Resume "
                              "continues from that step."):
                with st.spinner("Stopping after the current step and saving…"):
                    runs.stop(folder)
                st.rerun()
        elif status in ("stopped", "failed") and (folder / runfolder.REWARD_FILE).is_file():
            if st.button("Resume", key=f"launch::resume::{folder}",
                         icon=":material/play_arrow:"):
                try:
                    runs.resume(folder)
                except UserError as exc:
                    st.error(messages.shown(exc))
                else:
                    st.rerun()
        if st.toggle("Show the log", key=f"launch::log::{folder}"):
            st.code(messages.shown("\n".join(state["log_tail"])) or "(empty)",
                    language=None, wrap_lines=True)
    return status


def _ended(state: dict) -> None:
    """Why a failed run failed, and where Resume restarts a stopped or failed one."""
    status, step, saved = state["status"], state["step"], state["saved_step"]
    if status == "failed":
        st.error(f"Failed after step {step}: "
                 f"{messages.shown(state['reason']) or 'see the log below'}",
                 icon=":material/error:")
    if status not in ("stopped", "failed"):
        return
    if saved is None:
        st.caption("It ended before its first save: there is nothing to resume; start a "
                   "new run.")
    elif saved < step:
        st.caption(f"Resume restarts from step {saved}, the last save: steps {saved + 1} "
                   f"to {step} are run again (with the same draws).")
    else:
        st.caption(f"Resume continues from step {saved}, where it was saved.")

