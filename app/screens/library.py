"""Library: open a folder written by `sample --out DIR/` (or its unique/, or `score --out
DIR/`), see its manifest, and page through its molecules a shard at a time with the grid,
the table, filters, exports and plots of a bounded random sample."""
import streamlit as st

from app import labels, messages
from app.components import grid, library_export, library_plots, library_summary, table
from app.components import library_view as view
from engine.errors import UserError
from engine.sampling.library_reader import read_in_order, read_rows

ss = st.session_state
VIEWS = ("Molecules", "Table", "Distributions", "Scatter")

st.title("Library")
where, unique = st.columns([5, 1.2], vertical_alignment="bottom")
text = where.text_input(
    "Library folder", key=view.FOLDER, persist_state="session", on_change=view.folder_changed,
    placeholder="/path/to/library (the DIR of `python -m engine sample --out DIR/`)",
    help="A folder of shard-NNNNNN.parquet files with library.json and manifest.json "
         "(`sample --out DIR/`), its unique/ folder, or the part-NNNNNN.parquet files of "
         "`score --out DIR/`. Read a page at a time: the library is never loaded whole.")
if not (text or "").strip():
    st.info("Give the folder of a library written by `python -m engine sample --n 100000 "
            "--out DIR/` (a folder on the machine the dashboard runs on).",
            icon=":material/info:")
    st.stop()
try:
    with unique:
        lib = view.shown(view.open_folder(text))
except UserError as exc:
    st.error(f"Cannot open the library: {messages.shown(exc)}", icon=":material/error:")
    st.stop()
if missing := view.missing_properties(lib):
    st.error(f"The shards lack properties ({', '.join(missing[:5])}): score the folder "
             "first, `python -m engine score --reward REWARD --in DIR --out SCORED/`, and "
             "open SCORED.", icon=":material/error:")
    st.stop()
library_summary.summary(lib)

in_use = library_summary.reward_in_use()
stored = library_summary.reward_label(lib)
options = (view.STORED, view.IN_USE) if stored else (view.IN_USE,)
if ss.get(view.REWARD) not in options:   # a new folder (view.folder_changed) or none yet
    ss[view.REWARD] = options[0]
*filter_cols, order_col, reward_col = st.columns([1.1, 1.4, 2.0, 1.6, 2.3],
                                                vertical_alignment="bottom")
rows = view.filter_bar(lib, filter_cols)
order = view.order_bar(lib, order_col)
mode = reward_col.radio(
    "Reward", options, key=view.REWARD, horizontal=True, persist_state="session",
    format_func={view.STORED: f"stored: {stored}", view.IN_USE: f"in use: {in_use.name}"}.get,
    help="The reward the Explore screen edits is computed for the molecules shown (the "
         "page, the plots' sample and the exports); range filters act on the values stored "
         "in the shards.")
if rows is None:
    st.stop()
rescored = mode == view.IN_USE
shown_reward = in_use if rescored else library_summary.stored_reward(lib) or in_use

note = st.empty()
which = f"the filters ({view.describe(rows)})" if view.describe(rows) else "the filters"
if order is None:
    picks, start = view.page(lib, rows, note)
    known, complete = view.counts(lib, rows)
    frame = view.page_frame(lib, read_rows(lib, picks), shown_reward, rescored)
    passing = (f"{known:,} molecules pass {which}" if complete else
               f"at least {known:,} molecules pass {which}; the SMARTS is checked in "
               f"{view.scanned(lib, rows)} of {len(lib.files)} shards so far")
    where = "in library order"
    pages = known
else:
    in_order, start, known = view.ranked_page(lib, rows, order)
    complete = True
    frame = view.page_frame(lib, read_in_order(lib, in_order), shown_reward, rescored)
    passing = f"{known:,} molecules with a {labels.short(order[0])} value pass {which}"
    where = (f"by stored {labels.order_words(*order)}"
             + (f" (the first {view.RANK_CAP:,} in this order are kept)"
                if known > view.RANK_CAP else ""))
    pages = min(known, view.RANK_CAP)
view.pager(pages, complete,
           (f"Molecules {start + 1:,}-{start + len(frame):,} {where}; {passing}. "
            if len(frame) else f"No molecule: {passing}. ")
           + ("Rewards: the reward in use, computed for this page. " if rescored else "")
           + ("Sorting in the grid or table orders this page." if order is None else
              "The grid and the table show it in this order; sorting them orders this "
              "page."))
library_export.render(lib, rows, in_use if rescored else None, known, complete, order)
if frame.empty:
    st.stop()
tabs = st.tabs(VIEWS, key="library::view", on_change="rerun")
scoring = in_use if rescored else None
views = {"Molecules": lambda: grid.render(frame, shown_reward, view.PICKS, rows.smarts,
                                         smarts_label="SMARTS on this page"),
         "Table": lambda: table.render(frame, shown_reward, view.PICKS, order),
         "Distributions": lambda: library_plots.distributions(
             *library_plots.sample(lib, rows, scoring)),
         "Scatter": lambda: library_plots.scatter(*library_plots.sample(lib, rows, scoring))}
for name, tab in zip(VIEWS, tabs):
    if tab.open:
        with tab:
            views[name]()
