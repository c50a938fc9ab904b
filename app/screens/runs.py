"""Runs: start and watch distillation / RL runs (background processes), and every
checkpoint folder under runs/ (and the shipped model) with its training configuration,
recorded quality figures and loss curves, read from disk on each visit."""
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import resources
from app.components import launcher
from engine.train import runfolder

TRAINING = ("n_layer", "n_head", "d_model", "batch_size", "lr", "max_steps", "steps_done",
            "finished", "device", "world_size")
NOT_QUALITY = ("format_version", "model", "vocabulary", "properties", "normalization",
               "training", "data")


def _status(training: dict) -> str:
    if not training:
        return "no training record"
    if training.get("finished"):
        return "finished"
    steps, total = training.get("steps_done", "?"), training.get("max_steps", "?")
    return f"in training, step {steps} of {total}"


def _loss_curves(folder: Path) -> None:
    history = pd.DataFrame(runfolder.read_history(folder))
    if history.empty or "step" not in history:
        st.info(f"No {runfolder.HISTORY_FILE} in this folder.")
        return
    fig = go.Figure()
    for column, name in (("loss", "training loss"), ("val_loss", "validation loss")):
        if column in history and history[column].notna().any():
            fig.add_scatter(x=history["step"], y=history[column], name=name, mode="lines+markers")
    fig.update_layout(height=320, margin={"t": 30}, xaxis_title="step",
                      yaxis_title="cross-entropy per token", legend={"orientation": "h", "y": 1.15})
    st.plotly_chart(fig, key=f"runs::loss::{folder}")
    last = history.iloc[-1]
    parts = [f"step {int(last['step'])}"]
    parts += [f"{name} {last[c]:.3f}" for c, name in (("loss", "loss"), ("val_loss", "validation"))
              if c in last and pd.notna(last[c])]
    if "elapsed_s" in last and pd.notna(last["elapsed_s"]):
        parts.append(f"{last['elapsed_s'] / 60:.1f} min of training")
    st.caption("This checkpoint's last training record: " + ", ".join(parts))


def _folder(folder: Path, expanded: bool) -> None:
    meta = runfolder.read_config(folder)
    training, data = meta.get("training", {}), meta.get("data", {})
    with st.expander(f"{resources.display_path(folder)} · {_status(training)}", expanded=expanded,
                     key=f"runs::{folder}"):
        left, right = st.columns([2, 3])
        with left:
            st.markdown("**Training**")
            shown = [k for k in TRAINING if k in training]
            st.dataframe(pd.DataFrame({"setting": shown,
                                       "value": [str(training[k]) for k in shown]}),
                         hide_index=True)
            if data:
                st.markdown("**Data**")
                st.json({k: v for k, v in data.items() if not isinstance(v, (list, dict))})
            quality = {k: v for k, v in meta.items() if k not in NOT_QUALITY}
            if quality:
                st.markdown("**Recorded quality**")
                st.json(quality)
        with right:
            _loss_curves(folder)


def _live_runs() -> None:
    """Distillation / RL runs, redrawn every 2 s while one is running."""
    running = launcher.any_running()

    @st.fragment(run_every=2.0 if running else None)
    def panels():
        folders = launcher.launched_folders()
        if not folders:
            st.info("No distillation or RL run yet. Start one above, or from a terminal: "
                    "`python -m engine distill --reward qed_high --out runs/NAME`.")
            return
        statuses = [launcher.run_panel(f, newest=i == 0) for i, f in enumerate(folders)]
        if running and "running" not in statuses:
            st.rerun()  # the last run ended: redraw the page once, without the timer

    panels()


st.title("Runs")
st.subheader("Distillation and RL")
st.caption("Distillation teaches the model to make, unguided and so at the base model's "
           "speed, the molecules RCFG makes for one reward (ML: KL distillation into the "
           "unconditional branch). RL trains it on the reward directly, from the shipped "
           "model or from a distilled run (ML: policy-gradient fine-tuning with a KL "
           "penalty). Runs are background processes writing to `runs/NAME`; they keep going "
           "when this page closes.")
with st.expander("Start a run", icon=":material/add:", expanded=not launcher.launched_folders()):
    launcher.launch_form()
_live_runs()

st.subheader("Checkpoints")
st.caption("Every checkpoint folder under `runs/` (a folder with a `config.json`), plus the "
           "shipped model.")
# pre-training folders only: distillation and RL runs (a "kind") are shown above
folders = [p for p in resources.checkpoint_choices() if (p / runfolder.CONFIG_FILE).is_file()
           and not runfolder.training_record(p).get("kind")]
if not folders:
    st.info("No checkpoint folder yet: train one with `python -m engine train --out runs/NAME`.")
for i, path in enumerate(folders):
    _folder(path, expanded=i == 0)
