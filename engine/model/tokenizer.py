"""The standard regex SMILES tokenizer; its vocabulary is built from data and travels in
the checkpoint."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from engine.errors import UserError

SMILES_REGEX = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$"
    r"|%[0-9]{2}|[0-9])")
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)


class TokenizerError(UserError):
    """A SMILES that cannot be tokenized or has a token outside the vocabulary."""


def tokenize(smiles: str) -> list[str]:
    """Split a SMILES into tokens; raises TokenizerError when characters are left over."""
    tokens = SMILES_REGEX.findall(smiles)
    if "".join(tokens) != smiles:
        raise TokenizerError(f"cannot tokenize SMILES {smiles!r}: characters outside the "
                             "SMILES alphabet")
    return tokens


class SmilesTokenizer:
    """Maps SMILES to integer ids: `<pad>`=0, `<bos>`=1, `<eos>`=2, then the vocabulary."""

    def __init__(self, tokens: Iterable[str]):
        tokens = [t for t in tokens if t not in SPECIALS]
        self.itos: list[str] = [*SPECIALS, *tokens]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise TokenizerError("duplicate tokens in the vocabulary")
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2

    @classmethod
    def build(cls, smiles: Iterable[str], min_count: int = 1) -> SmilesTokenizer:
        """Vocabulary of every token seen at least `min_count` times, most frequent first."""
        counts = Counter(t for s in smiles for t in tokenize(s))
        return cls(t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                   if c >= min_count)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, smiles: str) -> list[int]:
        """`<bos>` + token ids + `<eos>`; raises TokenizerError naming an unknown token."""
        ids = [self.bos_id]
        for token in tokenize(smiles):
            if token not in self.stoi:
                raise TokenizerError(
                    f"SMILES {smiles!r} has the token {token!r}, which is not in this model's "
                    f"vocabulary of {len(self.itos) - len(SPECIALS)} tokens")
            ids.append(self.stoi[token])
        ids.append(self.eos_id)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Tokens up to the first `<eos>`, specials dropped."""
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return "".join(out)

    def to_list(self) -> list[str]:
        return list(self.itos)
