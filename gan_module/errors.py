"""The one exception type that means "the configuration is wrong": main.py prints it without a traceback."""


class ConfigError(ValueError):
    """A setting or an input file that must be changed before training can start."""


class DivergenceError(RuntimeError):
    """A loss or gradient became NaN or infinite; raised before the optimizer step, so no weight is poisoned."""
