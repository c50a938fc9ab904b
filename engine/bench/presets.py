"""The preset table: how each reward preset spreads over the prior bank.

A preset is only useful for guidance when the prior bank holds both poor and good
molecules for it. The three non-degeneracy criteria, with r(y*) the bank's best reward:
std of r over the bank >= 0.05, bank mean <= 0.9 and r(y*) >= bank mean + 0.1.

`python -m engine.bench.presets [--bank PATH]` writes the table into
`assets/rewards/README.md` between the preset-table markers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import PRESET_DIR, Reward, RewardError, list_presets
from engine.errors import UserError

DEFAULT_BANK = Path(__file__).resolve().parents[2] / "assets" / "model" / "prior_bank.parquet"
README = PRESET_DIR / "README.md"
START, END = "<!-- preset-table:start -->", "<!-- preset-table:end -->"
MIN_STD, MAX_MEAN, MIN_GAP = 0.05, 0.9, 0.1


class BankError(UserError):
    """A prior bank that cannot be used, or a README without the table markers."""


def load_bank(path: Path, rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The bank's property table; with `rows`, a seeded random subset of that many rows.

    Raises BankError when the file is missing or lacks a property column.
    """
    path = Path(path)
    if not path.is_file():
        raise BankError(f"{path}: no prior bank there; pass --bank PATH (a parquet file with "
                        "the 25 property columns, e.g. a checkpoint's prior_bank.parquet)")
    bank = pd.read_parquet(path)
    missing = [p for p in PROPERTY_NAMES if p not in bank.columns]
    if missing:
        raise BankError(f"{path}: missing property columns {', '.join(missing)}")
    if rows is not None and rows < len(bank):
        bank = bank.sample(n=rows, random_state=seed).reset_index(drop=True)
    return bank


def preset_stats(reward: Reward, bank: pd.DataFrame) -> dict:
    """Mean, population std and max r(y*) of `reward` over `bank`, and the three checks."""
    r = reward.score(bank)
    mean, std, r_star = float(r.mean()), float(r.std()), float(r.max())
    checks = {"std_ok": std >= MIN_STD, "mean_ok": mean <= MAX_MEAN,
              "gap_ok": r_star >= mean + MIN_GAP}
    return {"key": reward.key, "name": reward.name, "out_of_support": reward.out_of_support,
            "mean": mean, "std": std, "r_star": r_star, **checks, "passes": all(checks.values())}


def preset_table(presets: list[Reward], bank: pd.DataFrame) -> pd.DataFrame:
    """One row of `preset_stats` per preset, in the given order."""
    return pd.DataFrame([preset_stats(r, bank) for r in presets])


def to_markdown(table: pd.DataFrame, bank_label: str) -> str:
    """The table as markdown, headed by the bank it was measured on."""
    mark = {True: "yes", False: "**no**"}
    lines = [f"Measured on {bank_label} by `python -m engine.bench.presets`.",
             f"Criteria: std >= {MIN_STD}, mean <= {MAX_MEAN}, r(y*) >= mean + {MIN_GAP}.", "",
             "| key | name | out of support | mean | std | r(y*) | std ok | mean ok | gap ok |",
             "|---|---|---|---:|---:|---:|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| `{row.key}` | {row.name} | {'yes' if row.out_of_support else ''} | "
                     f"{row.mean:.3f} | {row.std:.3f} | {row.r_star:.3f} | "
                     f"{mark[row.std_ok]} | {mark[row.mean_ok]} | {mark[row.gap_ok]} |")
    passed = int(table["passes"].sum())
    lines += ["", f"{passed} of {len(table)} presets meet all three criteria."]
    return "\n".join(lines)


def write_table(readme: Path, markdown: str, start_mark: str = START,
                end_mark: str = END) -> None:
    """Replace the text between the markers (default: the preset-table ones) of `readme`.

    Raises BankError when the file or the markers are missing, or the markers are out of
    order.
    """
    if not Path(readme).is_file():
        raise BankError(f"{readme}: no such README to write the table into")
    text = Path(readme).read_text(encoding="utf-8")
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        raise BankError(f"{readme}: needs the lines {start_mark} and {end_mark} (in that "
                        "order)")
    text = text[:start + len(start_mark)] + "\n" + markdown + "\n" + text[end:]
    Path(readme).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench.presets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=Path, default=DEFAULT_BANK,
                        help=f"parquet with the 25 property columns (default: {DEFAULT_BANK})")
    parser.add_argument("--rows", type=int, help="use a seeded random subset of this many rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    try:
        bank = load_bank(args.bank, args.rows, args.seed)
        table = preset_table(list_presets(), bank)
        subset = f"a seeded random subset (seed {args.seed}) of " if args.rows else ""
        label = f"{subset}`{_display_path(args.bank)}` ({len(bank):,} molecules)"
        markdown = to_markdown(table, label)
        write_table(args.readme, markdown)
    except (BankError, RewardError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown)
    print(f"wrote the table into {args.readme}")
    return 0 if table["passes"].all() else 1


def _display_path(path: Path) -> str:
    """`path` relative to the repository when inside it (the README is committed)."""
    root = DEFAULT_BANK.parents[2]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
