"""Shared fixtures: a data folder prepared from the checked-in SMILES fixture and a tiny
model trained on it (seconds on a CPU)."""
from pathlib import Path

import pytest

FIXTURE_CSV = Path(__file__).parent / "data" / "smiles.csv"
TINY = dict(n_layer=2, n_head=2, d_model=32, n_prefix=2, batch_size=32, lr=3e-3, min_lr=3e-4,
            warmup_steps=5, max_steps=40, eval_every=20, bank_size=200, device="cpu")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    from engine.train.data import prepare_dataset, read_smiles_csv

    out = tmp_path_factory.mktemp("data")
    prepare_dataset(read_smiles_csv(FIXTURE_CSV, "smiles"), out, "fixture", n_jobs=1,
                    progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(data_dir, tmp_path_factory) -> Path:
    from engine.train.pretrain import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny_model")
    train(TrainConfig(data=str(data_dir), out=str(out), **TINY), progress=False)
    return out


@pytest.fixture(autouse=True)
def project_folder(tmp_path_factory, monkeypatch) -> Path:
    """Every test's dashboard keeps its runs in a project of its own, never the
    repository's default one."""
    folder = tmp_path_factory.mktemp("project")
    monkeypatch.setenv("RCFG_PROJECT", str(folder))
    return folder
