"""The error types that carry a message meant for a person (CLI prints them, app shows them)."""
from engine.chem.rewards import RewardError
from engine.chem.structures import SmartsError
from engine.cli import UsageError
from engine.model.checkpoint import CheckpointError
from engine.model.tokenizer import TokenizerError
from engine.sampling.sampler import SamplingError
from engine.train.data import DataError
from engine.train.finetune import FinetuneError

USER_ERRORS: tuple[type[Exception], ...] = (DataError, CheckpointError, TokenizerError,
                                            RewardError, SamplingError, UsageError,
                                            SmartsError, FinetuneError, FileNotFoundError)
