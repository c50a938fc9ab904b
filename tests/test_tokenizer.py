import pytest

from engine.model.tokenizer import SmilesTokenizer, TokenizerError, tokenize


def test_regex_tokens():
    assert tokenize("C[C@@H](Cl)c1ccc(Br)cc1") == [
        "C", "[C@@H]", "(", "Cl", ")", "c", "1", "c", "c", "c", "(", "Br", ")", "c", "c", "1"]
    assert tokenize("C%12CC%12") == ["C", "%12", "C", "C", "%12"]
    assert tokenize("[nH]1cc[n+](C)c1") [0] == "[nH]"


def test_untokenizable_raises():
    with pytest.raises(TokenizerError, match="cannot tokenize"):
        tokenize("C&C")


def test_round_trip_and_specials():
    tok = SmilesTokenizer.build(["CCO", "c1ccccc1Cl"])
    ids = tok.encode("ClCCO")
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == "ClCCO"
    assert tok.decode([*ids[1:-1], tok.eos_id, 5]) == "ClCCO"  # stops at <eos>


def test_unknown_token_is_named():
    tok = SmilesTokenizer.build(["CCO"])
    with pytest.raises(TokenizerError, match=r"'Br'.*not in this model's vocabulary"):
        tok.encode("CCBr")


def test_vocabulary_order_is_deterministic():
    a = SmilesTokenizer.build(["CCO", "CN", "CCl"]).to_list()
    b = SmilesTokenizer.build(["CCl", "CN", "CCO"]).to_list()
    assert a == b and a[:3] == ["<pad>", "<bos>", "<eos>"]
