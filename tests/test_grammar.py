"""Grammar-safe decoding: the mask on hand-built prefixes, and decoding with it."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from rdkit import Chem, RDLogger

from engine.chem.rewards import load_reward
from engine.model.checkpoint import load_checkpoint
from engine.model.tokenizer import tokenize
from engine.sampling.decoder import DecodePlan, decode
from engine.sampling.methods import MODEL_DISTRIBUTION
from engine.sampling.grammar import SmilesGrammar
from engine.sampling.sampler import SampleSettings, sample

VOCAB = ["<pad>", "<bos>", "<eos>", "c", "C", "(", ")", "1", "O", "2", "N", "=", "n", "3",
         "F", "-", "S", "[nH]", "#", "%10", "Cl"]
G = SmilesGrammar(VOCAB)


def _state(prefix: str) -> dict:
    st = G.init(1, "cpu")
    for token in tokenize(prefix):
        st = G.advance(st, torch.tensor([VOCAB.index(token)]))
    return st


def _allowed(prefix: str) -> set[str]:
    mask = G.allowed(_state(prefix))[0]
    return {t for t, ok in zip(VOCAB, mask.tolist()) if ok}


def test_start_allows_atoms_only():
    assert _allowed("") == {"c", "C", "O", "N", "n", "F", "S", "[nH]", "Cl"}


@pytest.mark.parametrize("prefix, token, example", [
    ("C1CC", "<eos>", "C1CC"),        # ring bond 1 still open
    ("CC(C", "<eos>", "CC(C"),        # branch still open
    ("CC=", "<eos>", "CC="),          # dangling bond
    ("CC", ")", "CC)C"),              # ) without (
    ("CC(", ")", "CC()C"),            # empty branch
    ("C(", "(", "C((C))"),            # (( is not SMILES
    ("C1", "1", "C11"),               # a ring bond from an atom to itself
    ("C1C", "1", "C1C1"),             # a ring bond doubling the chain bond
    ("C12CC1", "2", "C12CC12"),       # a second ring bond between the same two atoms
    ("C=", "=", "C==C"),              # bond after bond
    ("C(", "1", "C(1)CC1"),           # ring label with no atom before it
    ("C1(C)C", "1", "C1(C)C1"),       # after a branch, the ring bond would double C0-C2
])
def test_masked_tokens_are_the_ones_rdkit_rejects(prefix, token, example):
    assert token not in _allowed(prefix), (prefix, token)
    RDLogger.DisableLog("rdApp.*")
    assert Chem.MolFromSmiles(example) is None, example


def test_ring_label_after_a_branch_is_kept_out():
    # RDKit accepts "CC(C)1CC1", canonical SMILES never write it: the mask keeps it out
    assert "1" not in _allowed("CC(C)")


@pytest.mark.parametrize("prefix, token", [
    ("C1CCC", "1"), ("C1CC2CC", "2"), ("C1CC2CC", "1"), ("CC(C)", "<eos>"), ("CC(C)", "("),
    ("CC(C)", "C"), ("C(C", ")"), ("C", "="), ("C=", "1"), ("C1", "2"), ("C", "%10"),
    ("C1CC1", "1"), ("c1ccccc1", "<eos>"), ("C(C(C", ")"), ("CC(=O)", "<eos>"),
    ("C12CC1C", "2"),
])
def test_allowed(prefix, token):
    assert token in _allowed(prefix), (prefix, token)


def test_branches_restore_the_branch_point():
    # after ')' the next atom hangs from the branch point C0: "C1(C)C1" would double the
    # C0-C2 bond, "C1(C)CC1" closes a real ring
    assert "1" not in _allowed("C1(C)C")
    assert "1" in _allowed("C1(C)CC")
    assert Chem.MolFromSmiles("C1(C)C1") is None and Chem.MolFromSmiles("C1(C)CC1")


def test_rows_are_independent_and_compaction_selects_state():
    st = G.init(3, "cpu")
    for tokens in (["C", "C", "C"], ["1", "(", "C"], ["C", "C", "C"]):
        st = G.advance(st, torch.tensor([VOCAB.index(t) for t in tokens]))
    eos = VOCAB.index("<eos>")
    assert G.allowed(st)[:, eos].tolist() == [False, False, True]   # C1C | C(C | CCC
    kept = {k: v[torch.tensor([0, 2])] for k, v in st.items()}
    assert G.allowed(kept)[:, eos].tolist() == [False, True]


def test_a_row_at_the_deepest_branch_beside_a_row_closing_one():
    """Row 0 opens branches to the deepest level allowed while row 1 closes one: the
    branch stack is never read past its end, and row 0 can then only close."""
    from engine.sampling.grammar import MAX_DEPTH

    st = G.init(2, "cpu")
    step = lambda a, b: G.advance(st, torch.tensor([VOCAB.index(a), VOCAB.index(b)]))  # noqa: E731
    st = step("C", "C")
    st = step("(", "(")
    for _ in range(MAX_DEPTH - 1):
        st = step("C", "C")
        st = step("(", "C")
    st = step("C", ")")                                  # row 1 closes; row 0 at MAX_DEPTH
    assert st["g_depth"].tolist() == [MAX_DEPTH, 0]
    allowed = G.allowed(st)
    assert not allowed[0, VOCAB.index("(")] and allowed[0, VOCAB.index(")")]
    for _ in range(MAX_DEPTH):
        st = step(")", "C")
    smiles = "C(" + "C(" * (MAX_DEPTH - 1) + "C" + ")" * MAX_DEPTH
    assert st["g_depth"].tolist() == [0, 0] and Chem.MolFromSmiles(smiles) is not None

def test_every_row_keeps_a_token():
    rng = np.random.default_rng(0)
    st = G.init(64, "cpu")
    for _ in range(60):
        mask = G.allowed(st)
        assert mask.any(1).all()
        probs = mask.float() / mask.float().sum(1, keepdim=True)
        st = G.advance(st, torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(
            int(rng.integers(1 << 30)))).squeeze(1))


def test_random_walk_under_the_mask_always_parses():
    """Uniformly random tokens among the allowed ones, ended as soon as <eos> is allowed
    after 20 tokens: every string parses (sanitization aside)."""
    RDLogger.DisableLog("rdApp.*")
    gen = torch.Generator().manual_seed(1)
    m = 200
    st, out = G.init(m, "cpu"), [[] for _ in range(m)]
    done = torch.zeros(m, dtype=torch.bool)
    eos = VOCAB.index("<eos>")
    for t in range(120):
        mask = G.allowed(st)
        if t >= 20:
            mask = torch.where(mask[:, eos:eos + 1], torch.nn.functional.one_hot(
                torch.full((m,), eos), len(VOCAB)).bool(), mask)
        tokens = torch.multinomial(mask.float(), 1, generator=gen).squeeze(1)
        for i in range(m):
            if not done[i] and tokens[i] != eos:
                out[i].append(VOCAB[tokens[i]])
        done |= tokens == eos
        st = G.advance(st, tokens)
    assert int(done.sum()) >= 50
    finished = ["".join(o) for o, d in zip(out, done) if d]
    assert all(Chem.MolFromSmiles(s, sanitize=False) is not None for s in finished)


def test_decoding_with_the_mask_on_the_shipped_model():
    """Unparsable SMILES (syntax, not chemistry) vanish under the mask for base and RCFG,
    with the KV cache and row compaction in play."""
    RDLogger.DisableLog("rdApp.*")
    ckpt = load_checkpoint(None)
    reward = load_reward("veber")
    for method in ("base", "rcfg"):
        res = sample(ckpt, reward, SampleSettings(method=method, n=96, ys=8, gamma=4.0,
                                                  advantage="z", plausibility=0.0,
                                                  device="cpu", seed=2))
        bad = [s for s in res.molecules["smiles"] if Chem.MolFromSmiles(s, sanitize=False)
               is None]
        # a string that hit the length limit without <eos> is the one way left to fail
        assert all(len(tokenize(s)) >= ckpt.model.cfg.block_size - 2 for s in bad), bad


def test_decode_plan_without_grammar_is_unmasked(tiny_checkpoint):
    """Without a grammar every token keeps a finite probability at every step; the same
    plan with the grammar masks tokens from the first one (a SMILES starts with an atom)."""
    ckpt = load_checkpoint(tiny_checkpoint)
    P = ckpt.model.cfg.n_props
    plan = DecodePlan("none", torch.zeros(4, 1, P), torch.zeros(4, 1, P, dtype=torch.bool),
                      MODEL_DISTRIBUTION)

    def run(p, record=False):
        return decode(ckpt.model, p, ckpt.tokenizer.bos_id, ckpt.tokenizer.eos_id, 30,
                      torch.Generator().manual_seed(0), record=record)

    out = run(plan)
    assert len(out.sequences) == 4 and out.dists is None
    free = run(plan, record=True).dists     # one distribution per token drawn
    assert len(free) == 4 and all(torch.isfinite(d).all() for d in free)
    masked = run(replace(plan, grammar=SmilesGrammar(ckpt.tokenizer.itos)), record=True).dists
    assert all(not torch.isfinite(d[0]).all() for d in masked)


# ring checks ----------------------------------------------------------------------------
from engine.sampling import decoder as decoder_module  # noqa: E402
from engine.sampling.grammar import (NEED_DOUBLE, NEED_NONE, NEED_SUBSTITUENT,  # noqa: E402
                                     REFUSALS, REFUSE, check_closure, token_class)


@pytest.mark.parametrize("prefix, verdict", [
    ("c1ccccc1", NEED_NONE),                          # benzene
    ("CCc1cccc2c(=O)n(C)nc12", REFUSE),               # no Kekulé form, nothing can repair it
    ("FC1CCCCF1", REFUSE),                            # fluorine given a second bond
    ("c1ccc[nH]c1", NEED_DOUBLE),                     # a pyridone only if "=O" follows
    ("c1cccn1", NEED_SUBSTITUENT),                    # a pyrrole only if N gets a substituent
    ("c1ccc2ccccc2", NEED_NONE),                      # ring 1 still open on the system
    ("c1cc(cc[nH]1", NEED_NONE),                      # the open branch atom may still be =O
    ("C1CCCCC1", NEED_NONE),
])
def test_ring_closure_verdicts_on_hand_built_prefixes(prefix, verdict):
    assert check_closure(tokenize(prefix)) == verdict


VALID = ["Cn1c(=O)c2c(ncn2C)n(C)c1=O", "O=c1cccc[nH]1", "Cc1ccc(=O)n(C)c1",
         "COc1ccc(NC(=O)C2(C)Sc3nccc(=O)n32)cc1", "c1ccc2[nH]ccc2c1", "c1ncc2[nH]cnc2n1",
         "c1ccc2c(c1)ccc1ccccc12", "O=c1[nH]c(=O)c2ccccc2[nH]1", "Cn1cccc1C(=O)O",
         "CC(C)(C)c1ccc(-c2ccncc2)cc1", "O=C1CCc2ccccc2N1", "c1ccc2c(c1)oc1ccccc12",
         "CN1CCN(c2nc3ccccc3c3ccccc23)CC1", "Cc1nnc2n1-c1ccc(Cl)cc1C(c1ccccc1)=NC2",
         "O=c1c2ccccc2[nH]c2ccccc12", "Cc1cc(=O)oc2ccccc12", "c1cc2ccc3cccc4ccc(c1)c2c34"]


@pytest.mark.parametrize("smiles", VALID)
def test_a_valid_molecule_is_never_refused_and_meets_every_need(smiles):
    tokens, opened = tokenize(smiles), set()
    for i, token in enumerate(tokens):
        _, label = token_class(token)
        if label < 0:
            continue
        if label not in opened:
            opened.add(label)
            continue
        opened.discard(label)
        verdict, nxt = check_closure(tokens[:i + 1]), tokens[i + 1:i + 2]
        assert verdict != REFUSE, (smiles, i)
        if verdict == NEED_DOUBLE:
            assert nxt == ["="], (smiles, i)
        if verdict == NEED_SUBSTITUENT:
            assert nxt and token_class(nxt[0])[0] in (1, 2, 3) or nxt == ["-"], (smiles, i)


def test_a_refused_closure_is_drawn_again_and_counted():
    plan = DecodePlan("none", torch.zeros(1, 1, 1), torch.zeros(1, 1, 1, dtype=torch.bool),
                      MODEL_DISTRIBUTION, grammar=G)
    st = _state("FC1CCCCF")
    guided = torch.full((1, len(VOCAB)), float("-inf"))
    guided[0, VOCAB.index("1")], guided[0, VOCAB.index("C")] = 0.0, -3.0
    ids = [VOCAB.index(t) for t in tokenize("FC1CCCCF")]
    prefixes = lambda rows: [ids] * len(rows)                  # noqa: E731
    tokens, need = decoder_module._check_closures(
        plan, st, guided, torch.tensor([VOCAB.index("1")]), torch.tensor([True]),
        prefixes, torch.Generator().manual_seed(0))
    assert VOCAB[int(tokens[0])] == "C" and int(need[0]) == NEED_NONE
    assert int(st["g_refused"][0]) == 1 and guided[0, VOCAB.index("1")] == float("-inf")
    st["g_refused"][0] = REFUSALS                 # past its budget: the closure goes through
    tokens, _ = decoder_module._check_closures(
        plan, st, guided.clone().fill_(0), torch.tensor([VOCAB.index("1")]),
        torch.tensor([True]), prefixes, torch.Generator().manual_seed(0))
    assert VOCAB[int(tokens[0])] == "1"


def test_a_need_constrains_the_next_token():
    st = G.advance(_state("c1ccc[nH]c"), torch.tensor([VOCAB.index("1")]),
                   torch.tensor([NEED_DOUBLE]))
    assert {t for t, ok in zip(VOCAB, G.allowed(st)[0].tolist()) if ok} == {"="}
    st = G.advance(_state("c1cccn"), torch.tensor([VOCAB.index("1")]),
                   torch.tensor([NEED_SUBSTITUENT]))
    allowed = {t for t, ok in zip(VOCAB, G.allowed(st)[0].tolist()) if ok}
    assert "<eos>" not in allowed and ")" not in allowed and {"C", "(", "-", "2"} <= allowed
    assert "=" not in allowed
    st = G.advance(st, torch.tensor([VOCAB.index("C")]))      # met: no constraint left
    assert "<eos>" in {t for t, ok in zip(VOCAB, G.allowed(st)[0].tolist()) if ok}
