"""What an error says on screen: the engine's message, without the server's paths.

The engine names files by absolute path (right for a terminal); the dashboard is seen in a
browser, where the server's layout is no one's business and means nothing. Paths under the
runs folder read `runs/NAME`, those under the repository are relative to it, as
`resources.display_path` shows folders; the repository itself reads "the dashboard's own
folder" (a bare "." read as a typo).
"""
from __future__ import annotations

import re
from pathlib import Path

from app import resources


def _roots() -> list[tuple[str, str, str]]:
    """(folder, how it is shown, how a path inside it starts), the runs folder first: it
    may lie inside the repository."""
    out = []
    for folder, alone, inside in ((resources.runs_dir(), "runs", "runs/"),
                                  (resources.REPO, "the dashboard's own folder", "")):
        for form in dict.fromkeys((Path(folder).absolute(), Path(folder).resolve())):
            out.append((str(form), alone, inside))
    return out


def shown(message: object) -> str:
    """`message` (an exception or text) with every path under the runs folder or the
    repository written relative to it; other text unchanged."""
    text = str(message)
    for folder, alone, inside in _roots():
        text = text.replace(folder + "/", inside)
        text = re.sub(re.escape(folder) + r"(?![\w.-])", alone, text)   # not a longer name
    return text
