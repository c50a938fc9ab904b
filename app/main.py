"""RCFG Studio: navigation and the shared sidebar (checkpoint, device, selection).

Start it from the repository root: `python3 -m streamlit run app/main.py`
(.streamlit/config.toml binds it to localhost); `-- --demo` opens the shipped demo project,
`-- --project DIR` another project folder. `engine` and `app` import as the installed
package (`pip install -e .`, which scripts/setup.sh runs). The screens live in
app/screens/, not app/pages/: Streamlit treats a `pages/` folder beside the entry file as a
legacy multipage app until st.navigation has run once, which runs a page without this file
when a session opens on a page URL (and on every AppTest run)."""
import streamlit as st

from app import messages, resources, state
from app.components import demo, project_panel
from engine.project import ProjectError
from engine.train import runfolder

st.set_page_config(page_title="RCFG Studio", page_icon="⚗️", layout="wide")
page = st.navigation([
    st.Page("screens/explore.py", title="Explore", icon=":material/science:", default=True),
    st.Page("screens/runs.py", title="Runs", icon=":material/monitoring:"),
    st.Page("screens/library.py", title="Library", icon=":material/inventory_2:"),
    st.Page("screens/benchmarks.py", title="Benchmarks", icon=":material/leaderboard:"),
])


def _checkpoint_label(folder: str) -> str:
    shown = resources.display_path(folder)
    training = runfolder.training_record(folder)
    if training and not training.get("finished", True):
        return f"{shown} (training, step {training.get('steps_done', '?')})"
    return str(shown)


with st.sidebar:
    choices = [str(p) for p in resources.checkpoint_choices()]
    if st.session_state.get(state.CHECKPOINT) not in choices:
        st.session_state[state.CHECKPOINT] = choices[0]
    st.selectbox("Checkpoint", choices, key=state.CHECKPOINT, format_func=_checkpoint_label,
                 help="The shipped model (or $RCFG_CHECKPOINT), then every folder under "
                      "runs/ that holds a config.json.")
    st.badge(resources.device_label(), icon=":material/memory:", color="gray",
             help="Where sampling runs (CUDA when available).")
    try:
        state.sync_runs()
        n_selected = len(state.selection())
    except ProjectError as exc:
        st.error(f"{messages.shown(exc)}\n\nStart the dashboard with `-- --project DIR` for "
                 "another project folder.", icon=":material/error:")
        st.stop()
    st.caption(f"Selection: **{n_selected}** molecule{'s' * (n_selected != 1)}")
    project_panel.caption()
    panel = st.container()      # filled after the page, so it lists a run just generated

banner = st.empty()
demo.banner(banner)
page.run()
demo.banner(banner)   # a change on the screen may have copied the demo
with panel:
    project_panel.manage()
