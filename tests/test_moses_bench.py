"""The MOSES metric runner's shims: the restricted unpickler, rdkit.six and
DataFrame.append, and (when the molsets wheel is cached) molsets imported through them."""
import io
import os
import pickle
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from engine.bench import moses


def test_restricted_load_reads_arrays_and_counters_and_refuses_code():
    data = {"FCD": {"mu": np.arange(3.0)}, "Scaf": {"scaf": Counter({"c1ccccc1": 2})}}
    back = moses.restricted_load(io.BytesIO(pickle.dumps(np.array(data, dtype=object))))
    assert back.item()["Scaf"]["scaf"]["c1ccccc1"] == 2
    assert back.item()["FCD"]["mu"].tolist() == [0.0, 1.0, 2.0]
    assert moses.restricted_load(io.BytesIO(pickle.dumps([[1, 2.5]]))) == [[1, 2.5]]

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="system is not allowed"):
        moses.restricted_load(io.BytesIO(pickle.dumps(Evil())))


def test_frame_append_exists_only_inside_the_block():
    assert not hasattr(pd.DataFrame, "append")        # pandas 3
    with moses._frame_append():
        joined = pd.DataFrame({"a": [1]}).append(pd.DataFrame({"a": [2]}), sort=True)
    assert joined["a"].tolist() == [1, 2] and not hasattr(pd.DataFrame, "append")


def test_six_shim_iteritems():
    assert list(moses._six_module().iteritems({"a": 1})) == [("a", 1)]


@pytest.mark.skipif(not list(moses.CACHE_DIR.glob("molsets-0.3.1-*.whl")),
                    reason="the molsets wheel is not cached (python -m engine.bench.moses "
                           "fetches it)")
def test_molsets_runs_through_the_shims():
    metrics = moses.import_moses()
    stats = moses.load_statistics(moses.unpack_molsets(), "test")
    assert stats["FCD"]["mu"].shape == (512,) and len(stats["SNN"]["fps"]) > 100_000
    assert metrics.fraction_valid(["CCO", "C1CC", ""]) == pytest.approx(1 / 3)
    assert 1.0 < metrics.SA(metrics.get_mol("CCO")) < 3.0   # fragment scores, no pickle
    counts = Counter({f"fragment{i}": 126_225 for i in range(3000)})   # |u|^2 ~ 5e13
    assert metrics.cos_similarity(counts, counts) == pytest.approx(1.0)  # Frag, no overflow
    assert not hasattr(pd.DataFrame, "append")


def test_cosine_on_large_counts_does_not_overflow():
    big = np.array([126_225, 90_000, 50_000] * 2000, dtype=np.int64)   # |u|^2 ~ 5e13
    assert moses.float_cosine(big, big) == pytest.approx(0.0, abs=1e-12)
    assert moses.float_cosine(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
