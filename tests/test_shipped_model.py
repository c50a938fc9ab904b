"""The shipped checkpoint loads and samples valid molecules on a CPU."""
from engine.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from engine.sampling.sampler import SampleSettings, sample
from engine.chem.rewards import load_reward


def test_shipped_checkpoint_samples_valid_molecules():
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    assert len(ckpt.bank) >= 20000
    result = sample(ckpt, load_reward("drug_like"),
                    SampleSettings(method="base", n=64, seed=0, device="cpu"))
    assert result.summary["validity"] >= 0.8


def test_shipped_checkpoint_records_its_quality():
    meta = load_checkpoint(DEFAULT_CHECKPOINT).meta
    quality = meta["quality"]
    assert quality["unconditional"]["n"] == 10000
    assert set(quality["fidelity"]["spearman"]) == set(meta["properties"])
    assert meta["data"]["source"].startswith("moses")
