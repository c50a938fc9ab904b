"""Grammar-safe SMILES decoding: per row, the tokens that keep the string parsable.

The decoder asks `allowed(state)` for an (m, V) mask before sampling and calls
`advance(state, tokens)` after it. The state is a dict of tensors with the molecules on
dim 0, so the decoder's row compaction selects it like any other per-molecule tensor.

What is tracked per row: the class of the last two tokens, the open branches (a stack of
branch-point atoms), the open ring-bond labels (the atom each was opened on), the atom
the current atom hangs from, and the ring bonds already closed on the current atom. What
is masked: a `)` without an open `(` or right after it, `(` or a ring label where no atom
precedes, a bond after a bond, `<eos>` while a branch or ring bond is open or after a
bond, and a ring closure that would bond an atom to itself or to an atom it is already
bonded to (`C11`, `C1C1`, `C12CC12`). An atom is always allowed, so every row keeps at
least one token.

Ring checks (`ring_check`, on by default) add chemistry at the one moment a string can be
judged cheaply: a drawn ring closure. `check_closure` parses the prefix with RDKit and
refuses the closure (the decoder draws again without it) when it overfills the valence of
a non-aromatic atom it joins, or when it completes an aromatic ring system that RDKit
cannot kekulize and no later token could repair. The repairs a later token can still make
are an exocyclic double bond on the current carbon (`c1=O`) or a substituent on the
current nitrogen (`n1C`, `n12`); when the closure is only acceptable with one, the next
token is constrained to make it (`g_need`). An open branch's atom may still be repaired after `)`,
so it is given the benefit of the doubt.
"""
from __future__ import annotations

import re
from itertools import combinations

import torch
from rdkit import Chem, RDLogger

START, ATOM, RING, OPEN, CLOSE, BOND, DOT, EOS, NEVER = range(9)
BONDS = {"-", "=", "#", "$", "/", "\\", ":"}
NOT_SMILES = {"<pad>", "<bos>", "+", "@", "?", ">", "~"}   # never valid outside brackets
MAX_DEPTH = 16
REFUSE, NEED_NONE, NEED_DOUBLE, NEED_SUBSTITUENT = -1, 0, 1, 2
# closures refused per molecule before its checks stop: a ring system refused twice is
# usually beyond repair, and more refusals only lengthen the string (BENCHMARKS.md)
REFUSALS = 2


def token_class(token: str, eos: str = "<eos>") -> tuple[int, int]:
    """(class, ring label or -1) of one vocabulary token."""
    if token == eos:
        return EOS, -1
    if token in NOT_SMILES:
        return NEVER, -1
    if token == "(":
        return OPEN, -1
    if token == ")":
        return CLOSE, -1
    if token in BONDS:
        return BOND, -1
    if token == ".":
        return DOT, -1
    if re.fullmatch(r"[0-9]|%[0-9]{2}", token):
        return RING, int(token.lstrip("%"))
    return ATOM, -1


class SmilesGrammar:
    """The token classes of one vocabulary (`itos`), and the mask and update rules."""

    def __init__(self, itos: list[str], eos: str = "<eos>", ring_check: bool = True):
        self.itos, self.eos, self.ring_check = list(itos), eos, ring_check
        self._has_double = "=" in self.itos   # NEED_DOUBLE can be met only with `=`
        classes = [token_class(t, eos) for t in itos]
        self.cls = torch.tensor([c for c, _ in classes])                       # (V,)
        labels = sorted({lab for c, lab in classes if c == RING})
        self.n_labels = max(1, len(labels))
        slot = {lab: i for i, lab in enumerate(labels)}
        # ring slot of each token, -1 for non-ring tokens
        self.slot = torch.tensor([slot[lab] if c == RING else -1 for c, lab in classes])
        self.ring_tokens = torch.nonzero(self.slot >= 0).squeeze(1)            # (L',)
        self._tables: dict = {}   # device -> (cls, slot, ring_tokens, their slots)

    def tables(self, device) -> tuple[torch.Tensor, ...]:
        """The vocabulary tables on `device`, copied once (this runs every decoding step)."""
        key = str(device)
        if key not in self._tables:
            self._tables[key] = tuple(t.to(device) for t in (
                self.cls, self.slot, self.ring_tokens, self.slot[self.ring_tokens]))
        return self._tables[key]

    def init(self, m: int, device) -> dict[str, torch.Tensor]:
        """The state of m empty strings."""
        long = dict(dtype=torch.long, device=device)
        L = self.n_labels
        return {"g_prev": torch.full((m,), START, **long),
                "g_prev2": torch.full((m,), START, **long),
                "g_atoms": torch.zeros(m, **long),
                "g_cur": torch.full((m,), -1, **long),
                "g_link": torch.full((m,), -1, **long),
                "g_depth": torch.zeros(m, **long),
                "g_stack": torch.full((m, MAX_DEPTH), -1, **long),
                "g_ring_at": torch.full((m, L), -1, **long),     # atom a label was opened on
                "g_closed": torch.full((m, L), -1, **long),      # partners closed on g_cur
                "g_need": torch.zeros(m, **long),                # what the next token must do
                "g_refused": torch.zeros(m, **long)}             # closures refused so far

    def allowed(self, st: dict[str, torch.Tensor]) -> torch.Tensor:
        """(m, V) bool: the tokens that keep each row's string parsable."""
        prev, depth = st["g_prev"], st["g_depth"]
        after_atom = (prev == ATOM) | (prev == RING)
        rings_open = (st["g_ring_at"] >= 0).any(1)
        by_class = torch.stack([
            torch.zeros_like(after_atom),                                  # START
            torch.ones_like(after_atom),                                   # ATOM
            after_atom | ((prev == BOND) & ((st["g_prev2"] == ATOM)
                                            | (st["g_prev2"] == RING))),  # RING
            (after_atom | (prev == CLOSE)) & (depth < MAX_DEPTH),          # OPEN
            (after_atom | (prev == CLOSE)) & (depth > 0),                  # CLOSE
            after_atom | (prev == OPEN) | (prev == CLOSE),                 # BOND
            (after_atom | (prev == CLOSE)) & (depth == 0),                 # DOT
            (after_atom | (prev == CLOSE)) & (depth == 0) & ~rings_open
            & (st["g_atoms"] > 0),                                         # EOS
            torch.zeros_like(after_atom),                                  # NEVER
        ], dim=1)                                                          # (m, 9)
        cls, _, ring_tokens, ring_slots = self.tables(prev.device)
        mask = by_class[:, cls]                                            # (m, V)
        if len(ring_tokens):
            mask[:, ring_tokens] &= self._ring_ok(st)[:, ring_slots]
        if self.ring_check:   # no host sync: rows without a need keep their mask
            need = st["g_need"][:, None]
            double, substituent = self._need_tables(prev.device)
            mask = mask & ((need != NEED_DOUBLE) | double) & ((need != NEED_SUBSTITUENT)
                                                              | substituent)
        return mask

    def _need_tables(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        """(V,) bool each: the tokens that make an exocyclic double bond (`=`), and those
        that give the current atom another bond (an atom, `(`, `-` or a ring bond)."""
        key = ("need", str(device))
        if key not in self._tables:
            double = torch.tensor([t == "=" for t in self.itos])
            substituent = ((self.cls == ATOM) | (self.cls == OPEN) | (self.cls == RING)
                           | torch.tensor([t == "-" for t in self.itos]))
            self._tables[key] = (double.to(device), substituent.to(device))
        return self._tables[key]

    def closing(self, st: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
        """(m,) bool: `tokens` close a ring bond (rather than open one)."""
        cls_table, slot_table, _, _ = self.tables(tokens.device)
        slot = slot_table[tokens].clamp_min(0)
        return (cls_table[tokens] == RING) & (st["g_ring_at"].gather(1, slot[:, None])
                                              .squeeze(1) >= 0)

    def check_closure(self, ids: list[int]) -> int:
        """What the ring closure ending token ids `ids` (a parsable prefix) may do: REFUSE,
        or the need it leaves for the next token (NEED_NONE / NEED_DOUBLE / ...)."""
        need = check_closure([self.itos[i] for i in ids], self.eos)
        if need == NEED_DOUBLE and not self._has_double:
            return REFUSE
        return need

    def _ring_ok(self, st) -> torch.Tensor:
        """(m, L) bool: using each label now opens it, or closes it onto another atom
        not yet bonded to the current one."""
        at = st["g_ring_at"]                                               # (m, L)
        bonded = ((at == st["g_cur"][:, None]) | (at == st["g_link"][:, None])
                  | (at[:, :, None] == st["g_closed"][:, None, :]).any(2))
        return (at < 0) | ~bonded

    def advance(self, st: dict[str, torch.Tensor], tokens: torch.Tensor,
                need: torch.Tensor | None = None) -> dict:
        """The state after appending `tokens` (m,) to each row; `need` (m,), from
        `check_closure`, constrains the next token."""
        dev = tokens.device
        cls_table, slot_table, _, _ = self.tables(dev)
        cls = cls_table[tokens]
        rows = torch.arange(tokens.shape[0], device=dev)
        st = dict(st)
        atom, ring = cls == ATOM, cls == RING
        opened, closed = cls == OPEN, cls == CLOSE
        # a new atom hangs from the current one, except at the start or after a dot
        new_link = torch.where((st["g_prev"] == START) | (st["g_prev"] == DOT),
                               torch.full_like(st["g_cur"], -1), st["g_cur"])
        st["g_link"] = torch.where(atom, new_link, st["g_link"])
        st["g_closed"] = torch.where(atom[:, None], torch.full_like(st["g_closed"], -1),
                                     st["g_closed"])
        st["g_cur"] = torch.where(atom, st["g_atoms"], st["g_cur"])
        st["g_atoms"] = st["g_atoms"] + atom.long()
        if ring.any():
            slot = slot_table[tokens].clamp_min(0)                         # (m,)
            was = st["g_ring_at"][rows, slot]
            closing, opening = ring & (was >= 0), ring & (was < 0)
            ring_at, closed_on = st["g_ring_at"].clone(), st["g_closed"].clone()
            ring_at[rows, slot] = torch.where(opening, st["g_cur"],
                                              torch.where(closing, -1, was))
            closed_on[rows, slot] = torch.where(closing, was, closed_on[rows, slot])
            st["g_ring_at"], st["g_closed"] = ring_at, closed_on
        if opened.any():
            stack = st["g_stack"].clone()
            d = st["g_depth"].clamp_max(MAX_DEPTH - 1)
            stack[rows, d] = torch.where(opened, st["g_cur"], stack[rows, d])
            st["g_stack"] = stack
        depth = st["g_depth"] + opened.long() - closed.long()
        if closed.any():
            # a row at MAX_DEPTH reads a slot it never uses
            back = st["g_stack"][rows, depth.clamp(0, MAX_DEPTH - 1)]
            st["g_cur"] = torch.where(closed, back, st["g_cur"])
        st["g_depth"] = depth
        st["g_prev2"], st["g_prev"] = st["g_prev"], cls
        st["g_need"] = torch.zeros_like(st["g_need"]) if need is None else need
        return st


def check_closure(tokens: list[str], eos: str = "<eos>") -> int:
    """Judge a ring closure: `tokens` is a prefix the grammar allowed, its last token
    closing a ring bond. REFUSE when the closure overfills a non-aromatic atom it joins, or
    completes an aromatic ring system RDKit cannot kekulize however the atoms still open
    to new bonds are finished; otherwise the need it leaves for the next token."""
    cur, n_atoms, stack, opened, partner = -1, 0, [], {}, -1
    keep = [True] * len(tokens)
    for pos, token in enumerate(tokens):
        cls, label = token_class(token, eos)
        if cls == ATOM:
            cur, n_atoms = n_atoms, n_atoms + 1
        elif cls == OPEN:
            stack.append(cur)
        elif cls == CLOSE:
            cur = stack.pop()
        elif cls == RING:
            if label in opened:
                partner = opened.pop(label)[0]
            else:
                opened[label] = (cur, pos)
    for _, pos in opened.values():      # ring bonds still open: left out of the parse
        keep[pos] = False
        if pos > 0 and token_class(tokens[pos - 1], eos)[0] == BOND:
            keep[pos - 1] = False
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles("".join(t for t, k in zip(tokens, keep) if k)
                             + ")" * len(stack), sanitize=False)
    if mol is None or cur < 0 or partner < 0:
        return NEED_NONE
    problems = Chem.DetectChemistryProblems(mol)
    for p in problems:
        if (p.GetType() == "AtomValenceException" and p.GetAtomIdx() in (cur, partner)
                and not mol.GetAtomWithIdx(p.GetAtomIdx()).GetIsAromatic()):
            return REFUSE
    system = _aromatic_system(mol, cur)
    if not system or any(atom in system for atom, _ in opened.values()):
        return NEED_NONE                                # not aromatic, or not complete yet
    if not _unkekulized(problems, system):
        return NEED_NONE
    # atoms that may still gain a bond: the current one (next token) and open branch points
    later = [a for a in dict.fromkeys([*stack, cur]) if a in system and _repairable(mol, a)]
    for size in range(1, len(later) + 1):
        for subset in combinations(later, size):
            if not _unkekulized(Chem.DetectChemistryProblems(_repaired(mol, subset)),
                                system):
                if cur not in subset:
                    return NEED_NONE
                return NEED_DOUBLE if mol.GetAtomWithIdx(cur).GetSymbol() == "C" \
                    else NEED_SUBSTITUENT
    return REFUSE


def _aromatic_system(mol, start: int) -> set[int]:
    """The aromatic atoms joined to `start` through aromatic atoms (empty if it is not)."""
    if not mol.GetAtomWithIdx(start).GetIsAromatic():
        return set()
    seen, todo = {start}, [start]
    while todo:
        for nb in mol.GetAtomWithIdx(todo.pop()).GetNeighbors():
            if nb.GetIsAromatic() and nb.GetIdx() not in seen:
                seen.add(nb.GetIdx())
                todo.append(nb.GetIdx())
    return seen


def _unkekulized(problems, system: set[int]) -> bool:
    return any(p.GetType() == "KekulizeException" and system & set(p.GetAtomIndices())
               for p in problems)


def _repairable(mol, idx: int) -> bool:
    """An aromatic c or n with two neighbours, no charge and no bracket hydrogens: a later
    `=X` (carbon) or substituent (nitrogen) changes what kekulization needs of it."""
    atom = mol.GetAtomWithIdx(idx)
    return (atom.GetSymbol() in ("C", "N") and atom.GetDegree() == 2
            and atom.GetFormalCharge() == 0 and not atom.GetNoImplicit())


def _repaired(mol, atoms):
    """`mol` with each of `atoms` given what a later token could add: a double-bonded
    dummy atom on carbon, a single-bonded one on nitrogen."""
    rw = Chem.RWMol(mol)
    for idx in atoms:
        dummy = rw.AddAtom(Chem.Atom(0))
        double = rw.GetAtomWithIdx(idx).GetSymbol() == "C"
        rw.AddBond(idx, dummy, Chem.BondType.DOUBLE if double else Chem.BondType.SINGLE)
    return rw
