"""Experiment configs: TOML files validated at the boundary against a declarative schema.

A config is a TOML file with top-level keys ``experiment`` (which experiment runs it), ``seed`` (the
master seed) and ``description``, and one table per section of the experiment's schema. Every key has
a type, a default, a documented range; anything else is rejected with one line that names the file,
the key and what is allowed (with a "did you mean" for misspelt keys). Configs are data only: nothing
is eval'd. Finding and reading the files is :mod:`stdp_ebm.config_files` (its names are
importable from here).
"""

from __future__ import annotations

import copy
import math
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .config_files import (CONFIGS_DIR, MAX_CONFIG_BYTES, MAX_DEPTH, find_config,  # noqa: F401
                           read_toml, shipped_configs, source_name)
from .errors import ConfigError, DataError, did_you_mean

__all__ = ["Key", "validate", "read_toml", "find_config", "shipped_configs", "CONFIGS_DIR",
           "DATA_DIR", "data_dir_key", "data_directory", "describe_keys"]

KINDS = ("float", "int", "bool", "str", "floats", "ints")
#: upper bound of an integer key that declares none: no count, size or step number in a
#: config is sane beyond it (and memory is checked separately, see :mod:`stdp_ebm.resources`)
INT_CEILING = 10**7


@dataclass(frozen=True)
class Key:
    """One config key: its kind, default, documentation and allowed range.

    Parameters
    ----------
    kind : str
        One of ``float``, ``int``, ``bool``, ``str``, ``floats`` (list of float) or ``ints``
        (list of int).
    default : Any
        The value taken when a config does not set the key.
    doc : str
        What the key means, with its unit; shown by ``stdp-ebm keys``.
    low, high : float or None
        Bounds of a number (and of every item of a list); None: unbounded on that side.
    open_low, open_high : bool
        Make the bound ``low`` (``high``) strict.
    choices : tuple of str
        The allowed values of a string (empty: any string).
    min_len : int
        The least length of a list.

    Examples
    --------
    >>> Key("float", 0.5, "step size", low=0, open_low=True, high=1).allowed()
    'a number > 0 and <= 1'
    """

    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] = ()
    min_len: int = 1

    @property
    def upper(self) -> float | None:
        """``high``, or :data:`INT_CEILING` for an integer key that declares no ``high``.

        Returns
        -------
        float or None
            The upper bound checked; None: unbounded above.
        """
        if self.high is None and self.kind in ("int", "ints"):
            return INT_CEILING
        return self.high

    def allowed(self) -> str:
        """A human-readable statement of the allowed values.

        Returns
        -------
        str
            E.g. ``"an integer >= 1 and <= 10000000"`` or ``"one of 'a', 'b'"``; error messages
            append it to ``"must be "``.
        """
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        what = {"floats": "a list of numbers", "ints": "a list of integers", "float": "a number",
                "int": "an integer", "bool": "true or false", "str": "a string"}[self.kind]
        def show(v: float) -> str:
            return str(int(v)) if self.kind in ("int", "ints") and v == int(v) else f"{v:g}"
        lo = None if self.low is None else f"{'>' if self.open_low else '>='} {show(self.low)}"
        hi = None if self.upper is None else f"{'<' if self.open_high else '<='} {show(self.upper)}"
        rng = " and ".join(r for r in (lo, hi) if r)
        if self.kind in ("floats", "ints"):
            what += (f" (at least {self.min_len})" if self.min_len else "") + \
                (f", each {rng}" if rng else "")
        elif rng:
            what += f" {rng}"
        return what


Section = Mapping[str, Key]
Schema = Mapping[str, Section]

TOP_LEVEL: dict[str, Key] = {
    "experiment": Key("str", "", "which experiment this config runs"),
    "seed": Key("int", 1234, "master seed; every random stream is derived from it", low=0,
                high=2**63 - 1),
    "description": Key("str", "", "free text, copied to the manifest"),
}


#: the one key that names a data directory, in every experiment that reads data files
DATA_DIR = "data.dir"
#: former spellings of keys, answered with "did you mean" the key that replaced them
RENAMED = {"data.data_dir": DATA_DIR, "task.data_dir": DATA_DIR}


def data_dir_key(default: str, doc: str) -> Key:
    """The ``[data] dir`` key (:data:`DATA_DIR`) with an experiment's default and documentation.

    Parameters
    ----------
    default : str
        The experiment's default directory.
    doc : str
        What the directory holds; a note that relative paths are taken from the working
        directory is appended.

    Returns
    -------
    Key
        A ``str`` key.
    """
    return Key("str", default, doc + " (relative paths: to the working directory)")


def data_directory(value: str | Path, needed_for: str) -> Path:
    """The existing directory that the value of :data:`DATA_DIR` names.

    Parameters
    ----------
    value : str or pathlib.Path
        The value of :data:`DATA_DIR` in the config.
    needed_for : str
        What the directory is needed for; quoted in the error.

    Returns
    -------
    pathlib.Path
        ``value`` as a path.

    Raises
    ------
    DataError
        If no such directory exists; the message names the key, the directory and
        ``needed_for``.
    """
    path = Path(value)
    if not path.is_dir():
        raise DataError(f"{DATA_DIR} = {str(path)!r}: no such directory ({path.absolute()}); "
                        f"{needed_for}; set it with --set {DATA_DIR}=DIR")
    return path


def _renamed(section: str, name: str) -> str:
    new = RENAMED.get(f"{section}.{name}")
    return f"; did you mean '{new}'? ([{section}] {name} is its former name)" if new else ""


def suggest(name: str, options: list[str]) -> str:
    """"; did you mean 'x'?" for the closest of ``options``, else the list of allowed names."""
    hint = did_you_mean(name, options)
    if hint:
        return hint
    return "; allowed: " + ", ".join(sorted(options)) if options else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_number(value: Any, key: Key, integer: bool) -> str | None:
    if integer and not (isinstance(value, int) and not isinstance(value, bool)):
        return "must be " + key.allowed()
    if not _is_number(value) or not math.isfinite(value):
        return "must be " + key.allowed()
    if key.low is not None and (value <= key.low if key.open_low else value < key.low):
        return "must be " + key.allowed()
    if key.upper is not None and (value >= key.upper if key.open_high else value > key.upper):
        return "must be " + key.allowed()
    return None


def coerce(value: Any, key: Key) -> tuple[Any, str | None]:
    """Check ``value`` against ``key``; return the normalised value and an error text or None."""
    if key.kind in ("float", "int"):
        problem = _check_number(value, key, key.kind == "int")
        return (float(value) if key.kind == "float" and problem is None else value), problem
    if key.kind == "bool":
        return value, None if isinstance(value, bool) else "must be true or false"
    if key.kind == "str":
        if not isinstance(value, str):
            return value, "must be " + key.allowed()
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from non-UTF-8 bytes in --set
            return value, "must be valid UTF-8 text"
        if key.choices and value not in key.choices:
            return value, "must be " + key.allowed() + suggest(value, list(key.choices))
        return value, None
    if not isinstance(value, list) or len(value) < key.min_len:
        return value, "must be " + key.allowed()
    integer = key.kind == "ints"
    for item in value:
        if _check_number(item, key, integer) is not None:
            return value, "must be " + key.allowed()
    return ([float(v) for v in value] if not integer else list(value)), None


def fail(source: str, where: str, value: Any, problem: str) -> ConfigError:
    """The one-line error "SOURCE: WHERE = VALUE: PROBLEM" (long values shortened)."""
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ConfigError(f"{source}: {where} = {shown}: {problem}")


def validate(raw: Mapping[str, Any], schema: Schema, source: str) -> dict[str, Any]:
    """Validate a parsed config against ``schema`` and fill in defaults.

    A section whose schema is a typed section's (:class:`stdp_ebm.sections.SectionSchema`) is also
    built once, which runs its cross-key checks.

    Parameters
    ----------
    raw : Mapping[str, Any]
        The parsed config (e.g. from :func:`read_toml`): top-level keys and one table per section.
        A ``[sweep]`` table is allowed and left out of the result.
    schema : Mapping[str, Mapping[str, Key]]
        The experiment's keys, section name → key name → :class:`Key`.
    source : str
        How errors name the config (its file name).

    Returns
    -------
    dict
        A new nested dict with every top-level key and every key of the schema present, values
        normalised (floats as float, lists as lists).

    Raises
    ------
    ConfigError
        On the first problem found: one line naming ``source``, the key and the allowed values.
    """
    out: dict[str, Any] = {}
    sections = [s for s in schema] + ["sweep"]
    for name, value in raw.items():
        if isinstance(value, dict):
            if name not in schema:
                raise ConfigError(f"{source}: unknown section [{name}]{suggest(name, sections)}")
            continue
        if name in schema:
            raise fail(source, name, value, f"must be a table [{name}] of keys")
        if name not in TOP_LEVEL:
            raise ConfigError(
                f"{source}: unknown top-level key '{name}'"
                f"{suggest(name, list(TOP_LEVEL) + sections)}")
        coerced, problem = coerce(value, TOP_LEVEL[name])
        if problem:
            raise fail(source, name, value, problem)
        out[name] = coerced
    for name, key in TOP_LEVEL.items():
        out.setdefault(name, key.default)
    for section, keys in schema.items():
        given = raw.get(section, {})
        for name in given:
            if name not in keys:
                raise ConfigError(f"{source}: unknown key [{section}] {name}"
                                  f"{_renamed(section, name) or suggest(name, list(keys))}")
        resolved = {}
        for name, key in keys.items():
            value = given.get(name, key.default)
            coerced, problem = coerce(value, key)
            if problem:
                raise fail(source, f"[{section}] {name}", value, problem)
            resolved[name] = coerced
        params = getattr(keys, "params", None)  # a typed section checks its keys together
        if params is not None:
            try:
                params.of({section: resolved})
            except ConfigError as exc:
                raise ConfigError(f"{source}: {exc}") from None
        out[section] = resolved
    return out


def _literal(value: Any, width: int = 70) -> str:
    """``value`` as TOML writes it (``--set`` takes the same syntax), shortened past ``width``."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(value, list):
        text = "[" + ", ".join(_literal(v) for v in value) + "]"
    elif isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        text = str(int(value)) + ".0"
    else:
        text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def describe_keys(cfg: Mapping[str, Any], schema: Schema) -> list[str]:
    """The keys of a validated config, one block each (``stdp-ebm keys``).

    Parameters
    ----------
    cfg : Mapping[str, Any]
        A validated config (:func:`validate`).
    schema : Mapping[str, Mapping[str, Key]]
        The experiment's schema, section name → key name → :class:`Key`.

    Returns
    -------
    list of str
        Lines: for each key ``key = value`` (and the default where it differs), then the
        documentation and the allowed values, indented; a ``[section]`` line before each
        section.
    """
    def block(name: str, key: Key, value: Any) -> list[str]:
        head = f"{name} = {_literal(value)}"
        same = value == key.default or (key.kind == "float" and _is_number(key.default)
                                        and float(key.default) == value)
        if not same and name not in ("experiment", "description"):
            head += f"    (default {_literal(key.default)})"
        doc = key.doc.rstrip(". ")
        text = f"{doc}. Allowed: {key.allowed()}." if doc else f"Allowed: {key.allowed()}."
        return [head] + textwrap.wrap(text, 96, initial_indent="    ", subsequent_indent="    ",
                                      break_on_hyphens=False)

    lines: list[str] = []
    for name, key in TOP_LEVEL.items():
        lines += block(name, key, cfg.get(name, key.default))
    for section, keys in schema.items():
        lines += ["", f"[{section}]"]
        for name, key in keys.items():
            lines += block(name, key, cfg.get(section, {}).get(name, key.default))
    if "sweep" in cfg:
        lines += ["", "[sweep]", "    a sweep over the keys above (docs/cli.md, 'Sweeps')"]
    return lines


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``section.key=value`` (value in TOML syntax; bare words are strings)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    path, _, value_text = text.partition("=")
    parts = [p.strip() for p in path.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {value_text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text.strip()
    return parts, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``section.key=value`` override applied.

    Deeper paths address nested tables, e.g. ``sweep.grid.dynamics.epsilon=[0.2, 0.5]``.
    """
    out = copy.deepcopy(raw)
    for text in overrides:
        parts, value = parse_override(text)
        table = out
        for depth, name in enumerate(parts[:-1]):
            table = table.setdefault(name, {})
            if not isinstance(table, dict):
                raise ConfigError(f"--set {text!r}: '{'.'.join(parts[:depth + 1])}' is not a table")
        table[parts[-1]] = value
    return out



def require(condition: bool, source: str, where: str, value: Any, problem: str) -> None:
    """Cross-key check helper: raise a :class:`ConfigError` unless ``condition`` holds."""
    if not condition:
        raise fail(source, where, value, problem)


CrossCheck = Callable[[dict[str, Any], str], None]


def difference(a: Any, b: Any, path: str = "") -> str:
    """The first place where two JSON values differ, as "path: A there, B now"."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) != b.get(key):
                return difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return f"{path or 'plan'}: {a!r} there, {b!r} now"
