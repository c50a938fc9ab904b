"""`rewards`: the reward presets, one line each."""
from __future__ import annotations


def run_rewards(args) -> int:
    from engine.chem.rewards import PRESET_DIR, list_presets  # noqa: PLC0415

    presets = list_presets()
    width = max((len(r.key) for r in presets), default=3)
    print(f"{'key':<{width}}  {'support':<7}  name: description")
    for r in presets:
        support = "OUT" if r.out_of_support else "in"
        print(f"{r.key:<{width}}  {support:<7}  {r.name}: {r.description}")
    print(f"{len(presets)} presets in {PRESET_DIR}; use a key or a .toml path with --reward")
    return 0


def rewards_options(rw) -> None:
    rw.set_defaults(func=run_rewards)
