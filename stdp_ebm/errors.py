"""Exceptions that the CLI turns into one line on stderr and exit status 2.

Everything a user can get wrong (a config key, a network file, a CLI flag) and every numerical
failure of a run (no convergence, NaN states, runaway rates) raises a subclass of :class:`UserError`.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["UserError", "ConfigError", "NetworkFileError", "ModelFileError", "DataError",
           "ConvergenceError", "DivergenceError", "PointTimeout", "DeviceError", "did_you_mean"]


class UserError(Exception):
    """Bad input or a failed run that the user can act on; reported in one line, exit status 2."""


class ConfigError(UserError):
    """An invalid experiment config (TOML syntax, unknown key, wrong type, out-of-range value)."""


class NetworkFileError(UserError):
    """An invalid network file (missing or extra arrays, shapes, non-finite values)."""


class ModelFileError(UserError):
    """An invalid Brian2 model file, shipped or the user's (unknown keys, missing parameters, units)."""


class DataError(UserError):
    """A data set that is missing, corrupt or does not match its canonical checksum."""


class ConvergenceError(UserError):
    """A relaxation did not reach its fixed point within the allowed number of steps."""


class DivergenceError(UserError):
    """A simulation produced NaN/Inf states or runaway rates."""


class PointTimeout(UserError):
    """A sweep point ran past ``[sweep] timeout``."""


def did_you_mean(name: str, options: list[str]) -> str:
    """The one hint every error about an unknown name (config key, model file, experiment) gives.

    Parameters
    ----------
    name : str
        The misspelt name the user gave.
    options : list of str
        The names that exist.

    Returns
    -------
    str
        ``"; did you mean 'x'?"`` for the closest option ``x`` (difflib ratio ≥ 0.5), else ``""``.

    Examples
    --------
    >>> did_you_mean("sedd", ["seed", "network"])
    "; did you mean 'seed'?"
    >>> did_you_mean("zzz", ["seed"])
    ''
    """
    import difflib

    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f"; did you mean '{match[0]}'?" if match else ""


class InputError(UserError):
    """An input file that changed since the run started, is damaged, or is too large to read."""


class RunDirError(UserError):
    """A run directory that is damaged, locked by another run, or not a run directory."""


class ResourceError(UserError):
    """A config (or worker count) whose estimated memory exceeds the limit (``--max-memory``)."""


class DeviceError(UserError):
    """A Brian2 device used in a way it cannot serve (a second standalone program in one process)."""


class OutLocked(RunDirError):
    """``--out`` is being written by another run (it holds the lock beside it)."""


class NonFiniteResult(UserError):
    """A run that finished and wrote its run directory, but whose headline numbers are not finite
    (NaN or ±inf). Exit status 3, distinct from bad input (2): the directory is there to inspect;
    ``--allow-nonfinite`` accepts it (exit 0)."""

    exit_status = 3
