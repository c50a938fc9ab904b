"""`python -m engine <verb>` (or `rcfg-studio <verb>`): every dashboard action has a
command-line twin."""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, fields
from functools import partial
from pathlib import Path

from engine.errors import UserError
from engine.output import check_output, timestamped, write_csv
from engine.sampling import methods as M

DEFAULT_CACHE = Path.home() / ".cache" / "rcfg-studio"
LOW_VALIDITY = 0.5   # below this share of valid molecules, `sample` warns


class UsageError(UserError):
    """Bad command-line input, reported as one line without a traceback."""


def _from_args(cls, args, **given):
    """A settings dataclass from the parsed options named like its fields, plus `given`
    (fields the command works out itself); fields with neither keep their defaults."""
    taken = {f.name: getattr(args, f.name) for f in fields(cls)
             if f.name not in given and hasattr(args, f.name)}
    return cls(**taken, **given)


def _default(cls, name: str):
    """The default of field `name` of a settings dataclass (what an option defaults to)."""
    return next(f.default for f in fields(cls) if f.name == name)


def _cmd_data(args) -> int:
    from engine.train.data import prepare_dataset, read_moses, read_smiles_csv  # noqa: PLC0415

    if args.csv:
        smiles = read_smiles_csv(args.csv, args.smiles_column)
        source = f"csv:{args.csv}"
    else:
        smiles = read_moses(args.split, args.cache_dir)
        source = f"moses:{args.split}"
    print(f"read {len(smiles):,} SMILES from {source}", file=sys.stderr)
    _, report = prepare_dataset(smiles, args.out, source, limit=args.limit, seed=args.seed,
                                n_jobs=args.jobs)
    print(report.summary())
    print(f"wrote {Path(args.out) / 'molecules.parquet'}")
    return 0


def _cmd_train(args) -> int:
    from engine.train.pretrain import TrainConfig, train  # noqa: PLC0415

    cfg = _from_args(TrainConfig, args, data=str(args.data), out=str(args.out),
                     min_lr=args.lr / 10)
    if args.threads:
        import torch  # noqa: PLC0415

        torch.set_num_threads(args.threads)
    history = train(cfg, resume=args.resume)
    if history and history[-1]["val_loss"] is not None:  # only rank 0 evaluates
        last = history[-1]
        print(f"step {last['step']}: train loss {last['loss']:.4f}, "
              f"val loss {last['val_loss']:.4f}; checkpoint in {args.out}")
    return 0


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


def _cmd_sample(args) -> int:
    from engine.chem.alerts import alert_rates, with_alerts  # noqa: PLC0415
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.model.checkpoint import load_checkpoint  # noqa: PLC0415
    from engine.bench.cost import standing  # noqa: PLC0415
    from engine.project import Project, run_name  # noqa: PLC0415
    from engine.sampling.compare import sample_base  # noqa: PLC0415
    from engine.sampling.sampler import SampleSettings, outside_bank, sample  # noqa: PLC0415

    target = _parse_conditions(args.condition)
    method = args.method or ("conditional" if target and args.reward is None else
                             M.DEFAULT_METHOD if args.reward else "base")
    if args.reward is None and M.METHODS[method].reward == "yes":
        raise UsageError(f"--method {method} needs --reward FILE_OR_PRESET")
    if args.reward is None and (args.candidates or 1) > 1:
        raise UsageError("--candidates needs --reward FILE_OR_PRESET to rank the candidates")
    if method == "conditional" and not target and args.reward is None:
        raise UsageError("--method conditional needs --condition NAME=VALUE or --reward")
    reward = load_reward(args.reward) if args.reward else None
    _check_reference_columns(reward, args)
    settings = _from_args(SampleSettings, args, method=method, target=target or None)
    for line in _term_lines(reward, settings):
        print(line, file=sys.stderr)
    out = check_output(args.out or timestamped("samples"), args.force)   # before any work
    project = Project.open(args.project) if args.project else None   # refused before work
    ckpt = load_checkpoint(args.checkpoint)
    for line in outside_bank(ckpt, target):
        print(f"warning: {line}", file=sys.stderr)
    base_mean = None
    if (method != "base" or settings.candidates > 1) and args.reward and not args.no_reference:
        ref = sample_base(ckpt, reward, settings, progress=_bar("base reference"))
        base_mean = ref.summary["mean_reward"]
    result = sample(ckpt, reward, settings, progress=_bar(method), base_mean_reward=base_mean)
    frame = _diversity_columns(with_alerts(result.molecules),
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
    print(_summary_line(result.summary, bool(args.reward)))
    print(_cost_line(result.summary))
    if reward is not None and (note := standing(settings)):
        print(note)
    if result.summary["validity"] < LOW_VALIDITY:
        print(f"warning: only {result.summary['validity']:.0%} of the molecules are valid; "
              "the guidance may be too strong (--gamma) or the conditions too far from the "
              "training data", file=sys.stderr)
    print(_alert_line(alert_rates(frame),
                      alert_rates(with_alerts(ref.molecules)) if base_mean is not None else None))
    print(f"wrote {len(frame)} molecules to {out}")
    if project is not None:
        print(f"stored as run #{record.number} ({record.name!r}, molecule IDs "
              f"{record.id}:<row>) in project {project.path}")
    return 0


def _check_reference_columns(reward, args) -> None:
    """--reference writes `similarity` and `nearest_reference`: refuse it when the reward's
    own similarity term writes them."""
    if reward is not None and args.reference and (
            {"similarity", "nearest_reference"} & set(reward.columns)):
        raise UsageError("--reference writes the columns similarity and nearest_reference, "
                         "which the reward's similarity term already writes; give that term "
                         "another name (name = \"lead_similarity\") or leave out --reference")


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


def _alert_line(rates: dict, base: dict | None) -> str:
    """Alert and flag rates over valid molecules, with the base sample's beside them."""
    from engine.chem.alerts import FAMILY_LABELS  # noqa: PLC0415

    if rates["any_alert"] is None:
        return "alerts: no valid molecule"

    def pct(key: str) -> str:
        shown = f"{rates[key]:.1%}"
        return shown if base is None or base[key] is None else f"{shown} (base {base[key]:.1%})"

    parts = [f"PAINS/Brenk/NIH alert {pct('any_alert')}", f"any flag {pct('any_flag')}"]
    parts += [f"{FAMILY_LABELS[c]} {pct(c)}" for c in FAMILY_LABELS]
    return "share of valid molecules with: " + ", ".join(parts)


def _bar(label: str):
    from tqdm import tqdm  # noqa: PLC0415

    state = {}

    def update(done: int, total: int):
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=f"sampling ({label})", unit="mol",
                                      file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _cmd_score(args) -> int:
    from engine.chem import alerts  # noqa: PLC0415
    from engine.chem.properties import (PROPERTY_NAMES, batch_properties,  # noqa: PLC0415
                                        invalid_reason, largest_fragment)
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.train.data import read_smiles_table  # noqa: PLC0415

    reward = load_reward(args.reward)
    _check_reference_columns(reward, args)
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
    scored = _diversity_columns(scored, smiles, args).assign(**{column: given})
    write_csv(scored, args.out)
    print(f"{reward.name}: {len(scored):,} molecules, {int(scored['valid'].sum()):,} valid, "
          f"mean reward {scored['reward'].mean() if len(scored) else 0.0:.3f} "
          f"(invalid = 0); wrote {args.out}")
    print(_alert_line(alerts.alert_rates(scored), None))
    return 0


def _reference_smiles(items: list[str]) -> list[str]:
    """SMILES given on the command line, or read from the files named there."""
    from engine.chem.molfile import read_molecules  # noqa: PLC0415

    out = []
    for item in items:
        path = Path(item)
        if path.suffix and path.is_file():
            good, bad = read_molecules(path.read_bytes(), path.name)
            if len(bad):
                rows = ", ".join(str(r) for r in bad["row"])
                raise UsageError(f"--reference {item}: records {rows} are not valid molecules")
            out += good["smiles"].tolist()
        else:
            out.append(item)
    return out


def _diversity_columns(frame, smiles: list[str], args):
    """The scaffold column, and what --reference, --cluster and --pick ask for."""
    import pandas as pd  # noqa: PLC0415

    from engine.chem import diversity  # noqa: PLC0415

    frame = frame.assign(scaffold=[diversity.murcko_scaffold(s) for s in smiles])
    if args.reference:
        near = diversity.reference_similarity(smiles, _reference_smiles(args.reference))
        frame = frame.assign(similarity=near["similarity"].to_numpy(),
                             nearest_reference=near["nearest_reference"].to_numpy())
    if args.cluster is not None:
        clusters = diversity.butina_clusters(smiles, args.cluster)
        frame = frame.assign(cluster=pd.array(clusters, dtype="Int64"))
    if args.pick is not None:
        order = [None] * len(smiles)
        for rank, i in enumerate(diversity.pick_diverse(smiles, args.pick), start=1):
            order[i] = rank
        frame = frame.assign(diverse_pick=pd.array(order, dtype="Int64"))
    return frame


def _cmd_finetune(args) -> int:
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.train.finetune import FinetuneConfig, finetune  # noqa: PLC0415

    if args.threads:
        import torch  # noqa: PLC0415

        torch.set_num_threads(args.threads)
    cfg = _from_args(FinetuneConfig, args, kind=args.verb,
                     reward=load_reward(args.reward).to_dict(), out=str(args.out),
                     checkpoint=str(args.checkpoint or ""))
    history = finetune(cfg, resume=args.resume)
    first = next(h for h in history if "eval_reward" in h)
    last = [h for h in history if "eval_reward" in h][-1]
    print(f"{args.verb}: step {history[-1]['step']}; mean reward of {cfg.eval_n} unconditional "
          f"samples {first['eval_reward']:.3f} (step {first['step']}) -> "
          f"{last['eval_reward']:.3f} (step {last['step']}), validity "
          f"{last['eval_validity']:.3f}; checkpoint in {args.out}")
    return 0


# FinetuneConfig fields a run takes from its own arguments, and the options' help texts
_RUN_FIELDS = ("kind", "reward", "out", "checkpoint")
_FINETUNE_HELP = {
    "gamma": "teacher's gamma (distill; default: rcfg 1, tilted 16)",
    "teacher": "distillation teacher: rcfg, or tilted (reward-tilted conditioning, 1 row)",
    "ys": "teacher |Y_S| (distill)",
    "teacher_keep": "teacher molecules in the distillation loss: all (as docs/METHOD.md) or "
                    "only those RDKit parses (distill)",
    "beta": "KL weight (rl)",
    "eval_every": "score this many steps' policy samples (--eval-n of them)",
    "device": "auto (CUDA if present), cpu, cuda",
}


def _finetune_options(ft, kind: str) -> None:
    """`distill` or `rl`: one option per FinetuneConfig field, with its default."""
    from engine.train.finetune import (DEFAULT_STEPS, TEACHER_KEEP, TEACHERS,  # noqa: PLC0415
                                       FinetuneConfig)

    ft.add_argument("--reward", required=True, help="preset key (see `rewards`) or .toml file")
    ft.add_argument("--out", type=Path, required=True, help="run folder to write")
    ft.add_argument("--checkpoint", type=Path,
                    help="start checkpoint (default: the shipped model)"
                    + ("; also the RCFG teacher" if kind == "distill" else
                       "; also the KL reference, e.g. a distilled run folder"))
    for f in fields(FinetuneConfig):
        if f.name in _RUN_FIELDS or f.name in GUIDANCE_FIELDS[1:]:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.name == GUIDANCE_FIELDS[0]:  # the guidance options, as one block
            _guidance_options(ft, "teacher's ")
        elif f.name in ("teacher_keep", "teacher"):
            ft.add_argument(flag, choices=TEACHER_KEEP if f.name == "teacher_keep" else TEACHERS,
                            default=f.default, help=_FINETUNE_HELP[f.name])
        elif f.name == "gamma":
            ft.add_argument(flag, type=float, default=None, help=_FINETUNE_HELP[f.name])
        else:
            ft.add_argument(flag, type=type(f.default),
                            default=DEFAULT_STEPS[kind] if f.name == "steps" else f.default,
                            help=_FINETUNE_HELP.get(f.name))
    ft.add_argument("--resume", action="store_true", help="continue from --out's last save")
    ft.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: all cores)")
    ft.set_defaults(func=_cmd_finetune)


def _cmd_tradeoff(args) -> int:
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.model.checkpoint import load_checkpoint  # noqa: PLC0415
    from engine.sampling.sampler import SampleSettings  # noqa: PLC0415
    from engine.sampling.tradeoff import (reward_pair, term_pair, tradeoff,  # noqa: PLC0415
                                          weightings)

    if args.reward is not None and args.terms is None:
        raise UsageError("--reward needs --terms A B: the properties of two of its terms, "
                         "e.g. --terms tpsa logp")
    if args.rewards is not None and args.terms is not None:
        raise UsageError("--terms goes with --reward (two terms of one reward); --rewards A B "
                         "compares two whole rewards")
    pair = (term_pair(load_reward(args.reward), *args.terms) if args.reward is not None
            else reward_pair(*map(load_reward, args.rewards)))
    settings = _from_args(SampleSettings, args, candidates=1)
    out = check_output(args.out or timestamped("tradeoff"), args.force)   # before any work
    result = tradeoff(load_checkpoint(args.checkpoint), pair, settings,
                      weightings(args.weightings), progress=_bar(f"trade-off, {args.method}"))
    write_csv(result.molecules, out)
    print(f"A = {pair.a.name}, B = {pair.b.name}; desirabilities are means over valid "
          "molecules ± standard error")
    for row in result.front.itertuples():
        print(f"w(A) {row.weighting:.2f}: validity {row.validity:.3f}, mean reward "
              f"{row.mean_reward:.3f}, A {row.mean_a:.3f} ± {row.se_a:.3f}, "
              f"B {row.mean_b:.3f} ± {row.se_b:.3f}  [{row.steering}]")
    s = result.summary
    batches = "one batch" if s["batches"] == 1 else f"{s['batches']} batches"
    print(f"wrote {len(result.molecules)} molecules to {out} ({s['wall_time_s']:.1f} s "
          f"on {s['device']}, {batches} for {args.weightings} weightings)")
    return 0


def _cmd_rewards(args) -> int:
    from engine.chem.rewards import PRESET_DIR, list_presets  # noqa: PLC0415

    presets = list_presets()
    width = max((len(r.key) for r in presets), default=3)
    print(f"{'key':<{width}}  {'support':<7}  name: description")
    for r in presets:
        support = "OUT" if r.out_of_support else "in"
        print(f"{r.key:<{width}}  {support:<7}  {r.name}: {r.description}")
    print(f"{len(presets)} presets in {PRESET_DIR}; use a key or a .toml path with --reward")
    return 0


# the settings `_guidance_options` adds, shared by sampling and the distillation teacher
GUIDANCE_FIELDS = ("advantage", "plausibility", "grammar", "ring_check")


def _guidance_options(parser, whose: str) -> None:
    parser.add_argument("--advantage", choices=M.ADVANTAGES, default=M.DEFAULT_ADVANTAGE,
                        help=f"{whose}RCFG advantage rule: z-scores of the Y_S rewards, or "
                             "relative (r - mean) / mean (docs/METHOD.md)")
    parser.add_argument("--plausibility", type=float, default=M.DEFAULT_PLAUSIBILITY,
                        metavar="ALPHA", help=f"{whose}plausibility constraint for guided "
                        "methods: keep tokens the base model gives at least ALPHA x its top "
                        "token's probability (0 = off)")
    parser.add_argument("--no-grammar", dest="grammar", action="store_false",
                        help="turn off grammar-safe decoding, ring checks included (for "
                             "measurement)")
    parser.add_argument("--no-ring-check", dest="ring_check", action="store_false",
                        help="keep the grammar but let ring closures through that RDKit "
                             "cannot kekulize or that overfill an atom (for measurement)")


def _gamma_options(parser, candidates: bool = True) -> None:
    gammas = ", ".join(f"{k} {m.default_gamma:g}" for k, m in M.METHODS.items() if m.uses_gamma)
    low, high = M.GAMMA_RANGE
    parser.add_argument("--gamma", type=float, help=f"how greedy, {low:g}..{high:g} "
                        f"(default per method: {gammas})")
    parser.add_argument("--ys", type=int, default=M.DEFAULT_YS,
                        help="|Y_S| (K) of RCFG and Q-tilt, 2..64")
    if candidates:
        parser.add_argument("--candidates", type=int, metavar="M",
                            help="decode M candidates per molecule and keep the best by the "
                                 f"reward, no molecule twice (1..{M.MAX_CANDIDATES}; default "
                                 f"{M.METHODS[M.DEFAULT_METHOD].default_candidates} for "
                                 f"{M.DEFAULT_METHOD}, 1 for the others; best-of-N is "
                                 "--method base --candidates N)")


def _decoding_options(parser) -> None:
    """The sampling options that `sample` and `tradeoff` share, besides the guidance ones."""
    parser.add_argument("--q-weights", choices=M.Q_WEIGHTS, default=M.DEFAULT_Q_WEIGHTS,
                        help="Q-tilt branch weights: the running posterior, or uniform (the "
                             "exact-prior estimate)")
    parser.add_argument("--temperature", type=float, default=M.DEFAULT_TEMPERATURE)
    parser.add_argument("--top-p", type=float, default=M.DEFAULT_TOP_P)
    from engine.sampling.sampler import PRECISIONS, SampleSettings  # noqa: PLC0415

    parser.add_argument("--seed", type=int, default=_default(SampleSettings, "seed"))
    parser.add_argument("--first-chunk", type=int, metavar="N",
                        default=_default(SampleSettings, "first_chunk"),
                        help="decode the first N molecules on their own (0 = none); the "
                             "dashboard uses 32, so a seed gives its molecules with 32 here")
    parser.add_argument("--device", default=_default(SampleSettings, "device"),
                        help="auto (CUDA if present), cpu, cuda")
    parser.add_argument("--precision", choices=tuple(PRECISIONS),
                        default=_default(SampleSettings, "precision"),
                        help="network precision on CUDA (guidance is always fp32)")
    parser.add_argument("--checkpoint", type=Path,
                        help="checkpoint folder (default: the shipped one)")


def _data_options(data) -> None:
    data.add_argument("--csv", type=Path, help="your CSV of SMILES (default: MOSES)")
    data.add_argument("--smiles-column", default="smiles")
    data.add_argument("--split", default="train", help="MOSES split: train or test")
    data.add_argument("--limit", type=int, help="score a seeded random subset of this size")
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--jobs", type=int, help="processes for scoring (default: all cores)")
    data.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE / "moses")
    data.add_argument("--out", type=Path, required=True, help="output folder")
    data.set_defaults(func=_cmd_data)


def _train_options(tr) -> None:
    from engine.train.pretrain import TrainConfig  # noqa: PLC0415

    tr.add_argument("--data", type=Path, required=True, help="folder written by `data`")
    tr.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    # option -> TrainConfig field; the learning rate decays to a tenth of --lr
    for flag, name in (("--steps", "max_steps"), ("--batch-size", "batch_size"), ("--lr", "lr"),
                       ("--warmup", "warmup_steps"), ("--eval-every", "eval_every"),
                       ("--n-layer", "n_layer"), ("--n-head", "n_head"),
                       ("--d-model", "d_model"), ("--n-prefix", "n_prefix"),
                       ("--bank-size", "bank_size")):
        default = _default(TrainConfig, name)
        tr.add_argument(flag, dest=name, metavar=flag[2:].replace("-", "_").upper(),
                        type=type(default), default=default)
    tr.add_argument("--max-minutes", type=float, help="stop and save after this wall time")
    tr.add_argument("--seed", type=int, default=_default(TrainConfig, "seed"))
    tr.add_argument("--device", default=_default(TrainConfig, "device"),
                    help="auto (CUDA if present), cpu, cuda, cuda:1")
    tr.add_argument("--resume", action="store_true", help="continue from --out's last save")
    tr.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: all cores)")
    tr.set_defaults(func=_cmd_train)


def _sample_options(sa) -> None:
    sa.add_argument("--n", type=int, default=100)
    sa.add_argument("--method", choices=tuple(M.METHODS),
                    help=f"default: {M.DEFAULT_METHOD} with --reward (as in the dashboard), "
                         "conditional with --condition alone, else base")
    sa.add_argument("--reward", help="a preset name (see `rewards`) or a reward TOML file")
    _gamma_options(sa)
    _guidance_options(sa, "")
    sa.add_argument("--condition", action="append", metavar="NAME=VALUE",
                    help="target property value (repeatable); properties left out are free")
    _decoding_options(sa)
    sa.add_argument("--no-reference", action="store_true",
                    help="skip the base-model reference sample (no normalized score)")
    sa.add_argument("--out", type=Path,
                    help="output CSV (default: a new samples-DATE-TIME.csv here)")
    _force_option(sa)
    sa.add_argument("--project", type=Path, metavar="DIR",
                    help="also store the run in this project folder (created if missing), "
                         "where the dashboard started with --project DIR lists it")
    sa.add_argument("--name", help="the run's name in the project (default: method, "
                                   "reward and settings)")
    _diversity_options(sa)
    sa.set_defaults(func=_cmd_sample)


def _score_options(sc) -> None:
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
    _force_option(sc)
    _diversity_options(sc)
    sc.set_defaults(func=_cmd_score)


def _force_option(parser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace --out when it exists (refused otherwise)")


def _diversity_options(parser) -> None:
    """What `sample` and `score` add after the alert columns (see _diversity_columns)."""
    parser.add_argument("--reference", action="append", metavar="SMILES_OR_FILE",
                        help="reference molecule(s), repeatable: a SMILES, or a .smi, .csv or "
                             ".sdf file; adds similarity (max Tanimoto, Morgan r2, 2048 bits) "
                             "and nearest_reference")
    parser.add_argument("--cluster", type=float, metavar="DISTANCE",
                        help="add a Butina `cluster` column at this Tanimoto distance cutoff "
                             "(0 = largest cluster), e.g. 0.6")
    parser.add_argument("--pick", type=int, metavar="N",
                        help="add `diverse_pick`: the order in which RDKit MaxMin picks N "
                             "diverse valid molecules (blank for the others)")


def _tradeoff_options(to) -> None:
    pick = to.add_mutually_exclusive_group(required=True)
    pick.add_argument("--reward", help="preset key or .toml file whose --terms are traded off")
    pick.add_argument("--rewards", nargs=2, metavar=("A", "B"),
                      help="two rewards (preset keys or .toml files) traded off as "
                           "w r_A + (1 - w) r_B")
    to.add_argument("--terms", nargs=2, metavar=("A", "B"),
                    help="with --reward: two of its terms' properties, e.g. tpsa logp")
    to.add_argument("--weightings", type=int, default=5,
                    help="weightings from all-A to all-B (5: w = 1, 0.75, 0.5, 0.25, 0 on A)")
    to.add_argument("--n", type=int, default=100, help="molecules per weighting")
    to.add_argument("--method", choices=[k for k, m in M.METHODS.items() if m.rows != "null"],
                    default=M.DEFAULT_METHOD, help="a method whose molecules depend on the "
                    "reward")
    _gamma_options(to, candidates=False)
    _guidance_options(to, "")
    _decoding_options(to)
    to.add_argument("--out", type=Path,
                    help="one row per molecule, with its `weighting` (the weight on A); "
                         "default: a new tradeoff-DATE-TIME.csv here")
    _force_option(to)
    to.set_defaults(func=_cmd_tradeoff)


def _rewards_options(rw) -> None:
    rw.set_defaults(func=_cmd_rewards)


# verb -> (help line, what adds its options), in the order `--help` lists them
VERBS = {
    "data": ("prepare MOSES or your own CSV of SMILES", _data_options),
    "train": ("train the conditional GPT on a prepared data folder", _train_options),
    "sample": ("sample molecules (optionally guided by a reward)", _sample_options),
    "score": ("score a CSV of SMILES with a reward", _score_options),
    "distill": ("distill the RCFG teacher for a reward into the unconditional branch",
                partial(_finetune_options, kind="distill")),
    "rl": ("RL fine-tuning of the unconditional branch for a reward",
           partial(_finetune_options, kind="rl")),
    "tradeoff": ("sample weightings between two terms of a reward (or two rewards) in one "
                 "batch and print the front", _tradeoff_options),
    "rewards": ("list the reward presets", _rewards_options),
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The command line. Given `verb`, only that verb gets its options (the others keep
    their help line): options read the settings classes' defaults, and those modules
    import torch, which `rewards` or `score` do not need."""
    prog = "rcfg-studio" if Path(sys.argv[0]).name == "rcfg-studio" else "python -m engine"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    for name, (help_text, add_options) in VERBS.items():
        sub = verbs.add_parser(name, help=help_text)
        if verb not in VERBS or name == verb:
            add_options(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verb = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(verb).parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
