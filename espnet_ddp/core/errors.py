"""Exceptions raised by the pure core."""


class ConfigError(ValueError):
    """An invalid or contradictory option.

    The message always starts with the option as the user wrote it, e.g.
    ``"--data_pruning_conf keep_ratio=1.5: must be in (0, 1]"``.
    """
