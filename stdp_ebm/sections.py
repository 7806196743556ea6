"""Typed parameters: one frozen dataclass per config section.

Each section of a config that library code reads (``[network]``, ``[dynamics]``, ``[spiking]``,
``[calibration]``, ``[train]``, ``[learner]``) is a frozen dataclass whose fields are its keys. A
field is declared once, with :func:`key`: its kind, default, allowed range and documentation (a
:class:`~stdp_ebm.config.Key`). The config schema of the section is derived from the fields
(:meth:`Section.schema`), so the defaults have one source, and the checks of every key and the
cross-key checks (e.g. ``bias_low <= bias_high``) run in the constructor: an object that exists is
valid, however it was made — from a config file, from ``--set``, or in a notebook::

    >>> from stdp_ebm.network import NetworkParams
    >>> NetworkParams(sizes=(4, 3), bias_low=0.5, bias_high=0.1)
    Traceback (most recent call last):
    ...
    stdp_ebm.errors.ConfigError: [network] bias_low = 0.5: must be <= bias_high = 0.1

Experiments validate their whole config at the boundary (:func:`stdp_ebm.config.validate`, which
builds each typed section once to run its checks) and hand these objects, never raw dicts, to the
library. Machine-dependent checks (cores, memory) run when a run starts, so a stored config can be
plotted or resumed on any machine.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, TypeVar

from .config import Key, coerce, fail, suggest
from .errors import ConfigError

__all__ = ["Section", "SectionSchema", "key"]

S = TypeVar("S", bound="Section")


def key(kind: str, default: Any, doc: str, **bounds: Any) -> Any:
    """A dataclass field that is a config key.

    Parameters
    ----------
    kind : str
        ``float``, ``int``, ``bool``, ``str``, ``floats`` or ``ints`` (lists are stored as tuples).
    default : Any
        The default value (the one source of it).
    doc : str
        What the key means, with its unit; shown by ``stdp-ebm keys``.
    **bounds
        ``low``, ``high``, ``open_low``, ``open_high``, ``choices``, ``min_len`` of
        :class:`~stdp_ebm.config.Key`.

    Returns
    -------
    dataclasses.Field
        A field whose metadata holds the :class:`~stdp_ebm.config.Key`.
    """
    spec = Key(kind, default, doc, **bounds)
    if isinstance(default, list):
        return dataclasses.field(default=tuple(default), metadata={"key": spec})
    return dataclasses.field(default=default, metadata={"key": spec})


def _error(section: str, name: str, value: Any, problem: str) -> ConfigError:
    """``[SECTION] NAME = VALUE: PROBLEM`` (the config's source is added where it is known)."""
    return ConfigError(str(fail("", f"[{section}] {name}", value, problem))[2:])


class SectionSchema(dict[str, Key]):
    """The keys of one config section (name → :class:`~stdp_ebm.config.Key`), with the typed
    class that checks them together (:attr:`params`).

    Parameters
    ----------
    params : type[Section]
        The section's dataclass.
    keys : Mapping[str, Key]
        The keys a config of this experiment may set (all of the class's, or a subset).
    """

    def __init__(self, params: type[Section], keys: Mapping[str, Key]) -> None:
        super().__init__(keys)
        self.params = params

    def subset(self, *names: str, **defaults: Any) -> SectionSchema:
        """The keys ``names`` only (an experiment that reads no others), with new ``defaults``.

        Parameters
        ----------
        *names : str
            The keys kept, in order.
        **defaults : Any
            New default values of some of them.

        Returns
        -------
        SectionSchema
            A schema of the same class; keys left out take the class's defaults.
        """
        keys = {n: self[n] for n in names}
        for name, value in defaults.items():
            keys[name] = dataclasses.replace(keys[name], default=value)
        return SectionSchema(self.params, keys)

    def plus(self, **keys: Key) -> SectionSchema:
        """These keys and an experiment's own ``keys`` in the same section (e.g. ``[dynamics]
        dtype`` of the training experiments), validated by the schema and left out of the typed
        section (:meth:`Section.of`).

        Parameters
        ----------
        **keys : Key
            The experiment's keys by name.

        Returns
        -------
        SectionSchema
            A schema of the same class.
        """
        clash = set(keys) & set(self)
        if clash:
            raise ValueError(f"{sorted(clash)} are keys of [{self.params.SECTION}] already")
        return SectionSchema(self.params, {**self, **keys})


@dataclasses.dataclass(frozen=True)
class Section:
    """Base of the typed config sections; subclasses set :attr:`SECTION` and declare fields with
    :func:`key`, and may add cross-key checks in :meth:`check`."""

    SECTION: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            spec: Key = f.metadata["key"]
            value = getattr(self, f.name)
            given = list(value) if isinstance(value, tuple) else value
            coerced, problem = coerce(given, spec)
            if problem:
                raise _error(self.SECTION, f.name, given, problem)
            object.__setattr__(self, f.name, tuple(coerced) if isinstance(coerced, list)
                               else coerced)
        self.check()

    def check(self) -> None:
        """Cross-key checks; raise :class:`~stdp_ebm.errors.ConfigError` naming the key."""

    def problem(self, name: str, text: str) -> ConfigError:
        """The one-line error ``[SECTION] NAME = VALUE: TEXT`` for a cross-key check.

        Parameters
        ----------
        name : str
            The key at fault.
        text : str
            What is wrong and what is allowed.

        Returns
        -------
        ConfigError
            The error, to be raised.
        """
        value = getattr(self, name)
        return _error(self.SECTION, name, list(value) if isinstance(value, tuple) else value, text)

    @classmethod
    def schema(cls) -> SectionSchema:
        """The section's config keys, derived from the fields.

        Returns
        -------
        SectionSchema
            Key name → :class:`~stdp_ebm.config.Key`, with this class attached.
        """
        return SectionSchema(cls, {f.name: f.metadata["key"] for f in dataclasses.fields(cls)})

    @classmethod
    def from_mapping(cls: type[S], values: Mapping[str, Any]) -> S:
        """The section from a mapping of its keys (a validated config's table, or a user's dict);
        missing keys take their defaults, an unknown key is a :class:`ConfigError`.

        Parameters
        ----------
        values : Mapping[str, Any]
            Key name → value.

        Returns
        -------
        Section
            The checked, immutable section.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        for name in values:
            if name not in names:
                raise ConfigError(f"unknown key [{cls.SECTION}] {name}{suggest(name, names)}")
        return cls(**values)

    @classmethod
    def of(cls: type[S], cfg: Mapping[str, Any]) -> S:
        """The section of a validated config (``cfg[SECTION]``); keys an experiment adds to the
        section for itself (validated by its schema, e.g. ``[dynamics] dtype``) are left out.

        Parameters
        ----------
        cfg : Mapping[str, Any]
            A whole config, as :func:`stdp_ebm.config.validate` returns it.

        Returns
        -------
        Section
            The typed section.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in cfg[cls.SECTION].items() if k in names})

    def replace(self: S, **changes: Any) -> S:
        """A copy with some keys changed (checked again).

        Parameters
        ----------
        **changes : Any
            Key name → new value.

        Returns
        -------
        Section
            The new section.
        """
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The keys and values as a config table (tuples as lists), e.g. for a manifest.

        Returns
        -------
        dict[str, Any]
            Key name → value.
        """
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}
