"""The checkpoint folder: `model.safetensors`, `config.json`, `prior_bank.parquet`.

Loading never unpickles: tensors come from safetensors, everything else from JSON and
parquet. Every problem raises CheckpointError naming the file and what is wrong.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from engine.chem.properties import PROPERTY_NAMES
from engine.errors import UserError
from engine.model.gpt import GPT, GPTConfig
from engine.model.tokenizer import SmilesTokenizer

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_CHECKPOINT = ASSETS / "model"
FORMAT_VERSION = 1
BANK_FILE, CONFIG_FILE, WEIGHTS_FILE = "prior_bank.parquet", "config.json", "model.safetensors"
MAX_PARAMETERS = 500_000_000   # far above any model here; refused before anything is allocated


class CheckpointError(UserError):
    """A checkpoint folder that is missing, corrupt or does not fit this code."""


@dataclass
class Checkpoint:
    """A loaded model with everything needed to sample and guide it."""

    model: GPT
    tokenizer: SmilesTokenizer
    prop_mean: np.ndarray           # (25,) normalization statistics
    prop_std: np.ndarray            # (25,)
    bank: pd.DataFrame              # prior bank: smiles + 25 property columns
    meta: dict = field(default_factory=dict)  # the whole config.json
    path: Path | None = None

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(self.meta.get("properties", PROPERTY_NAMES))

    def normalize(self, values: np.ndarray) -> np.ndarray:
        """(N, 25) raw property values -> z-scores with the training statistics."""
        return (values - self.prop_mean) / self.prop_std

    def bank_values(self) -> np.ndarray:
        """(N_bank, 25) raw property values of the prior bank."""
        return self.bank[list(PROPERTY_NAMES)].to_numpy(dtype=np.float64)

    def to(self, device) -> Checkpoint:
        self.model.to(device)
        return self


def save_checkpoint(path: Path, model: GPT, tokenizer: SmilesTokenizer, prop_mean, prop_std,
                    bank: pd.DataFrame, extra: dict | None = None, step: int | None = None,
                    stage: list[Path] | None = None) -> Path:
    """Write the checkpoint folder (files replaced atomically one by one). A training run
    passes `step`, recorded in the weights' metadata so a resume can tell which save the
    weights belong to, and `stage` to save a set of files at once (see `atomic_write`)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous()
             for k, v in model.state_dict().items() if k != "head.weight"}  # tied to tok_emb
    meta = {
        "format_version": FORMAT_VERSION,
        "model": model.cfg.to_dict(),
        "vocabulary": tokenizer.to_list(),
        "properties": list(PROPERTY_NAMES),
        "normalization": {"mean": [float(x) for x in prop_mean],
                          "std": [float(x) for x in prop_std]},
        **(extra or {}),
    }
    tag = None if step is None else {"step": str(step)}
    atomic_write(path / WEIGHTS_FILE, lambda p: save_file(state, str(p), metadata=tag), stage)
    atomic_write(path / CONFIG_FILE, lambda p: p.write_text(json.dumps(meta, indent=2)), stage)
    if bank is not None:
        atomic_write(path / BANK_FILE, lambda p: bank[["smiles", *PROPERTY_NAMES]]
                     .to_parquet(p, index=False), stage)
    return path


def update_meta(path: Path, **fields) -> dict:
    """Merge `fields` into a checkpoint's config.json (e.g. measured quality figures)."""
    meta = _read_meta(Path(path))
    meta.update(fields)
    atomic_write(Path(path) / CONFIG_FILE, lambda p: p.write_text(json.dumps(meta, indent=2)))
    return meta


STAGED = ".next"   # suffix of a file written but not yet put in place (`stage`)


def atomic_write(target: Path, write, stage: list[Path] | None = None) -> None:
    """Call `write(tmp)` on a temporary name beside `target`, then rename it over `target`:
    a reader sees the old file or the new one, never half of one. With `stage` (a list),
    the whole file is left beside `target` as `<name>.next` and `target` is added to
    `stage`: the caller puts a set of files in place together (`runfolder.save_run`)."""
    final = target.with_name(target.name + STAGED) if stage is not None else target
    tmp = target.with_name(target.name + ".tmp")
    write(tmp)
    tmp.replace(final)
    if stage is not None:
        stage.append(target)


def _read_meta(path: Path) -> dict:
    cfg = path / CONFIG_FILE
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint folder")
    if not cfg.is_file():
        raise CheckpointError(f"{path}: not a checkpoint folder (no {CONFIG_FILE})")
    try:
        meta = json.loads(cfg.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{cfg}: corrupt JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{cfg}: checkpoint format {meta.get('format_version')!r} is not "
                              f"the supported version {FORMAT_VERSION}")
    return meta


def load_checkpoint(path: Path | str | None = None, device="cpu",
                    require_bank: bool = True) -> Checkpoint:
    """Load a checkpoint folder (default: the shipped model); raises CheckpointError."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    meta = _read_meta(path)
    try:
        cfg = GPTConfig(**meta["model"])
        tokenizer = SmilesTokenizer(meta["vocabulary"])
        mean = np.asarray(meta["normalization"]["mean"], dtype=np.float64)
        std = np.asarray(meta["normalization"]["std"], dtype=np.float64)
        props = meta["properties"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: incomplete or invalid config ({exc})") from exc
    if list(props) != list(PROPERTY_NAMES):
        raise CheckpointError(f"{path}: trained on properties {props}, this code expects "
                              f"{list(PROPERTY_NAMES)}")
    if len(tokenizer) != cfg.vocab_size or {mean.shape, std.shape} != {(cfg.n_props,)}:
        raise CheckpointError(f"{path}: vocabulary or normalization does not match the model "
                              f"shape (vocab {len(tokenizer)} vs {cfg.vocab_size})")
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{path}: missing {WEIGHTS_FILE}")
    _check_shapes(weights, cfg)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt safetensors file ({exc})") from exc
    model = GPT(cfg)
    state["head.weight"] = state.get("tok_emb.weight")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{weights}: weights do not match config.json ({exc})") from exc
    model.eval().to(device)
    bank = _load_bank(path, require_bank)
    return Checkpoint(model, tokenizer, mean, std, bank, meta, path)


def _check_shapes(weights: Path, cfg: GPTConfig) -> None:
    """Compare the tensor sizes in the safetensors header (no tensor data is read) with the
    model config.json describes, built on the meta device (no memory): a crafted config
    is refused before the model is allocated."""
    with torch.device("meta"):
        shell = GPT(cfg)
    n_params = sum(p.numel() for p in shell.parameters())
    if n_params > MAX_PARAMETERS:
        raise CheckpointError(f"{weights.parent / CONFIG_FILE}: a model of {n_params:,} "
                              f"parameters; at most {MAX_PARAMETERS:,} are loaded")
    expected = {k: tuple(v.shape) for k, v in shell.state_dict().items() if k != "head.weight"}
    try:
        with safe_open(str(weights), framework="pt") as fh:
            found = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt safetensors file ({exc})") from exc
    wrong = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"{weights}: weights do not match config.json ({len(wrong)} "
                              f"tensors differ, e.g. {k}: {found.get(k)} in the file, "
                              f"{expected.get(k)} from the config)")


def _load_bank(path: Path, required: bool) -> pd.DataFrame:
    file = path / BANK_FILE
    if not file.is_file():
        if required:
            raise CheckpointError(f"{path}: missing the prior bank {BANK_FILE}")
        return pd.DataFrame(columns=["smiles", *PROPERTY_NAMES])
    try:
        bank = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise CheckpointError(f"{file}: corrupt parquet file ({exc})") from exc
    missing = [c for c in ("smiles", *PROPERTY_NAMES) if c not in bank.columns]
    if missing:
        raise CheckpointError(f"{file}: prior bank lacks columns {missing}")
    return bank
