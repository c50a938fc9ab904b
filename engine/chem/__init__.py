"""Chemistry: the 25 properties and the reward object."""
from engine.chem.properties import (
    PROPERTY_NAMES,
    batch_properties,
    canonical_smiles,
    properties,
    to_mol,
)
from engine.chem.rewards import (
    PRESET_DIR,
    Reward,
    RewardError,
    Term,
    list_presets,
    load_reward,
)

__all__ = ["PRESET_DIR", "PROPERTY_NAMES", "Reward", "RewardError", "Term", "batch_properties",
           "canonical_smiles", "list_presets", "load_reward", "properties", "to_mol"]
