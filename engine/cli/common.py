"""What the verbs share: the usage error, settings dataclasses from parsed options, the
progress bar, and the option groups several verbs take (decoding, guidance, output, the
diversity columns and the alert line)."""
from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from engine.errors import UserError
from engine.sampling import methods as M

DEFAULT_CACHE = Path.home() / ".cache" / "rcfg-studio"


class UsageError(UserError):
    """Bad command-line input, reported as one line without a traceback."""


def from_args(cls, args, **given):
    """A settings dataclass from the parsed options named like its fields, plus `given`
    (fields the command works out itself); fields with neither keep their defaults."""
    taken = {f.name: getattr(args, f.name) for f in fields(cls)
             if f.name not in given and hasattr(args, f.name)}
    return cls(**taken, **given)


def field_default(cls, name: str):
    """The default of field `name` of a settings dataclass (what an option defaults to)."""
    return next(f.default for f in fields(cls) if f.name == name)


def progress_bar(label: str, verb: str = "sampling", resumable: bool = False):
    """`update(done, total)` for a long job: a bar of molecules with molecules/s and the
    ETA on stderr (`total` None: no ETA). With `resumable`, the first call's `done` is
    work done before (shards of a resumed library): the bar starts there and the rate
    counts this run's work only."""
    from tqdm import tqdm  # noqa: PLC0415

    state = {}

    def update(done: int, total: int | None):
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, initial=done if resumable else 0,
                                      desc=f"{verb} ({label})",
                                      unit="mol", file=sys.stderr)
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    return update


# the settings `guidance_options` adds, shared by sampling and the distillation teacher
GUIDANCE_FIELDS = ("advantage", "plausibility", "grammar", "ring_check")


def decoding_option(parser, name: str, cls=M.Decoding, whose: str = "",
                    help: str | None = None) -> None:
    """The option of the decoding field `name` (`methods.Decoding`), generated from the
    field: its flag (`--top-p`, or a bool field's `--no-...` switch), type, choices,
    metavar and help from the field's metadata ("{whose}" filled in; `help` replaces
    it), and the default of that field in `cls` (a FinetuneConfig draws untruncated)."""
    spec = {f.name: f for f in fields(M.Decoding)}[name]
    meta = spec.metadata
    text = (meta["help"] if help is None else help).format(whose=whose) or None
    default = field_default(cls, name)
    if isinstance(default, bool):
        parser.add_argument(meta["flag"], dest=name, action="store_false" if default
                            else "store_true", help=text)
        return
    kind = {"gamma": float}.get(name, type(default))   # gamma's default None: the method's
    extra = {k: meta[k] for k in ("choices", "metavar") if k in meta}
    if "choices" not in extra:
        extra["type"] = kind
    parser.add_argument("--" + name.replace("_", "-"), default=default, help=text, **extra)


def guidance_options(parser, whose: str, cls=M.Decoding) -> None:
    for name in GUIDANCE_FIELDS:
        decoding_option(parser, name, cls, whose=whose)


def gamma_options(parser, candidates: bool = True) -> None:
    decoding_option(parser, "gamma")
    decoding_option(parser, "ys")
    if candidates:
        parser.add_argument("--candidates", type=int, metavar="M",
                            help="decode M candidates per molecule and keep the best by the "
                                 f"reward, no molecule twice (1..{M.MAX_CANDIDATES}; default "
                                 f"{M.METHODS[M.DEFAULT_METHOD].default_candidates} for "
                                 f"{M.DEFAULT_METHOD}, 1 for the others; best-of-N is "
                                 "--method base --candidates N)")


def decoding_options(parser) -> None:
    """The sampling options that `sample` and `tradeoff` share, besides the guidance ones."""
    for name in ("q_weights", "temperature", "top_p"):
        decoding_option(parser, name)
    from engine.sampling.sampler import PRECISIONS, SampleSettings  # noqa: PLC0415

    parser.add_argument("--seed", type=int, default=field_default(SampleSettings, "seed"))
    parser.add_argument("--first-chunk", type=int, metavar="N",
                        default=field_default(SampleSettings, "first_chunk"),
                        help="decode the first N molecules on their own (0 = none); the "
                             "dashboard uses 32, so a seed gives its molecules with 32 here")
    parser.add_argument("--device", default=field_default(SampleSettings, "device"),
                        help="auto (CUDA if present), cpu, cuda")
    parser.add_argument("--precision", choices=tuple(PRECISIONS),
                        default=field_default(SampleSettings, "precision"),
                        help="network precision on CUDA (guidance is always fp32)")
    parser.add_argument("--checkpoint", type=Path,
                        help="checkpoint folder (default: the shipped one)")


def force_option(parser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace --out when it exists (refused otherwise)")


def diversity_options(parser) -> None:
    """What `sample` and `score` add after the alert columns and the scaffold (see
    diversity_columns)."""
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


def check_reward(reward, args) -> None:
    """Before any work: a warning on stderr for each term of `reward` no molecule can fully
    meet (`Reward.unreachable`: a bound beyond what its property can take); --reference
    writes `similarity` and `nearest_reference`: refuse it when the reward's own similarity
    term writes them."""
    for line in reward.unreachable() if reward is not None else []:
        print(f"warning: {line}", file=sys.stderr)
    if reward is not None and args.reference and (
            {"similarity", "nearest_reference"} & set(reward.columns)):
        raise UsageError("--reference writes the columns similarity and nearest_reference, "
                         "which the reward's similarity term already writes; give that term "
                         "another name (name = \"lead_similarity\") or leave out --reference")


def reference_smiles(items: list[str]) -> list[str]:
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


def diversity_columns(frame, smiles: list[str], args):
    """What --reference, --cluster and --pick ask for."""
    import pandas as pd  # noqa: PLC0415

    from engine.chem import diversity  # noqa: PLC0415

    if args.reference:
        near = diversity.reference_similarity(smiles, reference_smiles(args.reference))
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


def alert_line(rates: dict, base: dict | None) -> str:
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
