"""`sample`: every method through the one batched decoder, with scored results."""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from engine.chem.properties import PROPERTY_NAMES
from engine.chem.scoring import score_candidates, score_molecules, select_candidates, summarize
from engine.device import cpu_seconds, pick_device
from engine.sampling import guidance
from engine.sampling import methods as M
from engine.sampling.methods import SamplingError
from engine.model.likelihood import base_log_likelihood
from engine.sampling.decoder import DecodePlan, decode
from engine.sampling.grammar import SmilesGrammar

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
FIRST_CHUNK = 32   # the dashboard's first chunk: its first molecules show in about a second
SETTING_COLUMNS = ("method", "gamma", "ys", "candidates", "advantage", "plausibility", "q_weights",
                   "grammar", "ring_check", "temperature", "top_p", "seed")


def check_candidates(candidates) -> None:
    """Candidates per output molecule (selection), 1..MAX_CANDIDATES."""
    if (isinstance(candidates, bool) or not isinstance(candidates, int)
            or not 1 <= candidates <= M.MAX_CANDIDATES):
        raise SamplingError(f"candidates per molecule must be an integer from 1 (no "
                            f"selection) to {M.MAX_CANDIDATES}, got {candidates!r}")


@dataclass(frozen=True, kw_only=True)
class SampleSettings(M.Decoding):
    """One sampling request: how tokens are drawn (`methods.Decoding`: gamma, |Y_S|,
    temperature, top-p, the guidance knobs, the grammar) plus what is asked for and how it
    runs. `gamma` and `candidates` left as None take the method's own defaults
    (engine/sampling/methods.py): what the table says for that method."""

    method: str = M.DEFAULT_METHOD
    n: int = 100                        # output molecules (the dashboard asks DASHBOARD_N)
    # molecules decoded per output molecule, the best by the reward kept (1 = no selection;
    # the base model with N candidates is best-of-N); None: the method's default
    candidates: int | None = None
    seed: int = 0
    device: str = "auto"
    target: dict[str, float] | None = None   # replaces y* for conditional / cfg
    max_rows: int = 8192                # forward rows per chunk (halved on CUDA OOM)
    # molecules decoded on their own first (0 = none): a small first chunk finishes early,
    # so a caller can show molecules within seconds (the dashboard uses FIRST_CHUNK); the
    # chunking is part of what a seed reproduces
    first_chunk: int = 0
    precision: str = "fp32"             # "bf16" / "fp16" autocast the network on CUDA

    def __post_init__(self):
        if self.method not in M.METHODS:
            raise SamplingError(f"unknown method {self.method!r}; allowed: "
                                f"{', '.join(M.METHODS)}")
        spec = M.METHODS[self.method]
        if self.gamma is None:
            object.__setattr__(self, "gamma", spec.default_gamma)
        if self.candidates is None:
            object.__setattr__(self, "candidates", spec.default_candidates)
        super().__post_init__()
        check_candidates(self.candidates)
        if not isinstance(self.n, int) or self.n < 1:
            raise SamplingError(f"n must be a positive integer, got {self.n!r}")
        if self.precision not in PRECISIONS:
            raise SamplingError(f"unknown precision {self.precision!r}; allowed: "
                                f"{', '.join(PRECISIONS)}")
        if self.max_rows < 1:
            raise SamplingError(f"max_rows must be >= 1, got {self.max_rows}")
        if not isinstance(self.first_chunk, int) or self.first_chunk < 0:
            raise SamplingError(f"first_chunk must be an integer >= 0 (0 = none), got "
                                f"{self.first_chunk!r}")
        if self.target is not None:
            unknown = sorted(set(self.target) - set(PROPERTY_NAMES))
            if unknown:
                raise SamplingError(f"unknown target properties {unknown}; allowed: "
                                    f"{', '.join(PROPERTY_NAMES)}")
            bad = {k: v for k, v in self.target.items() if not math.isfinite(float(v))}
            if bad:
                raise SamplingError(f"target values must be finite numbers, got {bad}")

    @classmethod
    def from_stored(cls, settings: dict) -> SampleSettings:
        """Settings as a project stored them (unknown keys left out, former method names
        translated by `methods.from_stored`)."""
        settings = M.from_stored(settings)
        return cls(**{k: v for k, v in settings.items() if k in cls.__dataclass_fields__})

    @property
    def spec(self) -> M.Method:
        return M.METHODS[self.method]

    @property
    def rows_per_molecule(self) -> int:
        """Forward rows per output molecule, every candidate counted."""
        return self.spec.rows_per_molecule(self.ys, self.candidates)

    def defaults(self) -> SampleSettings:
        """The defaults of this method (what a run's name leaves out)."""
        return SampleSettings(method=self.method)

    def in_use(self) -> SampleSettings:
        """These settings with those the method ignores put back to their defaults (γ
        without guidance, |Y_S| without reference profiles, the advantage rule off RCFG,
        Q-tilt weights off Q-tilt, α unguided): what names a run."""
        spec = self.spec
        default = self.defaults()
        keep = {"gamma": spec.uses_gamma, "ys": spec.uses_ys,
                "advantage": "advantage" in spec.knobs, "q_weights": "q_weights" in spec.knobs,
                "plausibility": "plausibility" in spec.knobs}
        return replace(self, **{k: getattr(default, k) for k, used in keep.items() if not used})


@dataclass
class SampleResult:
    molecules: pd.DataFrame             # one row per output molecule
    summary: dict
    settings: SampleSettings
    # with more than one candidate per molecule: every candidate (`smiles`, `valid`,
    # `reward`), M consecutive rows per output molecule, for benchmarks that re-select
    candidates: pd.DataFrame | None = None


def bank_rewards(ckpt, reward) -> np.ndarray:
    """r(y) of every prior-bank vector (N_bank,): what guidance steers by, the reward's
    property terms (`Reward.steering`); all ones when it has none (structure terms only:
    nothing to steer by, selection does the work)."""
    steering = reward.steering
    if steering is None:
        return np.ones(len(ckpt.bank))
    return steering.score(ckpt.bank_values())


def reward_ceiling(ckpt, reward, r_bank: np.ndarray | None = None) -> float:
    """r(y*), the normalized score's 1: the highest reward in the prior bank. For a
    reward with structure terms, the bank molecules are scored in full (cached per
    checkpoint and reward), since their reward is not a function of y alone."""
    if not reward.structures:
        return float((bank_rewards(ckpt, reward) if r_bank is None else r_bank).max())
    key = (str(ckpt.path), len(ckpt.bank), reward)
    if key not in _CEILINGS:
        if len(_CEILINGS) >= 16:
            _CEILINGS.pop(next(iter(_CEILINGS)))
        _CEILINGS[key] = _best_in_bank(ckpt.bank, reward)
    return _CEILINGS[key]


def _best_in_bank(bank: pd.DataFrame, reward, batch: int = 256) -> float:
    """max over the bank of the full reward, scoring molecules in order of their bound
    (`Reward.score_bound`, the reward with every structure term met) and stopping once the
    best found is at least the next bound: usually a few hundred molecules, not 20,000."""
    bound = reward.score_bound(bank)
    order = np.argsort(-bound, kind="stable")
    best, i = 0.0, 0
    while i < len(order) and best < bound[order[i]]:
        rows = order[i:i + batch]
        best = max(best, float(reward.score(bank.iloc[rows]).max()))
        i += batch
    return best


_CEILINGS: dict[tuple, float] = {}   # (checkpoint, bank size, reward) -> r(y*)


def outside_bank(ckpt, target: dict[str, float] | None) -> list[str]:
    """One line per target value outside the range the prior bank holds for its property
    (the model has seen nothing like it: the molecules may be poor or invalid); [] when all
    are inside or there is no target."""
    if not target:
        return []
    values = ckpt.bank_values()                  # (N_bank, 25)
    lines = []
    for name, value in target.items():
        column = values[:, PROPERTY_NAMES.index(name)]
        lo, hi = float(np.nanmin(column)), float(np.nanmax(column))
        if not lo <= float(value) <= hi:
            lines.append(f"condition {name}={float(value):g} is outside the range the model "
                         f"was trained on ({lo:g} to {hi:g})")
    return lines


def target_vector(ckpt, r_bank: np.ndarray | None, target: dict[str, float] | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(25,) raw target and (25,) mask: a user target (a subset of properties allowed), else
    y*, the bank vector with the highest reward `r_bank` (see `bank_rewards`)."""
    if target:
        raw = np.array([float(target.get(p, np.nan)) for p in PROPERTY_NAMES])
        return raw, ~np.isnan(raw)
    return ckpt.bank_values()[int(np.argmax(r_bank))], np.ones(len(PROPERTY_NAMES), bool)


def build_plan(ckpt, s: SampleSettings, n: int, rng: np.random.Generator, device,
               r_bank: np.ndarray | None, target) -> DecodePlan:
    """The rows of `n` decoded molecules: condition vectors, masks and (RCFG / Q-tilt) the
    rewards of the Y_S vectors drawn from the bank with `rng`; for `tilted`, one bank vector
    per molecule drawn with P(y) proportional to r(y)^gamma. `target` is (raw (25,), mask
    (25,)) for `conditional` and `cfg`."""
    P = len(PROPERTY_NAMES)
    spec = s.spec
    knobs = dict(decoding=s.decoding,
                 grammar=SmilesGrammar(ckpt.tokenizer.itos, ring_check=s.ring_check)
                 if s.grammar else None)
    norm = lambda raw: torch.as_tensor(np.nan_to_num(ckpt.normalize(raw)),  # noqa: E731
                                       dtype=torch.float32, device=device)
    null_v = torch.zeros((n, 1, P), device=device)
    null_m = torch.zeros((n, 1, P), dtype=torch.bool, device=device)
    full_m = torch.ones((n, 1, P), dtype=torch.bool, device=device)
    if spec.rows == "null":
        return DecodePlan(spec.rule, null_v, null_m, **knobs)
    if spec.rows == "drawn":
        idx = rng.choice(len(r_bank), size=n, p=guidance.tilt_weights(r_bank, s.gamma))
        return DecodePlan(spec.rule, norm(ckpt.bank_values()[idx]).view(n, 1, P), full_m,
                          **knobs)
    if spec.rows in ("target", "null+target"):
        raw, mask = target
        tv = norm(raw)[None, None].expand(n, 1, P)
        tm = torch.as_tensor(mask, device=device)[None, None].expand(n, 1, P)
        if spec.rows == "target":
            return DecodePlan(spec.rule, tv, tm, **knobs)
        return DecodePlan(spec.rule, torch.cat([null_v, tv], 1), torch.cat([null_m, tm], 1),
                          **knobs)
    idx = rng.integers(0, len(r_bank), size=(n, s.ys))              # Y_S, fresh per molecule
    ys = norm(ckpt.bank_values()[idx.reshape(-1)]).view(n, s.ys, P)
    values = torch.cat([null_v, ys], 1)                               # (n, 1+K, P)
    mask = torch.cat([null_m, torch.ones((n, s.ys, P), dtype=torch.bool, device=device)], 1)
    rewards = torch.as_tensor(r_bank[idx], dtype=torch.float32, device=device)
    return DecodePlan(spec.rule, values, mask, rewards=rewards, **knobs)


def prepare_device(ckpt, s: SampleSettings) -> torch.device:
    """The device `s` asks for, with the checkpoint moved there; raises SamplingError when
    half precision is asked for off CUDA."""
    device = pick_device(s.device)
    if s.precision != "fp32" and device.type != "cuda":
        raise SamplingError(f"precision {s.precision} needs a CUDA device; on {device} use fp32")
    ckpt.to(device)
    return device


def decode_molecules(ckpt, s: SampleSettings, total: int, rows_per_molecule: int, device,
                     progress, plan_for, on_molecules=None) -> list[list[int]]:
    """Token sequences of `total` molecules, decoded in chunks of at most `s.max_rows`
    forward rows; `plan_for(start, n)` is the DecodePlan of molecules start..start+n-1.
    A CUDA out-of-memory error halves the chunk and retries it (re-raised at one molecule).
    As molecules finish, `progress(done, total)` is called and `on_molecules(ids,
    sequences)` gets their indices (0..total-1) and token sequences."""
    model, tok = ckpt.model, ckpt.tokenizer
    gen = torch.Generator(device=device).manual_seed(s.seed)
    done = 0
    sequences: list[list[int]] = []

    def finished(ids: list[int], seqs: list[list[int]]) -> None:
        nonlocal done
        done += len(ids)
        if progress is not None:
            progress(min(done, total), total)
        if on_molecules is not None:
            on_molecules([len(sequences) + i for i in ids], seqs)

    chunk = max(1, s.max_rows // rows_per_molecule)
    max_len = model.cfg.block_size - 2
    while len(sequences) < total:
        n = min(chunk, total - len(sequences))
        if not sequences and s.first_chunk:
            n = min(n, s.first_chunk * (total // s.n))   # with candidates: whole groups
        plan = plan_for(len(sequences), n)
        try:
            # the network may run in half precision; guidance itself is always fp32
            with (torch.autocast("cuda", dtype=PRECISIONS[s.precision])
                  if s.precision != "fp32" else contextlib.nullcontext()):
                sequences += decode(model, plan, tok.bos_id, tok.eos_id, max_len, gen,
                                    on_finished=finished).sequences
        except torch.OutOfMemoryError:
            if n == 1:
                raise
            torch.cuda.empty_cache()
            chunk = n // 2
            done = len(sequences)   # the molecules of the failed chunk are decoded again
    return sequences


class _Collector:
    """Candidates as they finish, scored and selected. With `preview`, the new ones are
    scored as soon as the first finish, then at most every `every` seconds, and
    `preview(frame)` gets the kept molecules of the groups complete so far (at least
    `smiles`, `valid` and `reward`). The final table is the same with or without previews:
    the selection runs once over all groups, in order. With one candidate per molecule
    every molecule is scored in full as it comes; with more, candidates are scored with
    the reward's own properties only, and the kept ones in full at the end. `cpu` is the
    CPU time spent scoring."""

    def __init__(self, tok, reward, candidates: int, preview=None, every: float = 0.5):
        self.tok, self.reward, self.group = tok, reward, candidates
        self.preview, self.every = preview, every
        self.smiles: dict[int, str] = {}
        self.pending: list[int] = []
        self.scored: dict[int, pd.DataFrame] = {}   # chunk start id -> scored rows
        self.last = -math.inf
        self.cpu = 0.0

    def add(self, ids: list[int], seqs: list[list[int]]) -> None:
        for i, q in zip(ids, seqs):   # a chunk retried after CUDA OOM reports again: last wins
            self.smiles[i] = self.tok.decode(q)
        self.pending += ids
        if self.preview is not None and time.perf_counter() - self.last >= self.every:
            self.flush()
            frame = self._kept(complete_only=True)
            if len(frame):
                self.preview(frame)
            self.last = time.perf_counter()

    def flush(self) -> None:
        if not self.pending:
            return
        t0 = cpu_seconds()
        ids = sorted(set(self.pending))
        smiles = [self.smiles[i] for i in ids]
        frame = (score_molecules(smiles, self.reward) if self.group == 1
                 else score_candidates(smiles, self.reward))
        self.scored[ids[0]] = frame.set_axis(ids)
        self.pending = []
        self.cpu += cpu_seconds() - t0

    def candidates(self) -> pd.DataFrame:
        """Every candidate scored so far (`smiles`, `valid`, `reward`), in candidate order."""
        frame = pd.concat(list(self.scored.values()))
        return frame[~frame.index.duplicated(keep="last")].sort_index()

    def _kept(self, complete_only: bool = False) -> pd.DataFrame:
        frame = self.candidates()
        if self.group == 1:
            return frame
        if complete_only:   # the groups whose every candidate is scored
            groups = frame.index.to_numpy() // self.group
            counts = np.bincount(groups)
            frame = frame[counts[groups] == self.group]
        return frame.iloc[select_candidates(frame, self.group)]

    def table(self) -> tuple[pd.DataFrame, list[int]]:
        """The output table in molecule order and the candidate ids it kept."""
        self.flush()
        kept = self._kept()
        ids = kept.index.tolist()
        if self.group > 1:
            t0 = cpu_seconds()
            kept = score_molecules(kept["smiles"].tolist(), self.reward)
            self.cpu += cpu_seconds() - t0
        return kept.reset_index(drop=True), ids


def sample(ckpt, reward, settings: SampleSettings, progress=None,
           base_mean_reward: float | None = None, phase=None, preview=None,
           preview_every: float = 0.5) -> SampleResult:
    """Sample `settings.n` molecules with the chosen method and score them with `reward`.

    With `settings.candidates` = M > 1, M candidates are decoded per output molecule and
    the best by `reward` is kept (`_Collector`; no molecule twice while a group has another
    valid one). `reward` may be None for `base`, and for `conditional` / `cfg` with a
    target, without selection: the table then has properties but no reward columns.
    `progress(done, total)` is called as molecules finish (in output molecules),
    `phase(text)` as each stage starts (reward of the reference profiles, decoding,
    scoring, likelihood), and `preview(frame)` at most every `preview_every` seconds with
    the molecules kept so far. `base_mean_reward` (mean reward of base samples) enables the
    normalized score. The summary records the cost: forward rows, and CPU seconds of
    decoding, scoring and the rest (process time, worker processes included). Raises
    SamplingError on bad settings.
    """
    s = settings
    spec = s.spec
    if reward is None and (spec.reward == "yes" or spec.reward == "or_target" and not s.target):
        raise SamplingError(f"method {s.method} needs a reward"
                            + (" or a target vector" if spec.reward == "or_target" else ""))
    if reward is None and s.candidates > 1:
        raise SamplingError(f"keeping the best of {s.candidates} candidates needs a reward "
                            "to rank them; give one, or use 1 candidate per molecule")
    device = prepare_device(ckpt, s)
    model, tok = ckpt.model, ckpt.tokenizer
    phase = phase or (lambda text: None)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    if reward is not None:
        phase(f"Rewards of the {len(ckpt.bank):,} reference profiles")
    r_bank = bank_rewards(ckpt, reward) if reward is not None else None
    target = (target_vector(ckpt, r_bank, s.target) if spec.rows in ("target", "null+target")
              else None)
    group = s.candidates
    rng = np.random.default_rng(s.seed)
    collector = _Collector(tok, reward, group, preview, preview_every)
    phase("Decoding" if group == 1 else f"Decoding {group} candidates per molecule")
    cpu_decode = cpu_seconds()
    sequences = decode_molecules(
        ckpt, s, s.n * group, spec.rows_per_candidate(s.ys), device,
        progress and (lambda done, total: progress(done // group, s.n)),
        lambda start, n: build_plan(ckpt, s, n, rng, device, r_bank, target),
        on_molecules=collector.add)
    cpu_decode = cpu_seconds() - cpu_decode - collector.cpu
    phase("Scoring the molecules" if group == 1 else "Keeping the best candidate of each")
    frame, kept = collector.table()
    sequences = [sequences[i] for i in kept]   # the log-likelihood of kept ones only
    phase("Likelihood under the base model")
    frame["nll"] = -base_log_likelihood(model, sequences, tok.bos_id, tok.eos_id, device)
    for col in SETTING_COLUMNS:
        frame[col] = getattr(s, col)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    r_star = reward_ceiling(ckpt, reward, r_bank) if reward is not None else None
    summary = summarize(frame, set(ckpt.bank["smiles"]), r_star, base_mean_reward)
    summary.update(wall_time_s=wall, molecules_per_s=s.n / wall, device=str(device),
                   forward_rows_per_molecule=s.rows_per_molecule,
                   forward_rows=s.rows_per_molecule * s.n, candidates=group,
                   cpu_s=cpu, cpu_decode_s=cpu_decode, cpu_score_s=collector.cpu,
                   cpu_ms_per_molecule=1000 * cpu / s.n)
    if spec.rows == "drawn":
        summary["effective_profiles"] = guidance.effective_draws(
            guidance.tilt_weights(r_bank, s.gamma))
    return SampleResult(frame, summary, s,
                        collector.candidates().reset_index(drop=True) if group > 1 else None)
