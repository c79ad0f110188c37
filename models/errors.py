"""The network's own exceptions, with messages meant for a person.

models/ imports nothing from the tool around it, so it has its own error types; the command
line (``fgemotalk_cli.errors.user_error``) turns them into its one-line, exit-code-2 errors.
"""

from __future__ import annotations


class ModelError(Exception):
    """Base class: something the user gave the network cannot be used; the message says what."""


class CheckpointError(ModelError):
    """A checkpoint is missing, foreign, corrupted or does not fit the request."""


class ConfigError(ModelError):
    """A model configuration is invalid."""


class AUError(ModelError):
    """An Action Unit the checkpoint was not trained on, or an intensity out of range."""


class WeightsError(ModelError):
    """A weights file (Wav2Vec2, a loss backbone) is missing or wrong."""
