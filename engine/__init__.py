"""RCFG Studio engine: properties, rewards, a conditional SMILES GPT and its guided sampler."""

__version__ = "0.1.0"
