"""User-facing errors.

Anything raised as :class:`EEGClfError` is a problem with the user's input (a file, a value, a name):
the CLI prints its message on one line and exits non-zero, without a traceback.
"""


class EEGClfError(Exception):
    """A clear, one-line problem with the user's input."""


class DataError(EEGClfError, ValueError):
    """A data set, file or array is missing or not what was expected."""


class CheckpointError(EEGClfError, ValueError):
    """A checkpoint is missing, corrupt, unsafe or does not fit the request."""


class ConfigError(EEGClfError, ValueError):
    """A configuration value is out of range or unknown."""


class TrainingError(EEGClfError, RuntimeError):
    """Training could not go on with these settings (e.g. the loss diverged)."""
