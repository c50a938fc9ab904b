"""Runs that start from a checkpoint: `distill` (RCFG teacher -> unconditional branch) and
`rl` (policy gradient on the unconditional branch). One loop, one run folder, two steps.

The run folder is a checkpoint (loadable by `load_checkpoint`, so its unconditional branch
samples with `method="base"`) plus `history.jsonl` (a line per step, appended as the run
goes, for live watching) and the optimizer state; `--resume` continues from the last save.
"""
from __future__ import annotations

import copy
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.chem.rewards import Reward
from engine.chem.scoring import score_molecules
from engine.device import pick_device
from engine.errors import UserError
from engine.model.checkpoint import load_checkpoint, save_checkpoint
from engine.sampling import methods as M
from engine.sampling.decoder import NonFiniteError
from engine.sampling.sampler import SampleSettings, SamplingError, bank_rewards, sample
from engine.train import randomstate, runfolder
from engine.train.loop import run_steps, stop_on_sigterm

KINDS = ("distill", "rl")
DEFAULT_STEPS = {"distill": 50, "rl": 200}   # RL needs more, smaller steps
TEACHERS = ("rcfg", "tilted")     # distillation teachers: RCFG, or reward-tilted conditioning
TEACHER_KEEP = ("all", "valid")   # teacher molecules that enter the distillation loss
# settings a resumed run may change ("checkpoint" is compared as the resolved start folder)
RESUME_MAY_CHANGE = ("steps", "device", "out", "checkpoint")


# decoding fields no run reads (no distillation teacher is Q-tilt): no option, not passed on
NO_OPTION = ("q_weights",)


class FinetuneError(UserError):
    """Run settings that cannot be used, with what is allowed."""


@dataclass(frozen=True)
class FinetuneConfig(M.Decoding):
    """A distillation or RL run. Its decoding settings (`methods.Decoding`, keyword-only)
    are the teacher's (distill: gamma, |Y_S|, advantage, plausibility) and those of every
    sample the run draws (grammar, temperature, top-p); `q_weights` is unused (no teacher
    is Q-tilt)."""

    kind: str                     # "distill" or "rl"
    reward: dict                  # Reward.to_dict(): the run folder is self-contained
    out: str
    checkpoint: str = ""          # start point ("" = shipped model); also the teacher
    steps: int = DEFAULT_STEPS["distill"]
    batch_size: int = 64
    lr: float = 1e-4
    teacher: str = "rcfg"         # the distillation teacher: a method of TEACHERS
    teacher_keep: str = "all"     # "valid": drop teacher molecules RDKit rejects (distill)
    beta: float = 0.05            # KL weight to the starting policy (rl)
    # 1.0, not the sampler's defaults (methods.DEFAULT_TEMPERATURE / DEFAULT_TOP_P), on
    # purpose: the student learns the teacher's whole distribution and RL's policy gradient
    # needs samples from the policy itself, neither truncated
    temperature: float = field(default=1.0, kw_only=True)
    top_p: float = field(default=1.0, kw_only=True)
    eval_every: int = 10          # policy samples scored every this many steps (and at 0)
    eval_n: int = 128
    save_every: int = 10
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise FinetuneError(f"unknown run kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        for name in ("steps", "batch_size", "eval_every", "eval_n", "save_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise FinetuneError(f"{name} must be a positive integer, got {value!r}")
        if self.kind == "rl" and self.batch_size < 2:
            raise FinetuneError("rl needs batch_size >= 2 (advantages compare molecules)")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise FinetuneError(f"lr must be > 0, got {self.lr}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise FinetuneError(f"beta must be >= 0, got {self.beta}")
        if self.teacher not in TEACHERS:
            raise FinetuneError(f"unknown teacher {self.teacher!r}; allowed: "
                                f"{', '.join(TEACHERS)}")
        if self.gamma is None:
            object.__setattr__(self, "gamma", M.METHODS[self.teacher].default_gamma)
        try:
            super().__post_init__()
        except SamplingError as exc:
            raise FinetuneError(str(exc)) from None
        if self.teacher_keep not in TEACHER_KEEP:
            raise FinetuneError(f"teacher_keep must be one of {', '.join(TEACHER_KEEP)}, "
                                f"got {self.teacher_keep!r}")
        Reward.from_dict(self.reward)  # RewardError names the problem

    def sample_settings(self, method: str, n: int, seed: int = 0) -> SampleSettings:
        """How this run samples: the teacher (distill, `self.teacher`) or the policy itself
        (`base`); one candidate per molecule: the teacher's distribution is what is learnt."""
        return SampleSettings(**vars(self.decoding), method=method, n=n, seed=seed,
                              candidates=1, device=self.device)


@dataclass
class StepContext:
    """What a step function needs: settings, the start checkpoint, the frozen start model
    (teacher or reference), the trained copy, random state and the reward."""

    cfg: FinetuneConfig
    start: object                 # Checkpoint
    frozen: torch.nn.Module
    policy: torch.nn.Module
    device: torch.device
    reward: Reward
    r_bank: np.ndarray
    rng: np.random.Generator
    gen: torch.Generator

    def score(self, sequences: list[list[int]]):
        """Properties and reward of decoded token sequences (invalid: reward 0)."""
        return score_molecules([self.start.tokenizer.decode(s) for s in sequences],
                               self.reward)

    def evaluate(self, seed: int) -> dict:
        """Mean reward (invalid = 0), validity and uniqueness of `eval_n` policy samples."""
        policy_ckpt = replace(self.start, model=self.policy)
        settings = replace(self.cfg.sample_settings("base", self.cfg.eval_n, seed),
                           device=str(self.device))
        res = sample(policy_ckpt, self.reward, settings)
        s = res.summary
        return {"eval_reward": s["mean_reward"], "eval_validity": s["validity"],
                "eval_uniqueness": s["uniqueness"]}


def _step_function(kind: str):
    from engine.train.distill import distill_step  # noqa: PLC0415
    from engine.train.rl import rl_step  # noqa: PLC0415

    return {"distill": distill_step, "rl": rl_step}[kind]


def finetune(cfg: FinetuneConfig, resume: bool = False, progress: bool = True,
             on_step=None) -> list[dict]:
    """Run `cfg.steps` steps of `cfg.kind`, saving to `cfg.out`; returns the history.

    Raises RunFolderError when `out` already holds a run and `resume` is False (nothing is
    overwritten), when another process is writing it, or when resuming with other settings
    than `steps` and `device`; CheckpointError for a bad start checkpoint.
    """
    with runfolder.hold(cfg.out):
        return _finetune(cfg, resume, progress, on_step)


def _finetune(cfg: FinetuneConfig, resume: bool, progress: bool, on_step) -> list[dict]:
    out = Path(cfg.out)
    resuming = runfolder.claim(out, cfg.kind, resume, asdict(cfg), RESUME_MAY_CHANGE)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    start = load_checkpoint(cfg.checkpoint or None, device=device)
    saved_start = runfolder.training_record(out).get("start") if resuming else None
    if saved_start and Path(saved_start).resolve() != Path(start.path).resolve():
        raise runfolder.RunFolderError(f"{out}: cannot resume from another start checkpoint "
                                       f"(saved {saved_start}, now {start.path})")
    frozen = start.model.eval().requires_grad_(False)
    policy = copy.deepcopy(frozen).requires_grad_(True).train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.95),
                                  weight_decay=0.0)
    step, history = 0, []
    if resuming:
        policy.load_state_dict(load_checkpoint(out, device=device).model.state_dict())
        step, history = runfolder.load_train_state(out, optimizer)
    reward = Reward.from_dict(cfg.reward)
    # seeded from the step for a run saved without its random state (older code)
    ctx = StepContext(cfg, start, frozen, policy, device, reward, bank_rewards(start, reward),
                      np.random.default_rng(cfg.seed + 7919 * step),
                      torch.Generator(device=device).manual_seed(cfg.seed * 1000 + step))
    generators, rngs = {"tokens": ctx.gen}, {"ys_draws": ctx.rng}
    if resuming:
        randomstate.restore(runfolder.read_resume(out).get("random", {}), generators, rngs)
    extra = {"data": start.meta.get("data", {}),
             "training": {**asdict(cfg), "start": str(Path(start.path).resolve()), "device": str(device),
                          "start_training": start.meta.get("training", {})}}
    runfolder.start_history(out, history)
    runfolder.record_process(out, os.getpid(), cfg.kind, sys.argv)
    # the run's time so far, over its launches: a resumed run goes on from its last save's
    t0 = time.time() - (history[-1].get("elapsed_s", 0.0) if history else 0.0)

    def record(rec: dict):
        # seconds the run has taken up to this record (launch.run_state's estimates)
        rec = {**rec, "elapsed_s": round(time.time() - t0, 3)}
        history.append(rec)
        runfolder.append_history(out, rec)
        if on_step is not None:
            on_step(rec)

    def save(steps_done: int, final: bool):
        extra["training"].update(steps_done=steps_done, finished=final)
        runfolder.save_run(out, steps_done, lambda stage: save_checkpoint(
            out, policy, start.tokenizer, start.prop_mean, start.prop_std, start.bank, extra,
            step=steps_done, stage=stage), optimizer, history,
            {"random": randomstate.capture(generators, rngs)})

    def after_step(done: int, rec: dict) -> bool:
        if done % cfg.eval_every == 0 or done == cfg.steps:
            rec.update(ctx.evaluate(cfg.seed + done))
        record({"step": done, **rec})
        if done % cfg.save_every == 0 and done < cfg.steps:
            save(done, final=False)
        return False

    if step == 0:
        save(0, final=False)
        record({"step": 0, **ctx.evaluate(cfg.seed)})
    step_fn = _step_function(cfg.kind)
    try:
        with stop_on_sigterm():
            step = run_steps(lambda _: step_fn(ctx), optimizer, policy.parameters(), step,
                             cfg.steps, after_step, cfg.kind, progress)
            save(step, final=step >= cfg.steps)   # a stopped run resumes from here
    except NonFiniteError:
        failed = history[-1]["step"] + 1 if history else 1
        raise FinetuneError(_nonfinite_message(cfg, frozen, policy, failed, out)) from None
    finally:
        # this process may live on (a notebook, a test): the run is no longer in it
        runfolder.record_process(out, None, cfg.kind, sys.argv)
    return history


def _nonfinite_message(cfg: FinetuneConfig, frozen: torch.nn.Module,
                       policy: torch.nn.Module, step: int, out: Path) -> str:
    """What to do when a model sampled during step `step` gave NaN or infinite scores."""
    saved = runfolder.training_record(out).get("steps_done", 0)
    where = (f"{cfg.kind} step {step}: the next-token scores became NaN or infinite while "
             "sampling")
    lower = (f"start a new run with a lower learning rate (lr {cfg.lr:g} now; a resumed run "
             f"repeats the same steps from its last save, step {saved})")
    if not _finite(frozen):
        return (f"{where}; the start checkpoint ({cfg.checkpoint or 'the shipped model'}) "
                "holds non-finite weights: start from another checkpoint")
    if not _finite(policy):
        return f"{where}; the trained parameters are no longer finite: {lower}"
    return f"{where} with finite parameters (their logits overflowed): {lower}"


def _finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())
