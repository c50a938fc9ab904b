"""Runs: the checkpoint folders under runs/ (and the shipped model) with their training
configuration, recorded quality figures and loss curves."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import resources

st.title("Runs")
st.caption("Every checkpoint folder under `runs/` (a folder with a `config.json`), plus the "
           "shipped model. Read from disk on each visit; nothing here starts a job.")
folders = [p for p in resources.checkpoint_choices() if (p / "config.json").is_file()]
if not folders:
    st.info("No checkpoint folder yet: train one with `python -m engine train --out runs/NAME`.")
    st.stop()

SHOWN = ("n_layer", "n_head", "d_model", "batch_size", "lr", "max_steps", "steps_done",
         "finished", "device", "world_size")
for folder in folders:
    meta = resources.read_config(folder)
    training, data = meta.get("training", {}), meta.get("data", {})
    status = ("finished" if training.get("finished") else
              f"in training, step {training.get('steps_done', '?')} of "
              f"{training.get('max_steps', '?')}") if training else "no training record"
    with st.expander(f"{folder.relative_to(resources.REPO) if folder.is_relative_to(resources.REPO) else folder} · {status}",
                     expanded=folder == folders[0], key=f"runs::{folder}"):
        left, right = st.columns([2, 3])
        with left:
            st.markdown("**Training**")
            st.dataframe(pd.DataFrame({"setting": [k for k in SHOWN if k in training],
                                       "value": [str(training[k]) for k in SHOWN if k in training]}),
                         hide_index=True)
            if data:
                st.markdown("**Data**")
                st.json({k: v for k, v in data.items() if not isinstance(v, (list, dict))},
                        expanded=False)
            extra = {k: v for k, v in meta.items() if k not in
                     ("format_version", "model", "vocabulary", "properties", "normalization",
                      "training", "data")}
            if extra:
                st.markdown("**Recorded quality**")
                st.json(extra, expanded=True)
        with right:
            history = resources.read_history(folder)
            if history.empty or "step" not in history:
                st.info("No history.jsonl in this folder.")
                continue
            fig = go.Figure()
            for column, name in (("loss", "training loss"), ("val_loss", "validation loss")):
                if column in history and history[column].notna().any():
                    fig.add_scatter(x=history["step"], y=history[column], name=name,
                                    mode="lines+markers")
            fig.update_layout(height=320, margin={"t": 30}, xaxis_title="step",
                              yaxis_title="cross-entropy per token",
                              legend={"orientation": "h", "y": 1.15})
            st.plotly_chart(fig, key=f"runs::loss::{folder}")
            last = history.iloc[-1]
            st.caption(f"Last record: step {int(last['step'])}, loss {last.get('loss', float('nan')):.3f}"
                       + (f", validation {last['val_loss']:.3f}" if pd.notna(last.get('val_loss')) else "")
                       + (f", {last['elapsed_s'] / 60:.1f} min" if 'elapsed_s' in last else ""))
