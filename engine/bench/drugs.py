"""The presets checked against real drugs: ten CNS and ten non-CNS drugs
(`assets/rewards/known_drugs.csv`) scored by the presets meant for drug-like molecules,
beside the prior bank's mean, and the terms that (almost) every bank molecule meets.

`python -m engine.bench.drugs` writes both tables into `assets/rewards/README.md` between
the drug-table markers.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from engine.bench.presets import DEFAULT_BANK, README, load_bank, write_table
from engine.chem.properties import batch_properties
from engine.chem.rewards import (MET_BY_ALL, PRESET_DIR, Reward, list_presets, load_reward,
                                 support)

DRUGS = PRESET_DIR / "known_drugs.csv"
START, END = "<!-- drug-table:start -->", "<!-- drug-table:end -->"
# presets a marketed oral drug can be held to; the fragment, macrocycle, agrochemical and
# stress-test presets are not about drugs, and the class presets get their own line
DRUG_PRESETS = ("cns_penetrant", "herg_safe", "drug_like", "lipinski", "veber",
                "oral_bioavailability", "pfizer_3_75", "qed_high")
CLASS_PRESETS = {"kinase_inhibitor_like": ("imatinib", "gefitinib"),
                 "antibacterial_like": ("ciprofloxacin",)}


def drug_scores(drugs: pd.DataFrame, keys) -> pd.DataFrame:
    """`drugs` (name, group, smiles) with one column per preset key: its reward."""
    props = batch_properties(drugs["smiles"].tolist(), n_jobs=1, progress=False)
    return drugs.assign(**{key: load_reward(key).score(props) for key in keys})


def met_by_bank(presets: list[Reward], bank: pd.DataFrame) -> pd.DataFrame:
    """(preset, property, share) for every term at least MET_BY_ALL of `bank` meets."""
    rows = []
    for reward in presets:
        for term in reward.terms:
            found = support(term, bank[term.property].to_numpy(dtype=float))
            if found is not None and found[0] >= MET_BY_ALL:
                rows.append({"preset": reward.key, "property": term.property,
                             "share": found[0]})
    return pd.DataFrame(rows, columns=["preset", "property", "share"])


def to_markdown(scores: pd.DataFrame, bank: pd.DataFrame, met: pd.DataFrame) -> str:
    keys = DRUG_PRESETS
    bank_mean = {k: float(load_reward(k).score(bank).mean()) for k in (*keys, *CLASS_PRESETS)}
    lines = ["| drug | group | " + " | ".join(f"`{k}`" for k in keys) + " |",
             "|---|---|" + "---:|" * len(keys)]
    for row in scores.itertuples():
        lines.append(f"| {row.name} | {row.group} | "
                     + " | ".join(f"{getattr(row, k):.2f}" for k in keys) + " |")
    for group in ("CNS", "non-CNS"):
        mean = scores[scores["group"] == group][list(keys)].mean()
        lines.append(f"| **mean, {group}** | | "
                     + " | ".join(f"**{mean[k]:.2f}**" for k in keys) + " |")
    lines.append("| *prior bank mean* | | " + " | ".join(f"*{bank_mean[k]:.2f}*" for k in keys)
                 + " |")
    lines += ["", "Class presets, on the drugs of their class:", ""]
    for key, names in CLASS_PRESETS.items():
        ours = scores[scores["name"].isin(names)]
        others = scores[~scores["name"].isin(names)][key].mean()
        shown = ", ".join(f"{r.name} {getattr(r, key):.2f}" for r in ours.itertuples())
        lines.append(f"- `{key}`: {shown}; the other {len(scores) - len(ours)} drugs "
                     f"{others:.2f}; prior bank {bank_mean[key]:.2f}.")
    lines += ["", f"Terms that at least {MET_BY_ALL:.0%} of the prior bank already meets "
              "(d = 1), so they change nothing there (each preset's rationale says why it "
              "stays):", ""]
    lines += [f"- `{r.preset}`: `{r.property}` ({r.share:.1%} of the bank)"
              for r in met.itertuples()] or ["- none"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench.drugs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=Path, default=DEFAULT_BANK)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    bank = load_bank(args.bank)
    scores = drug_scores(pd.read_csv(DRUGS), (*DRUG_PRESETS, *CLASS_PRESETS))
    markdown = to_markdown(scores, bank, met_by_bank(list_presets(), bank))
    write_table(args.readme, markdown, START, END)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
