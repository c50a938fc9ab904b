"""Write requirements.txt from pyproject.toml: the same pinned packages, then `-e .`
(the project itself, with the `rcfg-studio` command). pyproject.toml is the one place a
pin is changed; `--check` exits 1, naming the difference, when requirements.txt is stale.

    python3 scripts/requirements.py           # rewrite requirements.txt
    python3 scripts/requirements.py --check   # is it up to date? (tests/test_requirements.py)
"""
from __future__ import annotations

import argparse
import difflib
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEADER = """\
# Generated from pyproject.toml by `python3 scripts/requirements.py`: change a pin there and
# rerun it (tests/test_requirements.py fails when the two files differ). From the repository
# root, `pip install -r requirements.txt` installs the dashboard and the engine; the test
# packages come with `pip install -e ".[test]"` (scripts/setup.sh). torch is the CPU build:
# on a CUDA machine install a CUDA build of torch 2.13 first.
"""


def render(pyproject: Path = REPO / "pyproject.toml") -> str:
    """The text requirements.txt should hold for `pyproject`."""
    pins = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return HEADER + "".join(f"{pin}\n" for pin in pins) + "-e .\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if requirements.txt differs")
    args = parser.parse_args(argv)
    target, wanted = REPO / "requirements.txt", render()
    if not args.check:
        target.write_text(wanted)
        return 0
    have = target.read_text() if target.is_file() else ""
    if have == wanted:
        return 0
    sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), wanted.splitlines(True),
                                               "requirements.txt", "from pyproject.toml"))
    print("requirements.txt is stale: run python3 scripts/requirements.py", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
