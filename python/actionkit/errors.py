"""actionkit's error types: what was wrong with a user's input, as opposed to a bug.

The command-line tools print an :class:`ActionkitError` as one line (exit status 1) and
let anything else keep its traceback (``--debug`` or ``ACTIONKIT_TRACEBACK=1`` show
tracebacks always). Each type is also the built-in exception that code catching errors
today expects (``ConfigError`` is a ``ValueError``, ``DecodeError`` a ``RuntimeError``).
"""


class ActionkitError(Exception):
    """A problem with the user's input that the message describes completely."""


class ConfigError(ActionkitError, ValueError):
    """A config that cannot be used; the message names the file and key path."""


class DataError(ActionkitError, ValueError):
    """An annotation file, list or dataset that cannot be used; names the file and line."""


class CheckpointError(ActionkitError, ValueError):
    """A checkpoint that cannot be read or does not fit the model; names the file."""


class UsageError(ActionkitError, ValueError):
    """Arguments to a tool or an API call that cannot work; names the argument."""


class DivergenceError(ActionkitError, FloatingPointError):
    """Training produced non-finite values; names the iteration and the last checkpoint."""
