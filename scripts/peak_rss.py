"""Run a command and report the peak memory of its whole process tree.

`python scripts/peak_rss.py -- CMD ...` samples, every `--every` seconds, the memory of the command and all its descendants (worker processes, torchrun
ranks) from /proc and writes the largest sum of their proportional set sizes (a page that forked workers share
counted once) and the largest single process to stderr
and, with `--json FILE`, to a file. Linux only (reads /proc)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _pss(proc: Path) -> int:
    try:
        for line in (proc / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> tuple[int, int]:
    """(sum, largest) in kB over `root` and its descendants: the sum of their proportional
    set sizes (Pss: a page shared by forked workers counts once over all of them) and the
    largest resident set (VmRSS) of one process."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    pss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines()
                          if ":" in line)
        except OSError:   # the process ended while being read
            continue
        pid = int(status.parent.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
        pss[pid] = _pss(status.parent) or rss[pid]
    total, largest, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        total += pss.get(pid, 0)
        largest = max(largest, rss.get(pid, 0))
        todo += children.get(pid, [])
    return total, largest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--json", type=Path, help="write the peaks to this file")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    t0 = time.perf_counter()
    proc = subprocess.Popen(command)
    peak_sum = peak_one = 0
    while proc.poll() is None:
        total, largest = tree_rss(proc.pid)
        peak_sum, peak_one = max(peak_sum, total), max(peak_one, largest)
        time.sleep(args.every)
    result = {"command": command, "exit": proc.returncode,
              "wall_s": round(time.perf_counter() - t0, 1),
              "peak_pss_tree_mb": round(peak_sum / 1024), "peak_rss_process_mb":
              round(peak_one / 1024)}
    print(json.dumps(result), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
