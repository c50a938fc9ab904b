"""`data`, `train`, `distill` and `rl`: preparing a data set, pre-training the conditional
model, and the fine-tuning runs."""
from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.common import (DEFAULT_CACHE, decoding_option, field_default, from_args,
                               guidance_options)
from engine.sampling.methods import DECODING_FIELDS


def run_data(args) -> int:
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


def run_train(args) -> int:
    from engine.train.pretrain import TrainConfig, train  # noqa: PLC0415

    cfg = from_args(TrainConfig, args, data=str(args.data), out=str(args.out),
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


def run_finetune(args) -> int:
    from engine.chem.rewards import load_reward  # noqa: PLC0415
    from engine.train.finetune import FinetuneConfig, finetune  # noqa: PLC0415

    if args.threads:
        import torch  # noqa: PLC0415

        torch.set_num_threads(args.threads)
    cfg = from_args(FinetuneConfig, args, kind=args.verb,
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


# FinetuneConfig fields a run takes from its own arguments (--reward, --out, --checkpoint)
RUN_FIELDS = ("kind", "reward", "out", "checkpoint")
# the other fields, in the order `--help` lists their options; "guidance" is the block of
# GUIDANCE_FIELDS options shared with `sample` (tests/test_cli.py checks every field is here)
FINETUNE_OPTIONS = ("steps", "batch_size", "lr", "teacher", "gamma", "ys", "guidance",
                    "teacher_keep", "beta", "temperature", "top_p", "eval_every", "eval_n",
                    "save_every", "seed", "device")
FINETUNE_HELP = {
    "gamma": "teacher's gamma (distill; default: rcfg 1, tilted 16)",
    "teacher": "distillation teacher: rcfg, or tilted (reward-tilted conditioning, 1 row)",
    "ys": "teacher |Y_S| (distill)",
    "teacher_keep": "teacher molecules in the distillation loss: all (as docs/METHOD.md) or "
                    "only those RDKit parses (distill)",
    "beta": "KL weight (rl)",
    "eval_every": "score this many steps' policy samples (--eval-n of them)",
    "device": "auto (CUDA if present), cpu, cuda",
}


def finetune_options(ft, kind: str) -> None:
    """`distill` or `rl`: one option per FinetuneConfig field (FINETUNE_OPTIONS), with its
    default."""
    from engine.train.finetune import (DEFAULT_STEPS, TEACHER_KEEP, TEACHERS,  # noqa: PLC0415
                                       FinetuneConfig)

    ft.add_argument("--reward", required=True, help="preset key (see `rewards`) or .toml file")
    ft.add_argument("--out", type=Path, required=True, help="run folder to write")
    ft.add_argument("--checkpoint", type=Path,
                    help="start checkpoint (default: the shipped model)"
                    + ("; also the RCFG teacher" if kind == "distill" else
                       "; also the KL reference, e.g. a distilled run folder"))
    choices = {"teacher": TEACHERS, "teacher_keep": TEACHER_KEEP}
    for name in FINETUNE_OPTIONS:
        if name == "guidance":
            guidance_options(ft, "teacher's ", FinetuneConfig)
            continue
        flag = "--" + name.replace("_", "-")
        default = field_default(FinetuneConfig, name)
        if name in DECODING_FIELDS:
            decoding_option(ft, name, FinetuneConfig, help=FINETUNE_HELP.get(name, ""))
        elif name in choices:
            ft.add_argument(flag, choices=choices[name], default=default,
                            help=FINETUNE_HELP[name])
        else:
            ft.add_argument(flag, type=type(default),
                            default=DEFAULT_STEPS[kind] if name == "steps" else default,
                            help=FINETUNE_HELP.get(name))
    ft.add_argument("--resume", action="store_true", help="continue from --out's last save")
    ft.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: all cores)")
    ft.set_defaults(func=run_finetune)


def data_options(data) -> None:
    data.add_argument("--csv", type=Path, help="your CSV of SMILES (default: MOSES)")
    data.add_argument("--smiles-column", default="smiles")
    data.add_argument("--split", default="train", help="MOSES split: train or test")
    data.add_argument("--limit", type=int, help="score a seeded random subset of this size")
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--jobs", type=int, help="processes for scoring (default: all cores)")
    data.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE / "moses")
    data.add_argument("--out", type=Path, required=True, help="output folder")
    data.set_defaults(func=run_data)


def train_options(tr) -> None:
    from engine.train.pretrain import TrainConfig  # noqa: PLC0415

    tr.add_argument("--data", type=Path, required=True, help="folder written by `data`")
    tr.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    # option -> TrainConfig field; the learning rate decays to a tenth of --lr
    for flag, name in (("--steps", "max_steps"), ("--batch-size", "batch_size"), ("--lr", "lr"),
                       ("--warmup", "warmup_steps"), ("--eval-every", "eval_every"),
                       ("--n-layer", "n_layer"), ("--n-head", "n_head"),
                       ("--d-model", "d_model"), ("--n-prefix", "n_prefix"),
                       ("--bank-size", "bank_size")):
        default = field_default(TrainConfig, name)
        tr.add_argument(flag, dest=name, metavar=flag[2:].replace("-", "_").upper(),
                        type=type(default), default=default)
    tr.add_argument("--max-minutes", type=float, help="stop and save after this wall time")
    tr.add_argument("--seed", type=int, default=field_default(TrainConfig, "seed"))
    tr.add_argument("--device", default=field_default(TrainConfig, "device"),
                    help="auto (CUDA if present), cpu, cuda, cuda:1")
    tr.add_argument("--resume", action="store_true", help="continue from --out's last save")
    tr.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: all cores)")
    tr.set_defaults(func=run_train)
