"""What grammar-safe decoding and ring checks remove: invalid SMILES by cause.

`python -m engine.bench.validity --n 1000` samples `base` (top-p 1) and RCFG (the
defaults, and the paper's z-scored gamma 2 without plausibility) on `--reward`, each with
the grammar mask off, on without ring checks, and on with them (same seed), and sorts every
invalid SMILES into unparsable (syntax), kekulization, valence or other, with RDKit.
Writes `bench_results/validity.json`.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from rdkit import Chem, RDLogger

from engine.chem.rewards import load_reward
from engine.model.checkpoint import load_checkpoint
from engine.sampling.sampler import SampleSettings, sample

ROOT = Path(__file__).resolve().parents[2]
CAUSES = ("empty", "unparsable", "kekulize", "valence", "other")
RUNS = {"base, top-p 1": dict(method="base", top_p=1.0),
        "RCFG defaults": dict(method="rcfg"),
        "RCFG z, gamma 2, no plausibility": dict(method="rcfg", advantage="z", gamma=2.0,
                                                 plausibility=0.0)}

DECODING = {"no mask": dict(grammar=False),
            "grammar": dict(grammar=True, ring_check=False),
            "grammar + ring checks": dict(grammar=True, ring_check=True)}


def failure(smiles: str) -> str:
    """Why a SMILES is not a molecule: empty, unparsable, kekulize, valence or other ("ok"
    if RDKit accepts it)."""
    if not smiles:
        return "empty"
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return "unparsable"
    try:
        Chem.SanitizeMol(mol)
    except Chem.KekulizeException:
        return "kekulize"
    except Chem.AtomValenceException:
        return "valence"
    except Exception:  # noqa: BLE001 (any other sanitization failure)
        return "other"
    return "ok"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--reward", default="veber")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "validity.json")
    args = parser.parse_args(argv)
    ckpt, reward = load_checkpoint(args.checkpoint), load_reward(args.reward)
    results = {"n": args.n, "reward": reward.key, "date": time.strftime("%Y-%m-%d"),
               "runs": {}}
    print("| run | decoding | validity | " + " | ".join(CAUSES) + " |\n|"
          + "---|" * (3 + len(CAUSES)))
    for name, kw in RUNS.items():
        for label, safe in DECODING.items():
            frame = sample(ckpt, reward, SampleSettings(**kw, **safe, n=args.n,
                                                        seed=args.seed,
                                                        device=args.device)).molecules
            causes = Counter(failure(s) for s in frame.loc[~frame["valid"], "smiles"])
            row = {"validity": float(frame["valid"].mean()),
                   **{k: causes.get(k, 0) for k in CAUSES}}
            results["runs"][f"{name} / {label}"] = row
            print(f"| {name} | {label} | {row['validity']:.3f} | "
                  + " | ".join(str(row[k]) for k in CAUSES) + " |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
