"""`score`: a file of the chemist's molecules scored with a reward: properties, reward and
desirabilities, alerts, scaffold, and on request similarity, clusters and diverse picks."""
from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.common import (UsageError, alert_line, check_reward,
                               diversity_columns, diversity_options, force_option,
                               progress_bar)
from engine.output import check_output, write_csv


def run_score(args) -> int:
    from engine.chem import alerts  # noqa: PLC0415
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.chem.scoring import replaced_columns, score_table  # noqa: PLC0415
    from engine.train.data import read_smiles_table  # noqa: PLC0415

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give a number of processes >= 1")
    reward = load_reward(args.reward)
    check_reward(reward, args)
    if _sharded(args):
        return _run_sharded(args, reward)
    out = check_output(args.out, args.force)   # before any work
    table = read_smiles_table(args.input, args.smiles_column)  # DataError: why not
    frame, column = table.frame, table.column
    replaced = replaced_columns(frame, column, reward, alerts.CHECK_COLUMNS)
    if replaced:
        print(f"note: recomputing the input's columns {', '.join(replaced)}", file=sys.stderr)
    scored = score_table(frame, column, reward, table.unreadable, args.whole_mixture,
                         args.jobs, progress=sys.stderr.isatty(), alerts=False)
    # the checks describe what was scored; the given SMILES stay
    smiles = [part or whole for part, whole in zip(scored["scored_as"], scored[column])]
    scored = diversity_columns(alerts.with_checks(scored, smiles), smiles, args)
    write_csv(scored, out)
    print(f"{reward.name}: {len(scored):,} molecules, {int(scored['valid'].sum()):,} valid, "
          f"mean reward {scored['reward'].mean() if len(scored) else 0.0:.3f} "
          f"(invalid = 0); wrote {args.out}")
    print(alert_line(alerts.alert_rates(scored), None))
    return 0


def _sharded(args) -> bool:
    """`--out DIR/`, --workers or --dask: score in partitions into parquet shards."""
    return bool(args.workers or args.dask or str(args.out).endswith(("/", "\\")))


def _run_sharded(args, reward) -> int:
    import json  # noqa: PLC0415

    from engine.chem.partitions import score_partitions  # noqa: PLC0415

    if args.reference or args.cluster is not None or args.pick is not None:
        raise UsageError("--reference, --cluster and --pick need every molecule at once; "
                         "use them with a CSV --out")
    if args.workers and args.dask:
        raise UsageError("give --workers N (a local cluster) or --dask ADDRESS, not both")
    summary = score_partitions(args.input, args.smiles_column, reward, Path(args.out),
                               partition=args.partition, workers=args.workers,
                               address=args.dask, whole_mixture=args.whole_mixture,
                               alerts=args.alerts, force=args.force, jobs=args.jobs,
                               progress=progress_bar(f"partitions of {args.partition:,}",
                                                     "scoring"))
    print(f"{reward.name}: {summary['n']:,} molecules in {summary['partitions']} shards, "
          f"{summary['valid']:,} valid, mean reward {summary['mean_reward']:.3f} (invalid = 0), "
          f"{summary['molecules_per_s']:.0f} molecules/s on {summary['engine']}; wrote {args.out}")
    print(json.dumps(summary))
    return 0


def score_options(sc) -> None:
    sc.add_argument("--reward", required=True, help="preset key (see `rewards`) or .toml file")
    sc.add_argument("--in", dest="input", type=Path, required=True,
                    help="CSV with a SMILES column (or one column), a .smi, .smiles or .txt file "
                         "(SMILES, then a name, per line) or an SDF file (.sdf, .sd)")
    sc.add_argument("--smiles-column", default="smiles", help="matched ignoring case")
    sc.add_argument("--as-given", "--whole-mixture", dest="whole_mixture",
                    action="store_true",
                    help="score each SMILES exactly as given: a salt, hydrate or mixture "
                         "whole, charges as written (default: its largest fragment, "
                         "neutralized where a proton does it, named in `scored_as`)")
    sc.add_argument("--jobs", type=int, help="processes for the properties (default: all "
                    "cores); with --out DIR/, the local pool's processes")
    sc.add_argument("--out", type=str, required=True, help="output CSV: input columns, "
                    "scored_as, valid, invalid_reason, the 25 properties, reward, one "
                    "d_<property> per term, the alert and flag columns, the Bemis-Murcko "
                    "scaffold, then what the options below add")
    force_option(sc)
    diversity_options(sc)
    sc.add_argument("--workers", type=int, metavar="N",
                    help="score in partitions on a local Dask cluster of N worker processes, "
                         "into parquet shards in --out DIR/")
    sc.add_argument("--dask", metavar="ADDRESS",
                    help="score in partitions on a running Dask cluster, e.g. "
                         "tcp://scheduler:8786 (--out must be a folder the workers' results "
                         "come back to: this machine writes the shards)")
    sc.add_argument("--partition", type=int, default=10_000, metavar="N",
                    help="molecules per partition and shard (with --out DIR/)")
    sc.add_argument("--alerts", action="store_true",
                    help="with --out DIR/: add the alert and flag columns (about 30 ms per "
                         "molecule on one core; a CSV --out always has them)")
    sc.set_defaults(func=run_score)
