"""The dashboard in a real browser: `streamlit run` on a free localhost port, driven by
Playwright with the system Chromium (scripts/setup.sh installs it).

`test_generate_select_and_download` uses the tiny checkpoint from conftest, as do the tests of
the workbench's promises: the reward editor keeps the reward in use across pages, a run
stopped in the browser resumes where it stopped, and a server killed mid-Generate loses
only that run. The screenshot tour (`RCFG_SCREENSHOTS=1`) uses the real checkpoint and
rewrites docs/screenshots/.

No step waits a fixed time: a step that reruns the script waits until the server reports
that run finished (its websocket's `script_finished` message, counted by `ScriptRuns`) and
the page is idle; other steps wait for what they change to show. So the tests hold on a
loaded machine, only slower."""
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from app.components.table import ROW_HEIGHT as TABLE_ROW
from engine.sampling import methods as M
from engine.train import runfolder

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "docs" / "screenshots"
ARTIFACTS = REPO / "tests" / "artifacts"  # ignored by git: each run's own screenshot
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HEADER_HEIGHT = 35  # st.dataframe's header height in pixels
LEADS = "CN1CCC[C@H]1c1cccnc1\nCN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21"  # nicotine, diazepam

pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(),
                                reason="needs /usr/bin/chromium (bash scripts/setup.sh installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(checkpoint: Path):
    """Start the app on a free localhost port; returns (process, url)."""
    port = free_port()
    env = {**os.environ, "RCFG_CHECKPOINT": str(checkpoint)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.address", "localhost", "--server.port", str(port),
         "--server.enableStaticServing", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)    # its own process group: a test can kill it and its children
    url = f"http://localhost:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("streamlit did not start within 60 s")


RERUN_TIMEOUT_S = 180.0   # one script run, on a loaded 2-core machine


class ScriptRuns:
    """Counts the script runs the server reports finished to this page (ForwardMsg
    `script_finished` on the app's websocket)."""

    def __init__(self, page):
        self.finished = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if isinstance(payload, (bytes, bytearray)):
            msg = ForwardMsg()
            msg.ParseFromString(bytes(payload))
            if msg.WhichOneof("type") == "script_finished":
                self.finished += 1


RUNS: dict[int, ScriptRuns] = {}


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1100},
                                accept_downloads=True)
        page.set_default_timeout(120_000)
        RUNS[id(page)] = ScriptRuns(page)
        yield page
        RUNS.pop(id(page), None)
        browser.close()


@pytest.fixture
def app_url(tiny_checkpoint):
    proc, url = serve(tiny_checkpoint)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def idle(page) -> None:
    """No script run in flight (Streamlit's running indicator is gone)."""
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')",
                           timeout=RERUN_TIMEOUT_S * 1000)


def rerun(page, action, timeout_s: float = RERUN_TIMEOUT_S) -> None:
    """Do `action` (a step that reruns the script) and wait until the server has finished
    that run and the page is idle."""
    runs = RUNS[id(page)]
    before = runs.finished
    action()
    deadline = time.monotonic() + timeout_s
    while runs.finished <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no script run finished within {timeout_s:.0f} s")
        page.wait_for_timeout(50)     # lets Playwright deliver the websocket's frames
    idle(page)


def set_number(page, label: str, value: int, in_form: bool = False) -> None:
    """Type a value into the number box `label`; in a form (which reruns only on its
    submit button) the value is only committed."""
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    if in_form:
        box.press("Tab")
        assert box.input_value() == str(value)
    else:
        rerun(page, lambda: box.press("Enter"))


def download(page, button: str) -> pd.DataFrame:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    data = Path(info.value.path()).read_text()
    return pd.read_csv(io.StringIO(data), keep_default_na=False)


def hide_flagged(page, families) -> None:
    """Pick flag families in the filter bar's multiselect by typing each name."""
    box = page.get_by_label("Hide molecules flagged for", exact=True)
    for family in families:
        box.click()
        page.keyboard.type(family)
        rerun(page, lambda: page.keyboard.press("Enter"))
    page.keyboard.press("Escape")


def generate(page, timeout_s: float) -> None:
    rerun(page, page.get_by_role("button", name="Generate").click, timeout_s)
    page.get_by_text("Normalized score").wait_for()


def fix_seed(page) -> None:
    """Tick "Fix the seed" (seed 0): the run's molecules are the same on every test run."""
    page.get_by_text("Decoding details").click()
    rerun(page, page.get_by_text("Fix the seed").click)
    page.get_by_text("Decoding details").click()


def own_molecules(page):
    """The "Your molecules" popover's button (only the button: its label is also the
    popover's heading)."""
    return page.get_by_test_id("stPopover").get_by_role("button", name="Your molecules",
                                                         exact=True)


def test_generate_select_and_download(browser_page, app_url):
    page = browser_page
    rerun(page, lambda: page.goto(app_url))
    page.get_by_role("button", name="Generate").wait_for()
    default = M.METHODS[M.DEFAULT_METHOD]
    m = default.default_candidates
    set_number(page, "Molecules", 24)
    page.get_by_text(f"runs {m}× per molecule ({m} candidates each, the best kept), plus the "
                     f"base model's comparison set for the new seed: {24 * m + 24} forward rows"
                     ).wait_for()   # 24 x M candidates + the 24 base molecules
    generate(page, timeout_s=RERUN_TIMEOUT_S)

    rerun(page, page.get_by_role("tab", name="Table").click)
    grid = page.get_by_test_id("stDataFrame")
    grid.wait_for()
    scroll_to(page, grid)   # below the headline and filter bar: bring it into the viewport
    box = grid.bounding_box()
    for row in (0, 2, 3):  # tick the row-marker boxes in the first column
        rerun(page, lambda: page.mouse.click(
            box["x"] + 18, box["y"] + HEADER_HEIGHT + TABLE_ROW * (row + 0.5)))
    # the table shows invalid rows too
    rerun(page, page.get_by_text("Invalid rows in All").click)
    everything = download(page, "All CSV")
    ranked = everything.sort_values("reward", ascending=False, kind="stable")
    # three rows; their SMILES may repeat (the tiny model writes the same invalid string
    # more than once), so the count is of rows and the SMILES are compared as lists
    expected = sorted(ranked["smiles"].iloc[[0, 2, 3]])
    page.get_by_text(f"{len(expected)} selected molecule").wait_for()
    chosen = download(page, "Selection CSV")
    assert len(chosen) == len(expected) and sorted(chosen["smiles"]) == expected
    assert list(chosen.columns) == list(everything.columns)
    assert {"smiles", "reward", "mw", "qed", "method", "ys", "seed"} <= set(chosen.columns)
    assert (chosen["candidates"] == m).all() and (chosen["method"] == M.DEFAULT_METHOD).all()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser_test_table_selection.png"))
    # a reload is a new session: the run and the selection come back from the project
    rerun(page, page.reload)
    page.get_by_text(f"{len(expected)} selected molecule").wait_for()
    page.get_by_text(f"{M.DEFAULT_METHOD}, ", exact=False).first.wait_for()
    again = download(page, "Selection CSV")
    assert sorted(again["smiles"]) == expected


OWN = ("CN1CCC[C@H]1c1cccnc1 nicotine\nO=C1C(=Cc2ccccc2)SC(=S)N1 rhodanine\n"
       "CC(=O)Oc1ccccc1C(=O)O aspirin\nCn1cnc2c1c(=O)n(C)c(=O)n2C caffeine\n"
       "CC(C)Cc1ccc(C(C)C(=O)O)cc1 ibuprofen\nO=C(O)c1ccccc1O salicylic acid\nC1CC broken\n")


def test_upload_hide_flagged_select_and_export(browser_page, app_url):
    """A chemist's own series: uploaded, flagged molecules hidden, what is left selected
    and exported."""
    page = browser_page
    rerun(page, lambda: page.goto(app_url))
    set_number(page, "Molecules", 8)
    generate(page, timeout_s=RERUN_TIMEOUT_S)
    own_molecules(page).click()
    rerun(page, lambda: page.locator('input[type=file][accept*=".smi"]').set_input_files(
        files=[{"name": "leads.smi", "mimeType": "text/plain", "buffer": OWN.encode()}]))
    if not page.get_by_text("unreadable").is_visible():   # the rerun may close the popover
        own_molecules(page).click()
    page.get_by_text("unreadable").wait_for()
    assert page.get_by_text("6 read from").count() == 1
    page.keyboard.press("Escape")
    hide_flagged(page, ("PAINS", "Brenk", "unassigned stereocentres"))
    # three of ours (and any flagged valid molecule of the run, which draws a new seed)
    page.get_by_text(re.compile(r"\d+ hidden for flags")).wait_for()
    show_view(page, "Molecules")
    rerun(page, page.get_by_role("button", name=re.compile(r"Select all \d+ shown")).click)
    chosen = download(page, "Selection CSV")
    ours = chosen[chosen["source"] == "leads.smi"]
    assert sorted(ours["name"]) == ["caffeine", "nicotine", "salicylic acid"]
    assert not chosen["alerts"].str.contains("PAINS|Brenk|unassigned").any()   # the hidden
    assert {"reward", "alert_pains", "scaffold"} <= set(chosen)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser_test_own_molecules.png"))


def test_grid_cards_and_the_table_at_a_chemists_size(browser_page, app_url):
    """Drawings about mols2grid's cards at the width the right pane gives them (three a
    row), and a table that shows 16 rows before it scrolls."""
    page = browser_page
    rerun(page, lambda: page.goto(app_url))
    set_number(page, "Molecules", 24)
    generate(page, timeout_s=RERUN_TIMEOUT_S)
    own_molecules(page).click()
    rerun(page, lambda: page.locator('input[type=file][accept*=".smi"]').set_input_files(
        files=[{"name": "leads.smi", "mimeType": "text/plain", "buffer": OWN.encode()}]))
    page.keyboard.press("Escape")
    show_view(page, "Molecules")
    card = page.locator(".st-key-explore--view").get_by_test_id("stImage").first
    card.wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser_test_grid.png"))
    assert card.bounding_box()["width"] >= 180    # four a row drew them about 140 px wide
    show_view(page, "Table")
    table = page.get_by_test_id("stDataFrame")
    table.wait_for()
    page.screenshot(path=str(ARTIFACTS / "browser_test_table.png"))
    assert table.bounding_box()["height"] >= HEADER_HEIGHT + 16 * TABLE_ROW


def real_checkpoint() -> Path | None:
    for folder in (REPO / "assets" / "model", REPO / "runs" / "pretrain"):
        if (folder / "config.json").is_file():
            return folder
    return None


def scroll_to(page, locator) -> None:
    locator.evaluate("e => e.scrollIntoView({block: 'start', behavior: 'instant'})")


def show_view(page, name: str) -> None:
    """Open a result tab and scroll so the selection bar above the tabs is at the top."""
    rerun(page, page.get_by_role("tab", name=name).click)
    scroll_to(page, page.get_by_text("selected molecule").first)


@pytest.mark.skipif(os.environ.get("RCFG_SCREENSHOTS") != "1" or real_checkpoint() is None,
                    reason="screenshot tour: set RCFG_SCREENSHOTS=1 (needs a real checkpoint)")
def test_screenshot_tour(browser_page, monkeypatch):
    """Every view with the real model, written to docs/screenshots/ for the README."""
    tour = REPO / "projects" / "screenshot-tour"      # shown as a short path in the sidebar
    shutil.rmtree(tour, ignore_errors=True)
    monkeypatch.setenv("RCFG_PROJECT", str(tour))
    proc, url = serve(real_checkpoint())
    page = browser_page
    page.set_viewport_size({"width": 1600, "height": 1300})
    try:
        rerun(page, lambda: page.goto(url))
        page.get_by_role("button", name="Generate").wait_for()
        set_number(page, "Molecules", 128)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.get_by_role("button", name="Generate").click()   # the live view, mid-run
        page.get_by_text(re.compile(r"of 128 so far")).first.wait_for(timeout=300_000)
        page.screenshot(path=str(SHOTS / "generating.png"))
        page.get_by_text("Normalized score").wait_for(timeout=300_000)
        idle(page)
        page.screenshot(path=str(SHOTS / "explore.png"))

        show_view(page, "Pareto")
        plot = page.locator(".nsewdrag").first
        box = plot.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.01, box["y"] + box["height"] * 0.45)
        page.mouse.down()  # the low-logP, low-MW corner: the best CNS molecules
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.99, steps=8)
        rerun(page, page.mouse.up)
        assert page.get_by_text("0 selected molecules").count() == 0  # the box added some
        page.screenshot(path=str(SHOTS / "pareto.png"))

        show_view(page, "Molecules")
        smarts = page.get_by_label("SMARTS filter", exact=True)
        smarts.fill("C(=O)N")
        rerun(page, lambda: smarts.press("Enter"))
        scroll_to(page, page.get_by_text("selected molecule").first)
        page.screenshot(path=str(SHOTS / "grid.png"))

        show_view(page, "3D")
        page.locator("iframe").last.content_frame.locator("canvas").first.wait_for()
        page.screenshot(path=str(SHOTS / "3d.png"))

        page.get_by_role("button", name="Reference molecules", exact=True).click()
        refs = page.get_by_label("Reference SMILES, one per line", exact=True)
        refs.fill(LEADS)
        rerun(page, lambda: refs.press("Control+Enter"))
        page.keyboard.press("Escape")
        show_view(page, "Table")
        page.screenshot(path=str(SHOTS / "table.png"))
        scroll_to(page, page.get_by_role("button", name="Reference molecules", exact=True))
        hide_flagged(page, ("PAINS", "Brenk"))
        show_view(page, "Scaffolds")
        scroll_to(page, page.get_by_role("button", name="Reference molecules", exact=True))
        page.screenshot(path=str(SHOTS / "scaffolds.png"))

        page.get_by_label("Method", exact=True).click()
        rerun(page, page.get_by_role("option", name="Base model").click)
        set_number(page, "Candidates per molecule", 17)   # best-of-17
        generate(page, timeout_s=300)
        show_view(page, "History")
        page.screenshot(path=str(SHOTS / "history.png"))

        rerun(page, page.get_by_role("link", name="Runs").click)
        page.screenshot(path=str(SHOTS / "runs.png"))
        rerun(page, page.get_by_role("link", name="Benchmarks").click)
        page.screenshot(path=str(SHOTS / "benchmarks.png"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def term_field(page, prop: str, field: str):
    """A reward term's number box in the editor, found by its label inside its row's cell
    (every term has boxes labelled low, high, ...)."""
    return page.locator(f".st-key-rw--{prop}--{field}").get_by_label(field, exact=True)


def set_field(page, prop: str, field: str, value: str) -> None:
    box = term_field(page, prop, field)
    box.fill(value)
    rerun(page, lambda: box.press("Enter"))


def step_up(page, prop: str, field: str) -> None:
    """One step up with the arrow key (the narrow column hides the +/- buttons)."""
    box = term_field(page, prop, field)
    box.press("ArrowUp")
    rerun(page, lambda: box.press("Enter"))


def shown_term(page, prop: str) -> dict[str, str]:
    """What the editor's boxes of one term show, as typed text."""
    fields = [f for f in ("low", "high", "ramp", "weight")
              if page.locator(f".st-key-rw--{prop}--{f}").count()]
    return {f: term_field(page, prop, f).input_value() for f in fields}


def reward_in_use(page) -> dict:
    """The reward in use, as the editor's download gives it (its TOML, parsed)."""
    import tomllib

    section = page.get_by_text("Reward file (TOML)")
    section.click()
    button = page.get_by_role("button", name="Download this reward (.toml)")
    with page.expect_download() as info:
        button.click()
    section.click()   # closed again
    button.wait_for(state="hidden")
    return tomllib.loads(Path(info.value.path()).read_text())


def visit_runs_and_back(page) -> None:
    rerun(page, page.get_by_role("link", name="Runs").click)
    page.get_by_role("heading", name="Distillation and RL").wait_for()
    rerun(page, page.get_by_role("link", name="Explore").click)
    page.get_by_role("button", name="Generate").wait_for()


def switched_on(page) -> set[str]:
    """The properties whose switch in the reward editor is on."""
    return set(page.evaluate("""() => [...document.querySelectorAll('[role=switch]:checked')]
        .flatMap(e => [...(e.closest('[class*="st-key-rw--"]')?.classList ?? [])])
        .map(c => c.match(/^st-key-rw--(.+)--on$/)?.[1]).filter(Boolean)"""))


def assert_fields_are(page, reward: dict) -> None:
    """Every box of every term shows the term's value exactly as written (2.75, not
    2.7500000001), and no other term is switched on."""
    for term in reward["terms"]:
        prop = term["property"]
        assert page.locator(f".st-key-rw--{prop}--on").get_by_role("switch").is_checked(), prop
        goal = page.locator(f".st-key-rw--{prop}--goal").get_by_role("radio", name=term["goal"])
        assert goal.is_checked(), (prop, term["goal"])
        fields = ("low", "high", "weight") + (("ramp",) if term["goal"] == "range" else ())
        expected = {f: term.get(f, 1.0) for f in fields}
        shown = shown_term(page, prop)
        assert {f: float(v) for f, v in shown.items()} == expected, prop
        assert shown == {f: f"{v:g}" for f, v in expected.items()}, prop
    assert switched_on(page) == {t["property"] for t in reward["terms"]}


def test_editor_round_trip_keeps_the_reward_in_use(browser_page, app_url):
    """Bounds edited on Explore, then Runs and back: every box shows the value in use,
    with no float noise and nothing reverted; likewise after a preset change."""
    page = browser_page
    rerun(page, lambda: page.goto(app_url))
    page.get_by_role("button", name="Generate").wait_for()
    preset = page.get_by_role("combobox", name="Preset")
    assert preset.input_value() == "CNS penetrant (Wager MPO, RDKit proxies)"
    assert shown_term(page, "logp") == {"low": "2.5", "high": "4.5", "weight": "2"}
    set_field(page, "logp", "low", "0.25")
    step_up(page, "logp", "high")                         # 4.5 + one step of 0.25
    set_field(page, "logp", "weight", "0.2")
    step_up(page, "logp", "weight")                       # 0.2 + 0.1: 0.30000000000000004?
    set_field(page, "tpsa", "ramp", "12.5")
    edited = shown_term(page, "logp")
    assert edited == {"low": "0.25", "high": "4.75", "weight": "0.3"}
    assert preset.input_value() == "Custom"

    visit_runs_and_back(page)
    in_use = reward_in_use(page)
    logp = next(t for t in in_use["terms"] if t["property"] == "logp")
    assert (logp["low"], logp["high"]) == (0.25, 4.75)
    assert in_use["name"].endswith("(edited)")
    assert_fields_are(page, in_use)
    assert shown_term(page, "logp") == edited and shown_term(page, "tpsa")["ramp"] == "12.5"
    assert preset.input_value() == "Custom"

    preset.click()
    page.keyboard.type("Veber rules")
    rerun(page, lambda: page.keyboard.press("Enter"))
    visit_runs_and_back(page)
    assert preset.input_value() == "Veber rules (graded)"
    veber = reward_in_use(page)
    assert veber["name"] == "Veber rules (graded)"
    assert [t["property"] for t in veber["terms"]] == ["rotatable_bonds", "tpsa"]
    assert_fields_are(page, veber)


def test_structure_terms_in_the_editor(browser_page, app_url):
    """A similarity term and a forbidden SMARTS typed in the Structure section: a bad
    pattern is named beside its box and refused; the SMARTS shows as written (not as a
    link); the terms come back after another page; a Generate with 4 candidates says the
    structure terms chose among them."""
    page = browser_page
    rerun(page, lambda: page.goto(app_url))
    page.get_by_role("button", name="Generate").wait_for()
    section = page.get_by_text("Structure", exact=True)
    scroll_to(page, section)
    section.click()
    rerun(page, page.get_by_text("Similarity to reference molecules").click)
    refs = page.get_by_label("Reference SMILES, one per line", exact=True).first
    refs.fill("CC(=O)Nc1ccc(O)cc1")
    rerun(page, lambda: refs.press("Control+Enter"))
    page.get_by_text("largest Tanimoto to the references").wait_for()
    rerun(page, page.get_by_text("Forbidden substructures (SMARTS)").click)
    smarts = page.get_by_label("SMARTS, one per line", exact=True)
    smarts.fill("[N+](=O)[O-]\nc1ccc(")
    rerun(page, lambda: smarts.press("Control+Enter"))
    # on the page, not in the toast that also says it
    beside = page.get_by_test_id("stMain").get_by_text(
        "Forbidden substructures (SMARTS): 'c1ccc(' is not a valid")
    assert beside.count() == 2            # the editor's error, and again beside the box
    page.get_by_test_id("stToast").get_by_text("Not applied: Forbidden substructures").first \
        .wait_for()   # and a toast, wherever the chemist is on the page
    assert smarts.input_value() == "[N+](=O)[O-]\nc1ccc("     # kept, to be fixed
    smarts.fill("[N+](=O)[O-]")
    rerun(page, lambda: smarts.press("Control+Enter"))
    assert beside.count() == 0
    roles = page.get_by_text("Filter (reward 0 when failed)")
    assert "must not contain [N+](=O)[O-]" in roles.inner_text()
    assert roles.locator("a").count() == 0          # a SMARTS is not a markdown link
    in_use = reward_in_use(page)
    assert [t.get("structure") for t in in_use["terms"][-2:]] == ["similarity", "substructure"]
    visit_runs_and_back(page)
    assert page.get_by_label("SMARTS, one per line", exact=True).input_value() == "[N+](=O)[O-]"
    set_number(page, "Molecules", 12)
    generate(page, timeout_s=RERUN_TIMEOUT_S)
    page.get_by_text("forbidden_substructure chose the best of 4 candidates per molecule"
                     ).wait_for()


def test_a_run_stopped_in_the_browser_resumes_where_it_stopped(browser_page, tiny_checkpoint,
                                                               tmp_path, monkeypatch):
    """An RL run started from the Runs form, stopped mid-way with Stop (it saves every
    1,000 steps, so only the stop saves), resumed with Resume: its history holds every
    step once."""
    import json

    monkeypatch.setenv("RCFG_RUNS_DIR", str(tmp_path))
    steps, name = 60, "browser-rl"
    proc, url = serve(tiny_checkpoint)
    page = browser_page
    try:
        rerun(page, lambda: page.goto(url))
        page.get_by_role("button", name="Generate").wait_for()
        idle(page)
        rerun(page, page.get_by_role("link", name="Runs").click)
        page.get_by_role("heading", name="Distillation and RL").wait_for()
        rerun(page, page.get_by_text("RL fine-tuning of the unconditional model").click)
        name_box = page.locator(".st-key-launch--name--rl").get_by_label(
            "Run name (folder under runs/)", exact=True)     # the RL form's own box
        name_box.fill(name)
        set_number(page, "Steps", steps, in_form=True)
        set_number(page, "Molecules per step", 8, in_form=True)
        set_number(page, "Save every (steps)", 1000, in_form=True)
        page.get_by_role("button", name="Start run").click()
        page.get_by_text(f"Started rl run {name} (process").wait_for()
        panel = f"{name} · rl · "
        page.get_by_text(re.compile(re.escape(panel) + r"running, step ([3-9]|\d\d+) of")) \
            .wait_for(timeout=120_000)
        page.get_by_role("button", name="Stop").click()
        page.get_by_text(re.compile(re.escape(panel) + r"stopped, step \d+ of")) \
            .wait_for(timeout=120_000)
        folder = tmp_path / name
        history = [json.loads(line) for line in (folder / runfolder.HISTORY_FILE).read_text()
                   .splitlines()]
        stopped_at = history[-1]["step"]
        assert 3 <= stopped_at < steps, "Stop should end the run before its last step"
        assert [h["step"] for h in history] == list(range(stopped_at + 1))
        page.get_by_role("button", name="Resume").click()
        page.get_by_text(f"{panel}finished, step {steps} of {steps}") \
            .wait_for(timeout=180_000)
        history = [json.loads(line) for line in (folder / runfolder.HISTORY_FILE).read_text()
                   .splitlines()]
        assert [h["step"] for h in history] == list(range(steps + 1))
        log = (folder / runfolder.LOG_FILE).read_text()
        assert "stopped by request" in log and log.count("--resume") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def no_error_shown(page) -> None:
    for test_id in ("stException", "stAlertContentError"):
        assert page.get_by_test_id(test_id).count() == 0, test_id
    assert page.get_by_text("not restored").count() == 0


def all_smiles(page) -> list[str]:
    """The SMILES of the run shown, invalid rows included, in the order of the download."""
    if not page.get_by_label("Invalid rows in All", exact=True).is_checked():
        rerun(page, page.get_by_text("Invalid rows in All").click)
    return download(page, "All CSV")["smiles"].tolist()


def test_a_server_killed_mid_generate_loses_only_that_run(browser_page, tiny_checkpoint,
                                                          project_folder):
    """A Generate in flight when the server is SIGKILLed (while sampling, and just as it
    stores the run): a new server on the same project shows the first run with its
    molecules and no error, and every stored run reads back whole."""
    import random
    import signal

    from engine.project import Project

    page = browser_page
    proc, url = serve(tiny_checkpoint)
    try:
        rerun(page, lambda: page.goto(url))
        set_number(page, "Molecules", 8)
        generate(page, timeout_s=RERUN_TIMEOUT_S)
        first = next(r for r in Project.open(project_folder).runs() if r.kind == "generated")
        label = f"#{first.number} {first.name}"
        first_smiles = all_smiles(page)
        assert len(first_smiles) == first.n == 8
        # kill points: while sampling, then as the finished run is being stored
        sampling, stored = r"^[^:]+: [\d,]+ / {n} molecules$", r"Generated {n} molecules in "
        # a new n each time, so the base set is sampled too (not 56: on the tiny model it
        # trips the grammar mask's IndexError, engine/sampling/grammar.py advance)
        for n, shown, delay in ((48, sampling, 0.3), (64, stored, random.uniform(0.0, 0.15))):
            set_number(page, "Molecules", n)
            page.get_by_role("button", name="Generate").click()
            page.get_by_text(re.compile(shown.format(n=n))).first.wait_for(state="attached",
                                                                           timeout=90_000)
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
            proc, url = serve(tiny_checkpoint)
            rerun(page, lambda: page.goto(url))
            page.get_by_text("Normalized score").wait_for()
            idle(page)
            no_error_shown(page)
            project = Project.open(project_folder)
            runs = project.runs()
            assert [(r.name, r.n) for r in runs if r.id == first.id] == [(first.name, 8)]
            for record in runs:
                molecules = project.molecules(record.id)
                assert len(molecules) == record.n, record
                assert molecules["id"].tolist() == [f"{record.id}:{i}" for i in range(record.n)]
            assert {r.settings["base_run"] for r in runs if r.kind == "generated"} <= \
                {r.id for r in runs}
        box = page.get_by_role("combobox", name="Run")
        box.click()
        page.keyboard.type(label)
        rerun(page, lambda: page.keyboard.press("Enter"))
        assert box.input_value() == label
        assert all_smiles(page) == first_smiles
        no_error_shown(page)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
