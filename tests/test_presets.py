"""The preset table: statistics by hand, the README markers, and the non-degeneracy of every
preset on the shipped prior bank."""
import numpy as np
import pandas as pd
import pytest

from engine.bench.presets import (
    DEFAULT_BANK,
    END,
    MAX_MEAN,
    MIN_GAP,
    MIN_STD,
    START,
    BankError,
    load_bank,
    main,
    preset_stats,
    preset_table,
    to_markdown,
    write_table,
)
from engine.chem.properties import PROPERTY_NAMES
from engine.chem.rewards import Reward, Term, list_presets


def bank_with(qed) -> pd.DataFrame:
    data = {p: np.ones(len(qed)) for p in PROPERTY_NAMES}
    data["qed"] = np.asarray(qed, dtype=float)
    return pd.DataFrame({"smiles": [f"C{i}" for i in range(len(qed))], **data})


QED_REWARD = Reward("qed", (Term("qed", "maximize", 0.0, 1.0),), key="q")


def test_stats_by_hand():
    stats = preset_stats(QED_REWARD, bank_with([0.0, 0.5, 1.0, 0.5]))
    assert stats["mean"] == pytest.approx(0.5) and stats["r_star"] == 1.0
    assert stats["std"] == pytest.approx(np.sqrt(0.125))  # population std
    assert stats["passes"] and stats["key"] == "q"


@pytest.mark.parametrize("qed, failing", [
    ([0.5, 0.5, 0.5, 0.52], "std_ok"),       # too flat
    ([0.95, 1.0, 0.9, 1.0], "mean_ok"),      # almost everything already scores high
    ([0.0] * 99 + [0.08], "gap_ok"),          # the best is barely above the mean
])
def test_each_criterion_can_fail(qed, failing):
    stats = preset_stats(QED_REWARD, bank_with(qed))
    assert not stats[failing] and not stats["passes"]


def test_markdown_and_markers(tmp_path):
    table = preset_table([QED_REWARD], bank_with([0.0, 1.0]))
    markdown = to_markdown(table, "`bank.parquet` (2 molecules)")
    assert "| `q` | qed |  | 0.500 | 0.500 | 1.000 | yes | yes | yes |" in markdown
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold table\n{END}\noutro\n")
    write_table(readme, markdown)
    write_table(readme, markdown)  # idempotent
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{END}\noutro\n")
    assert "old table" not in text and text.count("| `q` |") == 1
    readme.write_text("no markers here\n")
    with pytest.raises(BankError, match="needs the lines"):
        write_table(readme, markdown)


def test_bank_errors_and_subset(tmp_path):
    with pytest.raises(BankError, match="no prior bank there; pass --bank"):
        load_bank(tmp_path / "missing.parquet")
    path = tmp_path / "bank.parquet"
    bank_with(np.linspace(0, 1, 10)).drop(columns=["tpsa"]).to_parquet(path)
    with pytest.raises(BankError, match="missing property columns tpsa"):
        load_bank(path)
    bank_with(np.linspace(0, 1, 10)).to_parquet(path)
    assert len(load_bank(path, rows=4, seed=1)) == 4
    assert load_bank(path, rows=4, seed=1).equals(load_bank(path, rows=4, seed=1))


def test_main_writes_the_readme_and_reports_failures(tmp_path, capsys):
    path = tmp_path / "bank.parquet"
    bank_with(np.linspace(0, 1, 50)).to_parquet(path)
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    code = main(["--bank", str(path), "--readme", str(readme)])
    assert code == 1  # most presets are constant on this artificial bank
    text = readme.read_text()
    assert "`bank.parquet` (50 molecules)" not in text and "(50 molecules)" in text
    assert all(f"| `{r.key}` |" in text for r in list_presets())
    assert main(["--bank", str(tmp_path / "nope.parquet"), "--readme", str(readme)]) == 2
    assert "error: " in capsys.readouterr().err


@pytest.mark.skipif(not DEFAULT_BANK.is_file(), reason=f"no shipped prior bank at "
                    f"{DEFAULT_BANK} yet (it comes with the checkpoint)")
def test_every_preset_is_non_degenerate_on_the_shipped_bank():
    table = preset_table(list_presets(), load_bank(DEFAULT_BANK))
    failing = table[~table["passes"]]
    assert failing.empty, (f"presets failing std >= {MIN_STD}, mean <= {MAX_MEAN}, "
                           f"r(y*) >= mean + {MIN_GAP}:\n{failing.to_string()}")


def test_known_drugs_table_and_the_terms_the_whole_bank_meets(tmp_path):
    from engine.bench import drugs

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{drugs.START}\nold\n{drugs.END}\nrest\n")
    assert drugs.main(["--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro") and text.endswith("rest\n")
    assert "| diazepam | CNS |" in text and "| lisinopril | non-CNS |" in text

    scores = drugs.drug_scores(pd.read_csv(drugs.DRUGS), ["cns_penetrant"])
    assert len(scores) == 20 and scores["group"].value_counts().to_dict() == {
        "CNS": 10, "non-CNS": 10}
    by_group = scores.groupby("group")["cns_penetrant"].mean()
    assert by_group["CNS"] > by_group["non-CNS"]          # the preset means what it says

    met = drugs.met_by_bank(list_presets(), load_bank(DEFAULT_BANK))
    assert set(zip(met["preset"], met["property"])) == {("cns_penetrant", "mw"),
                                                        ("rule_of_three", "hbd")}
    presets = {r.key: r for r in list_presets()}
    for key in met["preset"]:      # each such term says in its preset why it stays
        assert "prior bank" in presets[key].rationale and "stays" in presets[key].rationale
