"""`score`: a file of the chemist's molecules scored with a reward: properties, reward and
desirabilities, alerts, scaffold, and on request similarity, clusters and diverse picks."""
from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.common import (alert_line, check_reference_columns, diversity_columns,
                               diversity_options, force_option)
from engine.output import check_output, write_csv


def run_score(args) -> int:
    from engine.chem import alerts  # noqa: PLC0415
    from engine.chem.properties import (PROPERTY_NAMES, batch_properties,  # noqa: PLC0415
                                        invalid_reason, largest_fragment)
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.train.data import read_smiles_table  # noqa: PLC0415

    reward = load_reward(args.reward)
    check_reference_columns(reward, args)
    check_output(args.out, args.force)   # before any work
    table = read_smiles_table(args.input, args.smiles_column)  # DataError: why not
    frame, column = table.frame, table.column
    given = frame[column].tolist()
    # a salt or hydrate is scored as its largest fragment, which `scored_as` names
    scored_as = ([""] * len(given) if args.whole_mixture
                 else [largest_fragment(s) for s in given])
    smiles = [part or whole for part, whole in zip(scored_as, given)]
    computed = ["scored_as", "valid", "invalid_reason", *PROPERTY_NAMES, *reward.columns,
                *alerts.COLUMNS]
    # every d_* column goes: those of a previous reward would sit beside this one's
    replaced = [c for c in frame.columns
                if (c in computed or str(c).startswith("d_")) and c != column]
    if replaced:
        print(f"note: recomputing the input's columns {', '.join(replaced)}", file=sys.stderr)
    props = batch_properties(smiles, n_jobs=args.jobs, progress=sys.stderr.isatty())
    frame = frame.drop(columns=replaced).join(props[["valid", *PROPERTY_NAMES]])
    reasons = [unread or ("" if ok else invalid_reason(smi))
               for unread, smi, ok in zip(table.unreadable, smiles, frame["valid"])]
    frame.insert(frame.columns.get_loc("valid") + 1, "invalid_reason", reasons)
    frame.insert(frame.columns.get_loc("valid"), "scored_as", scored_as)
    # alerts, scaffold and similarity describe what was scored; the given SMILES stay
    scored = alerts.with_alerts(reward.evaluate(frame.assign(**{column: smiles}), column),
                                column)
    scored = diversity_columns(scored, smiles, args).assign(**{column: given})
    write_csv(scored, args.out)
    print(f"{reward.name}: {len(scored):,} molecules, {int(scored['valid'].sum()):,} valid, "
          f"mean reward {scored['reward'].mean() if len(scored) else 0.0:.3f} "
          f"(invalid = 0); wrote {args.out}")
    print(alert_line(alerts.alert_rates(scored), None))
    return 0


def score_options(sc) -> None:
    sc.add_argument("--reward", required=True, help="preset key (see `rewards`) or .toml file")
    sc.add_argument("--in", dest="input", type=Path, required=True,
                    help="CSV with a SMILES column (or one column), a .smi, .smiles or .txt file "
                         "(SMILES, then a name, per line) or an SDF file (.sdf, .sd)")
    sc.add_argument("--smiles-column", default="smiles", help="matched ignoring case")
    sc.add_argument("--whole-mixture", action="store_true",
                    help="score a salt, hydrate or mixture as a whole (default: its largest "
                         "fragment, named in `scored_as`)")
    sc.add_argument("--jobs", type=int, help="processes for the properties (default: all cores)")
    sc.add_argument("--out", type=Path, required=True, help="output CSV: input columns, "
                    "scored_as, valid, invalid_reason, the 25 properties, reward, one "
                    "d_<property> per term, the alert and flag columns, the Bemis-Murcko "
                    "scaffold, then what the options below add")
    force_option(sc)
    diversity_options(sc)
    sc.set_defaults(func=run_score)
