"""`sample`: molecules from the model, guided by a reward or conditioned on properties, with
the cost of the run and its standing at matched cost."""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from engine.cli.common import (UsageError, alert_line, check_reward,
                               decoding_options, diversity_columns, diversity_options,
                               field_default, force_option, from_args, gamma_options,
                               guidance_options, progress_bar)
from engine.output import check_output, timestamped, write_csv
from engine.sampling import methods as M

LOW_VALIDITY = 0.5   # below this share of valid molecules, `sample` warns


def _parse_conditions(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(f"--condition {item!r}: expected NAME=NUMBER, e.g. tpsa=60")
    return out


def run_sample(args) -> int:
    from engine.chem.alerts import alert_rates, with_alerts, with_checks  # noqa: PLC0415
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.model.checkpoint import load_checkpoint  # noqa: PLC0415
    from engine.bench.cost import standing  # noqa: PLC0415
    from engine.project import Project, run_name  # noqa: PLC0415
    from engine.sampling.compare import sample_base  # noqa: PLC0415
    from engine.sampling.sampler import SampleSettings, outside_bank, sample  # noqa: PLC0415

    target = _parse_conditions(args.condition)
    lead = _analogue_reward(args) if args.analogues_of else None
    if lead is not None:   # the lead's profile with the reward's goals, then --condition
        target = {**lead.lead_profile(args.analogues_of), **target}
        args.method = args.method or M.ANALOGUE_METHOD
        args.candidates = args.candidates or M.ANALOGUE_CANDIDATES
    method = args.method or ("conditional" if target and args.reward is None else
                             M.DEFAULT_METHOD if args.reward else "base")
    if args.reward is None and lead is None and M.METHODS[method].reward == "yes":
        raise UsageError(f"--method {method} needs --reward FILE_OR_PRESET")
    if args.reward is None and lead is None and (args.candidates or 1) > 1:
        raise UsageError("--candidates needs --reward FILE_OR_PRESET to rank the candidates")
    if method == "conditional" and not target and args.reward is None:
        raise UsageError("--method conditional needs --condition NAME=VALUE or --reward")
    reward = lead or (load_reward(args.reward) if args.reward else None)
    check_reward(reward, args)
    settings = from_args(SampleSettings, args, method=method, target=target or None)
    for line in _term_lines(reward, settings):
        print(line, file=sys.stderr)
    if _library_mode(args):
        return _run_library(args, reward, settings)
    out = check_output(args.out or timestamped("samples"), args.force)   # before any work
    project = Project.open(args.project) if args.project else None   # refused before work
    ckpt = load_checkpoint(args.checkpoint)
    for line in outside_bank(ckpt, target):
        print(f"warning: {line}", file=sys.stderr)
    base_mean = None
    if (method != "base" or settings.candidates > 1) and reward is not None and not args.no_reference:
        ref = sample_base(ckpt, reward, settings, progress=progress_bar("base reference"))
        base_mean = ref.summary["mean_reward"]
    result = sample(ckpt, reward, settings, progress=progress_bar(method), base_mean_reward=base_mean)
    frame = diversity_columns(with_checks(result.molecules),
                               result.molecules["smiles"].tolist(), args)
    if project is not None:   # stored first: the CSV carries the project's IDs and InChIKeys
        record = project.add_run(
            frame, name=args.name or run_name(settings.in_use(), reward, ckpt.path),
            settings=asdict(settings),
            reward_toml=reward.to_toml() if reward else "",
            reward_name=reward.name if reward else "", checkpoint=str(ckpt.path),
            summary=result.summary)
        frame = project.molecules(record.id).drop(columns="run_id")
    write_csv(frame, out)
    print(_summary_line(result.summary, reward is not None))
    print(_cost_line(result.summary))
    if reward is not None and (note := standing(settings)):
        print(note)
    if result.summary["validity"] < LOW_VALIDITY:
        print(f"warning: only {result.summary['validity']:.0%} of the molecules are valid; "
              "the guidance may be too strong (--gamma) or the conditions too far from the "
              "training data", file=sys.stderr)
    print(alert_line(alert_rates(frame),
                      alert_rates(with_alerts(ref.molecules)) if base_mean is not None else None))
    print(f"wrote {len(frame)} molecules to {out}")
    if project is not None:
        print(f"stored as run #{record.number} ({record.name!r}, molecule IDs "
              f"{record.id}:<row>) in project {project.path}")
    return 0


def _analogue_reward(args):
    """--analogues-of SMILES: the reward's property terms (if any) plus a Tanimoto window
    0.4-0.8 to the lead (`Reward.analogues_of`)."""
    from engine.chem.rewards import Reward, load_reward  # noqa: PLC0415
    from engine.chem.structure_terms import WINDOW, StructureTerm  # noqa: PLC0415

    lead = args.analogues_of
    if args.reward:
        return load_reward(args.reward).analogues_of(lead)
    window = StructureTerm("similarity", goal="range", **WINDOW, references=(lead,))
    return Reward(name=f"Analogues of {lead}", terms=(), structures=(window,))


def _library_mode(args) -> bool:
    """`--out DIR/` (a trailing slash), --resume, --shard-size or --dedupe: write a sharded
    library instead of one CSV (an existing folder without the slash is refused as an
    output file, as before)."""
    text = str(args.out) if args.out is not None else ""
    return bool(args.resume or args.shard_size or args.dedupe
                or text.endswith(("/", "\\")))


def _run_library(args, reward, settings) -> int:
    """Sharded sampling (engine/sampling/library.py), one rank of torchrun or alone."""
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from engine.model.checkpoint import load_checkpoint  # noqa: PLC0415
    from engine.sampling.library import SHARD_SIZE, dedupe, run_library  # noqa: PLC0415

    if args.out is None:
        raise UsageError("a library needs --out DIR/ (the folder its shards go to)")
    if args.project:
        raise UsageError("--project stores one run of a few thousand molecules; a library "
                         "goes to --out DIR/ alone")
    if args.reference or args.cluster is not None or args.pick is not None:
        raise UsageError("--reference, --cluster and --pick work on one CSV; score the "
                         "library's shards with `score` instead")
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    barrier = None
    if world > 1:
        import torch.distributed as dist  # noqa: PLC0415

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        barrier = dist.barrier
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(
            os.environ.get("LOCAL_WORLD_SIZE", world))))
    ckpt = load_checkpoint(args.checkpoint)
    # rank 0 shows its own share: the ranks run alongside, so its rate and ETA are the run's
    bar = (progress_bar(f"library, {settings.method}" + (f", rank 0 of {world}" if world > 1
                                                          else ""), resumable=True)
           if rank == 0 else None)
    summary = run_library(ckpt, reward, settings, settings.n, Path(args.out),
                          args.shard_size or SHARD_SIZE, args.resume, rank, world, bar, barrier)
    if rank != 0:
        return 0
    if args.dedupe:
        summary["dedupe"] = dedupe(Path(args.out), _plan_of(Path(args.out)))
    mean = (f", mean reward {summary['mean_reward']:.3f}"
            if summary.get("mean_reward") is not None else "")
    extra = (f"; {summary['dedupe']['unique']:,} unique by InChIKey "
             f"({summary['dedupe']['duplicates_dropped']:,} duplicates dropped) in "
             f"{Path(args.out) / 'unique'}" if "dedupe" in summary else "")
    print(f"library {args.out}: {summary['n']:,} molecules in {len(summary['shards'])} shards "
          f"({summary['shards_written_now']} written now), validity {summary['validity']:.3f}"
          f"{mean}, CPU {summary['cpu_s']:.0f} s{extra}")
    print(json.dumps({k: v for k, v in summary.items() if k != "shards"}))
    return 0


def _plan_of(folder: Path):
    import json  # noqa: PLC0415

    from engine.sampling.library import PLAN_FILE, LibraryPlan  # noqa: PLC0415

    return LibraryPlan(**json.loads((folder / PLAN_FILE).read_text()))


def _term_lines(reward, settings) -> list[str]:
    """Which terms steer the guidance and which act by selection (structure terms), with a
    warning when structure terms have no candidates to choose from."""
    if reward is None or not reward.structures:
        return []
    lines = [f"reward terms: {role}: {text}" for role, text in reward.describe_terms()]
    if settings.candidates == 1:
        lines.append("note: structure terms are not functions of the properties, so they "
                     "only select among candidates; with 1 candidate per molecule they only "
                     "score: use --candidates 4 or more to act on them")
    return lines


def _summary_line(summary: dict, with_reward: bool) -> str:
    parts = [f"valid {summary['validity']:.3f}", f"unique {summary['uniqueness']:.3f}",
             f"novel {summary['novelty']:.3f}"]
    if with_reward:
        parts.insert(0, f"mean reward {summary['mean_reward']:.3f}")
        if summary.get("normalized_score") is not None:
            parts.insert(1, f"normalized score {summary['normalized_score']:.3f} "
                            f"(base {summary['base_mean_reward']:.3f}, "
                            f"r(y*) {summary['r_star']:.3f})")
    parts.append(f"{summary['wall_time_s']:.1f} s ({summary['molecules_per_s']:.1f} mol/s "
                 f"on {summary['device']})")
    return ", ".join(parts)


def _cost_line(summary: dict) -> str:
    """What the run cost: forward rows, and CPU seconds of decoding and scoring."""
    per = (f", {summary['candidates']} candidates per molecule"
           if summary["candidates"] > 1 else "")
    return (f"cost: {summary['forward_rows']:,} forward rows ({summary['forward_rows_per_molecule']}"
            f" per molecule{per}); CPU {summary['cpu_s']:.1f} s "
            f"({summary['cpu_ms_per_molecule']:.1f} ms per molecule): decoding "
            f"{summary['cpu_decode_s']:.1f} s, scoring {summary['cpu_score_s']:.1f} s, the rest "
            "set-up and likelihood")


def sample_options(sa) -> None:
    from engine.sampling.sampler import SampleSettings  # noqa: PLC0415

    sa.add_argument("--n", type=int, default=field_default(SampleSettings, "n"))
    sa.add_argument("--method", choices=tuple(M.METHODS),
                    help=f"default: {M.DEFAULT_METHOD} with --reward (as in the dashboard), "
                         "conditional with --condition alone, else base")
    sa.add_argument("--reward", help="a preset name (see `rewards`) or a reward TOML file")
    gamma_options(sa)
    guidance_options(sa, "")
    sa.add_argument("--analogues-of", metavar="SMILES",
                    help="lead optimization: add a Tanimoto window 0.4-0.8 to this molecule to "
                         f"the reward, condition on its profile with the reward's goals put in, "
                         f"and keep the best of {M.ANALOGUE_CANDIDATES} candidates (unless "
                         "--method / --candidates say otherwise)")
    sa.add_argument("--condition", action="append", metavar="NAME=VALUE",
                    help="target property value (repeatable); properties left out are free")
    decoding_options(sa)
    sa.add_argument("--no-reference", action="store_true",
                    help="skip the base-model reference sample (no normalized score)")
    sa.add_argument("--out", type=str,   # str: a trailing slash asks for a library
                    help="output CSV (default: a new samples-DATE-TIME.csv here); DIR/ (a "
                         "trailing slash) writes a library of parquet shards instead")
    sa.add_argument("--shard-size", type=int, metavar="N",
                    help="library: molecules per parquet shard (default 10,000)")
    sa.add_argument("--resume", action="store_true",
                    help="library: continue the run in --out DIR/ (same command; no "
                         "molecule lost or repeated)")
    sa.add_argument("--dedupe", action="store_true",
                    help="library: also write DIR/unique/ without repeated InChIKeys")
    force_option(sa)
    sa.add_argument("--project", type=Path, metavar="DIR",
                    help="also store the run in this project folder (created if missing), "
                         "where the dashboard started with --project DIR lists it")
    sa.add_argument("--name", help="the run's name in the project (default: method, "
                                   "reward and settings)")
    diversity_options(sa)
    sa.set_defaults(func=run_sample)
