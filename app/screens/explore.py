"""Explore: edit the reward, sample with a guidance method, inspect and export molecules."""
import streamlit as st

from app import messages, resources, state
from app.components import (export, filters, grid, history, notes, own, pareto, results,
                            reward_editor, sampling, scaffolds, table, tradeoff, viewer3d)
from engine.errors import UserError

ss = st.session_state
SHOWN = "explore::run"
VIEWS = ("Distribution", "Pareto", "Molecules", "Scaffolds", "3D", "Table", "History")

ckpt_key = resources.checkpoint_key(ss[state.CHECKPOINT])
try:
    ckpt = resources.load_model(ckpt_key)
except UserError as exc:
    st.error(f"Cannot load the checkpoint: {messages.shown(exc)}\n\nPick another one in the "
             "sidebar, or start the app with RCFG_CHECKPOINT=/path/to/checkpoint.",
             icon=":material/error:")
    st.stop()

reward_editor.ensure(ckpt, ckpt_key)
with st.sidebar:
    st.subheader("Sampling")
    settings = sampling.controls()
    sampling.structure_note(reward_editor.current(), settings)
    estimate = st.empty()
    with estimate.container():
        sampling.estimate(settings, ckpt_key)
    clicked = st.button("Generate", type="primary", icon=":material/play_arrow:",
                        width="stretch", key="s::generate", on_click=sampling.new_seed)

left, right = st.columns([0.36, 0.64], gap="medium")
with left:
    st.subheader("Reward")
    reward = reward_editor.render(ckpt, ckpt_key)

with right:
    if clicked:
        try:
            run = sampling.generate(ckpt, ckpt_key, reward, settings)
        except UserError as exc:
            st.error(f"Sampling failed: {messages.shown(exc)}", icon=":material/error:")
        else:
            state.add_run(run)
            ss[SHOWN] = run.id
            with estimate.container():   # with the rates this Generate measured
                sampling.estimate(settings, ckpt_key)
    tradeoff.render(ckpt, ckpt_key, reward, settings)
    runs = state.runs()
    if not runs:
        st.info("Set up the reward on the left and the sampler in the sidebar, then press "
                "**Generate**. The base model's comparison set is sampled with the same "
                "settings the first time.", icon=":material/info:")
        st.stop()
    ids = [r.id for r in reversed(runs)]
    if ss.get(SHOWN) not in ids:
        ss[SHOWN] = ids[0]
    head, side, badge = st.columns([3.6, 1.3, 1], vertical_alignment="bottom")
    run = state.run_by_id(head.selectbox("Run", ids, key=SHOWN,
                                         format_func=state.run_labels().get))
    with side:
        notes.render(run)
    if run.reward != reward:
        badge.badge("re-scored", icon=":material/autorenew:", color="orange",
                    help=f"Sampled for “{run.reward.name}”; rewards, ranks and colours use "
                         f"the current reward “{reward.name}”.")
    results.metrics(run, reward)
    beside = own.beside(results.molecules(run, reward), run.label, reward)
    with st.container(horizontal=True):
        own.render(results.molecules(run, reward), reward)
        filters.reference_input(reward)
        filters.range_input(filters.with_similarity(beside, reward))
    frame, shown = filters.render(beside, run.label, reward)
    export.render(run, frame, reward)
    tabs = st.tabs(VIEWS, key="explore::view", on_change="rerun")
    views = {"Distribution": lambda: results.distribution(run, reward, own.shown(reward)),
             "Pareto": lambda: pareto.render(shown, reward),
             "Molecules": lambda: grid.render(shown, reward),
             "Scaffolds": lambda: scaffolds.render(shown),
             "3D": lambda: viewer3d.render(shown),
             "Table": lambda: table.render(shown, reward),
             "History": lambda: history.render(reward)}
    for name, tab in zip(VIEWS, tabs):
        if tab.open:
            with tab:
                views[name]()
