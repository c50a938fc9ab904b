"""One batched decoder for every method.

Molecules are laid out as rows = molecules x R branches in one tensor (R = 1 for `base`
and `conditional`, 2 for `cfg`, 1 + K for `rcfg` and `qtilt`); every step is one forward
pass over all rows with a KV cache. A guidance rule turns the (M, R, V) log-probs into one
next-token distribution per molecule; the sampled token is appended to all its rows.
Finished molecules are dropped from the batch; decoding stops when all have ended.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from engine.device import release_free_memory
from engine.errors import UserError
from engine.sampling import guidance
from engine.sampling.grammar import REFUSALS, SmilesGrammar
from engine.sampling.methods import Decoding


class NonFiniteError(UserError):
    """The model's next-token scores became NaN or infinite while sampling."""


@dataclass(frozen=True)
class DecodePlan:
    """Everything one chunk of molecules decodes with.

    values (M, R, P) normalized condition vectors and mask (M, R, P); `decoding` how each
    token is drawn (`methods.Decoding`: gamma, temperature, top-p, the guidance knobs);
    for `rcfg`/`qtilt` rewards (M, K) of the Y_S vectors (rows 1..K). `rule` is the
    guidance rule of a method of `engine.sampling.methods.METHODS`: none (row 0 alone),
    cfg, rcfg or qtilt. `grammar` masks the tokens that would make a SMILES unparsable
    (None: no mask), built for the tokenizer when `decoding.grammar` asks for it.
    """

    rule: str
    values: torch.Tensor
    mask: torch.Tensor
    decoding: Decoding
    rewards: torch.Tensor | None = None
    grammar: SmilesGrammar | None = None

    def take(self, index) -> DecodePlan:
        """The plan of molecules `index` (a slice or an index tensor), knobs unchanged."""
        return replace(self, values=self.values[index], mask=self.mask[index],
                       rewards=None if self.rewards is None else self.rewards[index])


@dataclass
class Decoded:
    """Token sequences (without <bos>/<eos>), one per molecule; with `record`, also the
    sampling distribution of every step, log softmax(masked guided / T) before top-p, as
    one (steps, V) tensor per molecule (steps = length + 1 when it ended with <eos>)."""

    sequences: list[list[int]]
    dists: list[torch.Tensor] | None = None


def guided_logprobs(plan: DecodePlan, logp: torch.Tensor, state: dict) -> torch.Tensor:
    """(M, R, V) fp32 log-probs -> (M, V) guided log-weights."""
    rule, gamma = plan.rule, plan.decoding.gamma
    if rule == "none":
        return logp[:, 0]
    if rule == "cfg":
        return guidance.cfg(logp[:, 0], logp[:, 1], gamma)
    if rule == "rcfg":
        return guidance.rcfg(logp[:, 0], logp[:, 1:], state["adv"], gamma)
    if rule != "qtilt":
        raise ValueError(f"unknown guidance rule {rule!r}; allowed: none, cfg, rcfg, qtilt")
    return guidance.qtilt(logp[:, 1:], state["c"], plan.rewards, gamma)


def allowed_tokens(plan: DecodePlan, logp: torch.Tensor, state: dict) -> torch.Tensor | None:
    """(M, V) bool of the tokens each molecule may sample next (None: all): the grammar
    mask, then, for guided methods, the plausibility constraint on the base row."""
    allowed = plan.grammar.allowed(state) if plan.grammar is not None else None
    alpha = plan.decoding.plausibility
    if plan.rule != "none" and alpha > 0:
        allowed = guidance.plausible(logp[:, 0], alpha, allowed)
    return allowed


@torch.no_grad()
def decode(model, plan: DecodePlan, bos_id: int, eos_id: int, max_len: int,
           generator: torch.Generator, on_finished=None, compact_fraction: float = 0.125,
           record: bool = False) -> Decoded:
    """Sample one token sequence per molecule; M = plan.values.shape[0].

    A sequence that reaches `max_len` tokens without <eos> is returned as it stands (it
    usually decodes to an invalid SMILES). `on_finished(ids, sequences)` is called at each
    step where molecules ended, with their indices (0..M-1) and token sequences, so a
    caller can show molecules as they finish. With `record`, the result also holds the teacher
    signal for distillation (see `Decoded`).
    """
    device = plan.values.device
    M, R, P = plan.values.shape
    d = plan.decoding
    cache = model.new_cache(M * R, device)
    logits = model.prefill(plan.values.reshape(M * R, P), plan.mask.reshape(M * R, P),
                           bos_id, cache)                                   # (M*R, V)
    state: dict[str, torch.Tensor] = {}
    if plan.rule == "rcfg":
        state["adv"] = guidance.advantages(plan.rewards, d.advantage)
    if plan.rule == "qtilt":
        state["c"] = torch.zeros_like(plan.rewards)
    if plan.grammar is not None:
        state.update(plan.grammar.init(M, device))
    track_posterior = plan.rule == "qtilt" and d.q_weights == "posterior"
    alive = torch.arange(M, device=device)           # molecule ids of the active rows
    row_alive = torch.ones(M, dtype=torch.bool, device=device)  # among the active ones
    out = torch.zeros((M, max_len), dtype=torch.long, device=device)
    lengths = torch.zeros(M, dtype=torch.long, device=device)
    dists = torch.zeros((M, max_len, logits.shape[-1]), device=device) if record else None
    for t in range(max_len):
        m = alive.shape[0]
        logp = torch.log_softmax(logits.float(), dim=-1).view(m, R, -1)  # (m, R, V)
        guided = guided_logprobs(plan, logp, state)                       # (m, V)
        allowed = allowed_tokens(plan, logp, state)
        if allowed is not None:
            guided = guided.masked_fill(~allowed, float("-inf"))
        if (guided.isnan() | guided.isposinf()).any():   # multinomial would fail obscurely
            raise NonFiniteError(
                "the model's scores became NaN or infinite while sampling; likely causes: an "
                "extreme condition value (far outside the prior bank's range) or a broken "
                "checkpoint (NaN weights)")
        tokens = guidance.sample_tokens(guided, d.temperature, d.top_p, generator)
        tokens = torch.where(row_alive, tokens, torch.full_like(tokens, eos_id))  # (m,)
        need = None
        if plan.grammar is not None and plan.grammar.ring_check:
            tokens, need = _check_closures(plan, state, guided, tokens, row_alive,
                                           lambda rows: _prefixes(out, lengths, alive[rows]),
                                           generator)
        if record:
            dists[alive[row_alive], t] = torch.log_softmax(
                guided[row_alive] / d.temperature, dim=-1)
        if track_posterior:  # Q-tilt: running log likelihood ratio of each branch
            picked = logp.gather(2, tokens[:, None, None].expand(m, R, 1)).squeeze(2)  # (m, R)
            state["c"] = state["c"] + (picked[:, 1:] - picked[:, :1])
        if plan.grammar is not None:
            state = plan.grammar.advance(state, tokens, need)
        ended = row_alive & (tokens == eos_id)
        going = row_alive & ~ended
        out[alive[going], t] = tokens[going]
        lengths[alive[going]] += 1
        if on_finished is not None:
            _report(on_finished, alive[ended if t < max_len - 1 else row_alive], out, lengths)
        row_alive = going
        if not bool(row_alive.any()) or t == max_len - 1:
            break
        if (~row_alive).float().mean() > compact_fraction:
            keep = row_alive.nonzero().squeeze(1)                     # (m',)
            rows = (keep[:, None] * R + torch.arange(R, device=device)).reshape(-1)
            cache.select(rows)
            if device.type == "cpu":
                release_free_memory()   # or fragments of the old cache pile up, run-long
            alive, tokens, row_alive = alive[keep], tokens[keep], row_alive[keep]
            plan = plan.take(keep)
            state = {k: v[keep] for k, v in state.items()}
        logits = model.decode_step(tokens.repeat_interleave(R), cache)   # (m*R, V)
    out, lengths = out.cpu().numpy(), lengths.cpu().numpy()
    sequences = [out[i, :lengths[i]].tolist() for i in range(M)]
    if not record:
        return Decoded(sequences)
    # a molecule drew one distribution per token plus one for <eos>, unless it hit max_len
    return Decoded(sequences, [dists[i, :min(int(lengths[i]) + 1, max_len)]
                               for i in range(M)])


def _check_closures(plan: DecodePlan, state: dict, guided: torch.Tensor,
                    tokens: torch.Tensor, row_alive: torch.Tensor, prefixes, generator,
                    tries: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Ring checks on the rows that drew a ring closure (`SmilesGrammar.check_closure`):
    a refused closure is masked in `guided` (in place, so a recorded distribution shows
    it) and the row draws again, up to `tries` times; a row with nothing else left keeps
    its token, and a molecule refused REFUSALS times is not checked again. `prefixes(rows)`
    gives the token ids so far of `rows`. Returns the tokens and, per row, the need the
    closure leaves."""
    grammar = plan.grammar
    need = torch.zeros_like(tokens)
    rows = (grammar.closing(state, tokens) & row_alive
            & (state["g_refused"] < REFUSALS)).nonzero().squeeze(1)
    for _ in range(tries):
        if rows.numel() == 0:
            break
        codes = [grammar.check_closure(ids + [t])
                 for ids, t in zip(prefixes(rows), tokens[rows].tolist())]
        codes = torch.tensor(codes, device=tokens.device)
        need[rows] = codes.clamp_min(0)
        refused = rows[codes < 0]
        state["g_refused"][refused] += 1
        others = guided[refused].clone()
        others[torch.arange(len(refused), device=guided.device), tokens[refused]] = float("-inf")
        keep = torch.isfinite(others).any(1)   # a row with nothing else keeps its token
        refused = refused[keep]
        guided[refused] = others[keep]
        if refused.numel() == 0:
            break
        tokens[refused] = guidance.sample_tokens(guided[refused], plan.decoding.temperature,
                                                 plan.decoding.top_p, generator)
        rows = refused[grammar.closing({k: v[refused] for k, v in state.items()},
                                       tokens[refused])]
    return tokens, need


def _prefixes(out: torch.Tensor, lengths: torch.Tensor, ids: torch.Tensor) -> list[list[int]]:
    """The token ids so far of molecules `ids`, copied to the host in one transfer."""
    rows, ends = out[ids].cpu().numpy(), lengths[ids].cpu().tolist()
    return [rows[i, :end].tolist() for i, end in enumerate(ends)]


def _report(on_finished, ids: torch.Tensor, out: torch.Tensor, lengths: torch.Tensor) -> None:
    """Hand the molecules `ids` (their tokens so far in `out`) to `on_finished`."""
    if ids.numel():
        on_finished(ids.cpu().tolist(), _prefixes(out, lengths, ids))
