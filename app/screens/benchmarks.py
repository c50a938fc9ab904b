"""Benchmarks: the reports the engine writes (BENCHMARKS.md, the reward preset table)."""
import re
from pathlib import Path

import streamlit as st

from app import resources

REPORTS = (("Benchmarks", resources.REPO / "BENCHMARKS.md"),
           ("Reward presets", resources.REPO / "assets" / "rewards" / "README.md"))
IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")


def show_markdown(path: Path) -> None:
    """Markdown with its local images (lines that are only an image) shown inline."""
    text, block = path.read_text(encoding="utf-8"), []
    for line in text.splitlines():
        match = IMAGE.match(line.strip())
        image = match and (path.parent / match.group(2))
        if image and image.is_file():
            st.markdown("\n".join(block))
            block = []
            st.image(str(image), caption=match.group(1) or None)
        else:
            block.append(line)
    st.markdown("\n".join(block))


st.title("Benchmarks")
found = [(title, path) for title, path in REPORTS if path.is_file()]
missing = [path.relative_to(resources.REPO) for _, path in REPORTS if not path.is_file()]
if missing:
    st.info("Not written yet: " + ", ".join(f"`{p}`" for p in missing) + ". They are produced "
            "by the engine's benchmark commands (`python -m engine.bench...`).")
if found:
    for tab, (_, path) in zip(st.tabs([title for title, _ in found]), found):
        with tab:
            show_markdown(path)
