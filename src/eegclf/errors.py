"""User-facing errors.

Anything raised as :class:`EEGClfError` is a problem with the user's input (a file, a value, a name):
the CLI prints its message on one line and exits non-zero, without a traceback.

A message about a parameter names it as the library's caller knows it, ``trials=0 is invalid: ...``, and
the error carries that name in ``param`` (one name or several). The command line rewrites each
``name=`` of those names into the flag that sets it (``--trials 0 is invalid: ...``); the library itself
never spells a flag.
"""


class EEGClfError(Exception):
    """A clear, one-line problem with the user's input.

    ``param``: the parameter(s) the message names as ``name=VALUE`` (e.g. ``"out"``, or ``("storage",
    "study")``), so that a front end can say them in its own words; None when it names none.
    """

    def __init__(self, *args, param: str | tuple[str, ...] | None = None):
        super().__init__(*args)
        self.param = param

    @property
    def params(self) -> tuple[str, ...]:
        """The names in ``param`` as a tuple (empty when there are none)."""
        if self.param is None:
            return ()
        return (self.param,) if isinstance(self.param, str) else tuple(self.param)


class DataError(EEGClfError, ValueError):
    """A data set, file or array is missing or not what was expected."""


class CheckpointError(EEGClfError, ValueError):
    """A checkpoint is missing, corrupt, unsafe or does not fit the request."""


class ConfigError(EEGClfError, ValueError):
    """A configuration value is out of range or unknown."""


class TrainingError(EEGClfError, RuntimeError):
    """Training could not go on with these settings (e.g. the loss diverged)."""
