"""Config files: the shipped configs, finding one by name, and reading TOML within bounds.

:func:`find_config` resolves ``stdp-ebm run stdp_window`` to a shipped config (:data:`CONFIGS_DIR`)
or a file; :func:`read_toml` reads a config (or a model file, :mod:`stdp_ebm.models`) and refuses,
in one line, what cannot be one: a special or over-large file, bad UTF-8, a syntax error, or keys
and tables nested deeper than :data:`MAX_DEPTH`. What the file says is validated by
:mod:`stdp_ebm.config`, from which these names are importable too.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError, UserError, did_you_mean

__all__ = ["read_toml", "find_config", "shipped_configs", "source_name", "CONFIGS_DIR",
           "MAX_CONFIG_BYTES", "MAX_DEPTH"]


#: the configs that ship with the package (the repository's ``experiments/`` links here); pip installs
#: packages unzipped, so this is a real folder
CONFIGS_DIR = Path(str(resources.files("stdp_ebm").joinpath("configs")))


def shipped_configs() -> dict[str, Path]:
    """The shipped experiment configs by name.

    Returns
    -------
    dict of str to pathlib.Path
        Config name (``"stdp_window"``) → its TOML file in :data:`CONFIGS_DIR`, sorted by name.
    """
    return {p.stem: p for p in sorted(CONFIGS_DIR.glob("*.toml"))}


def find_config(name_or_path: str | Path) -> Path:
    """An existing config file, or a shipped config by bare name.

    A bare name (``stdp_window`` or ``stdp_window.toml``, no folder) that is no file in the
    working directory names a shipped config, so ``stdp-ebm run stdp_window`` works from any
    directory.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        A path to a config file, or the name of a shipped config.

    Returns
    -------
    pathlib.Path
        The file: ``name_or_path`` itself if it is a file or has a folder part (whether or not it
        exists), else the shipped config of that name.

    Raises
    ------
    ConfigError
        A bare name that is neither a file nor a shipped config.
    """
    path = Path(name_or_path)
    if path.is_file() or path.parent != Path("."):  # a run directory named "alignment" is no config
        return path
    shipped = shipped_configs()
    name = path.stem if path.suffix == ".toml" else path.name
    if name in shipped:
        return shipped[name]
    raise ConfigError(f"{name_or_path}: no such config file and no shipped config of that name"
                      f"{did_you_mean(name, list(shipped))} (shipped: {', '.join(shipped)})")


def source_name(path: str | Path) -> str:
    """How errors name a config: a shipped config by its name (``stdp_window``, as the user
    typed it for ``stdp-ebm run``), not by its path inside the installed package; any other
    file by the path as given.

    Parameters
    ----------
    path : str or pathlib.Path
        The config file.

    Returns
    -------
    str
        The shipped config's name, or ``path`` as given.
    """
    path = Path(path)
    if path.parent == CONFIGS_DIR and shipped_configs().get(path.stem) == path:
        return path.stem
    return str(path)


#: the largest config (or model) file :func:`read_toml` reads, in bytes
MAX_CONFIG_BYTES = 1 << 20


def read_toml(path: str | Path, *, what: str = "config", limit: int = MAX_CONFIG_BYTES,
              error: type[UserError] = ConfigError) -> dict[str, Any]:
    """Read a TOML file, refusing what cannot be a config in one line.

    The model files (:mod:`stdp_ebm.models`) are read here too.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    what : str
        What the file is called in errors (``"config"``, ``"model"``).
    limit : int
        The largest size read, in bytes.
    error : type of UserError
        The error raised (:class:`ConfigError` by default).

    Returns
    -------
    dict
        The parsed TOML.

    Raises
    ------
    UserError
        ``error``, for a missing, special or over-large (> ``limit`` bytes) file, bad UTF-8, a
        syntax error or nesting too deep to parse.
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            raise error(f"{path}: not a regular file")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.__class__.__name__})") from None
    if len(data) > limit:
        raise error(f"{path}: larger than {limit} bytes; not a {what}")
    try:
        text = data.decode("utf-8")
        if _DOTTED_CHAIN.search(text):  # tomllib's time and memory grow as its square
            raise error(f"{path}: a dotted key of more than {MAX_DEPTH} parts")
        raw = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise error(f"{path}: cannot read {what} ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise error(f"{path}: tables or arrays nested too deeply") from None
    if _too_deep(raw):
        raise error(f"{path}: tables or arrays nested more than {MAX_DEPTH} deep")
    return raw


#: the deepest nesting of tables, arrays and dotted keys a config may have
MAX_DEPTH = 16  # a config is section.key = [values]; a sweep adds [sweep.grid] section.key
_SEGMENT = r"""(?:[A-Za-z0-9_-]++|"[^"\n]*+"|'[^'\n]*+')"""  # possessive: linear time
_DOTTED_CHAIN = re.compile(rf"(?<![A-Za-z0-9_-])(?:{_SEGMENT}[ \t]*+\.[ \t]*+){{{MAX_DEPTH}}}"
                           rf"{_SEGMENT}")


def _too_deep(value: Any) -> bool:
    """Whether tables/arrays nest deeper than :data:`MAX_DEPTH` (iteratively: no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) \
            else ()
        stack.extend((child, depth + 1) for child in children)
    return False
