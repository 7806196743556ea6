"""Brian2 model files (``stdp_ebm/models/*.toml``): equations as Brian2 strings, parameters with units.

A model file is data that a neuroscientist reads and edits. This module loads it, parses every
parameter safely (``"20*ms"`` → ``20*ms`` by walking the expression's syntax tree over numbers and
Brian2 unit names; nothing is eval'd) and checks it with Brian2's own machinery (a throw-away numpy
code-generation pass): unknown keys, missing or unused parameters, unit mismatches and syntax
errors all raise :class:`~stdp_ebm.errors.ModelFileError` naming the file.

API (stable; the spiking network builds on it)::

    from stdp_ebm.models import load_model
    neuron = load_model("lif_neuron")            # a shipped model name or a path to a .toml file
    syn = load_model("rule_synapse")
    G = NeuronGroup(n, **neuron.group_kwargs(sigma=2*mV))   # model, threshold, reset, … namespace
    neuron.initialise(G)                         # the file's [initial] values
    S = Synapses(P, G, **syn.group_kwargs(learn=1))         # model, on_pre, on_post, namespace
    syn.params["tau_pre"]                        # Brian2 quantities
    syn.namespace(eta=0.2)                       # params with checked overrides

File format (TOML): ``kind`` ("neuron", "synapse" or "poisson_input"), ``description``, ``equations`` (a Brian2
equation string), ``method``; neurons add ``threshold``, ``reset``, ``refractory``; synapses add
``on_pre``, ``on_post``, ``on_step`` (code run on every time step after the groups' updates, Brian2's
``run_regularly``: discrete integrals; :meth:`Model.attach`) and ``neuron`` (the neuron model file
it connects, used for the check); a plasticity rule run by the STDP protocols also names
``weight_change`` (the variable holding its accumulated ΔW; checked to exist) and may name
``window`` (a theory pair kernel in :data:`stdp_ebm.stdp.kernels.WINDOWS`, for rules that have one; the
kernel declares the parameters it reads, and a file that names them otherwise maps them in a table
``[window_parameters]``, kernel name → the file's name, e.g. ``Apre = "A_plus"``); a
``poisson_input`` (Brian2's ``PoissonInput``: background spike trains drawn per step, no synapses)
has ``target_var``, ``weight`` (an expression in the target neuron's variables and the file's
parameters) and ``neuron``, and its parameters ``N_bg`` (inputs per neuron) and ``rate_bg`` (rate
of each);
tables ``[parameters]`` (name → ``"number*unit"``) and ``[initial]`` (variable → Brian2 expression).

Hostile files are bounded: at most :data:`MAX_MODEL_BYTES` bytes are read and nesting is bounded
(the configs' reader, :func:`stdp_ebm.config.read_toml`); parameters are parsed with bounded work
(:mod:`.quantity`); code strings with unbounded powers or numbers, ``[initial]`` values that are not
expressions and a ``neuron`` key that names the file itself or a non-neuron model are refused at
load (:mod:`.check`), each as one :class:`~stdp_ebm.errors.ModelFileError` line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import read_toml
from ..errors import ModelFileError, did_you_mean
from ..stdp.kernels import WINDOWS
from .check import check_code, check_neuron_reference, check_with_brian2
from .quantity import parse_quantity

__all__ = ["Model", "load_model", "shipped_models", "parse_quantity", "resolve_path",
           "MODELS_DIR", "MAX_MODEL_BYTES"]

#: the shipped model files (package data next to this module; pip installs packages unzipped, so
#: this is a real folder: a synapse file finds its neuron file beside it)
MODELS_DIR = Path(str(resources.files(__name__)))

_COMMON = {"kind", "description", "equations", "method", "parameters", "initial"}
_TABLES = {"parameters", "initial", "window_parameters"}
_KEYS = {"neuron": _COMMON | {"threshold", "reset", "refractory"},
         "synapse": _COMMON | {"on_pre", "on_post", "on_step", "neuron", "weight_change", "window",
                               "window_parameters"},
         "poisson_input": (_COMMON - {"equations", "initial"}) | {"target_var", "weight", "neuron"}}
_REQUIRED = {"neuron": ("equations", "threshold"), "synapse": ("equations", "on_pre", "neuron"),
             "poisson_input": ("target_var", "weight", "neuron")}


@dataclass(frozen=True)
class Model:
    """A checked model file (see the module docstring for the file format).

    Built by :func:`load_model`; each field is the file's key of the same name.

    Parameters
    ----------
    name : str
        The file's stem (e.g. ``"lif_neuron"``).
    kind : str
        ``"neuron"``, ``"synapse"`` or ``"poisson_input"``.
    path : pathlib.Path
        The file.
    description : str
        Free text.
    equations : str
        A Brian2 equation string.
    params : dict of str to object
        Parameter name -> Brian2 quantity (or float if unitless), parsed by :func:`parse_quantity`.
    method : str
        Brian2 integration method (``"euler"``, ``"exact"``, ...).
    initial : dict of str to str
        Variable -> Brian2 expression of its initial value.
    threshold, reset, refractory : str or None
        A neuron's Brian2 threshold condition, reset code and refractory period or condition.
    on_pre, on_post : str or None
        A synapse's pathway code on pre- and post-synaptic spikes.
    on_step : str or None
        Code run on every time step after the groups' updates (:meth:`attach`).
    neuron : str or None
        The neuron model file a synapse or Poisson input connects (for the check).
    target_var, weight : str or None
        A Poisson input's target variable and weight expression.
    weight_change : str or None
        The variable holding a plasticity rule's accumulated ΔW.
    window : str or None
        The theory pair kernel's name in :data:`stdp_ebm.stdp.kernels.WINDOWS`.
    window_parameters : dict of str to str
        Kernel parameter name -> the file's name for it.
    digest : str
        SHA-256 of the file's parsed content (hex), for :attr:`label`.
    """

    name: str
    kind: str
    path: Path
    description: str
    equations: str
    params: dict[str, Any]
    method: str
    initial: dict[str, str] = field(default_factory=dict)
    threshold: str | None = None
    reset: str | None = None
    refractory: str | None = None
    on_pre: str | None = None
    on_post: str | None = None
    on_step: str | None = None
    neuron: str | None = None
    target_var: str | None = None
    weight: str | None = None
    weight_change: str | None = None
    window: str | None = None
    window_parameters: dict[str, str] = field(default_factory=dict)
    digest: str = ""

    @property
    def shipped(self) -> bool:
        """Whether this is one of the package's model files (:data:`MODELS_DIR`)."""
        return self.path.resolve().parent == MODELS_DIR.resolve()

    @property
    def label(self) -> str:
        """The name results are filed under: the stem of a shipped file (``"pair_stdp"``); for any
        other file the stem and the first 8 hex digits of its content's SHA-256
        (``"pair_stdp@1a2b3c4d"``), so a user's file never takes the name of a shipped one or of
        another file of the same stem (files with equal content share it: the same rule)."""
        return self.name if self.shipped else f"{self.name}@{self.digest[:8]}"

    def window_namespace(self, **overrides: Any) -> dict[str, Any]:
        """The parameters the theory kernel reads, by the kernel's names, from this file's.

        :attr:`stdp_ebm.stdp.kernels.Window.params` names them; ``[window_parameters]`` maps kernel
        name → file name. Checked at load (:func:`.check.check_window`).

        Parameters
        ----------
        **overrides
            Parameter values replacing the file's, by the file's names, with the file's units.

        Returns
        -------
        dict of str to object
            Kernel parameter name -> Brian2 quantity or float.

        Raises
        ------
        ModelFileError
            If the file names no theory kernel, or an override is unknown or of other units.
        """
        if not self.window:
            raise ModelFileError(f"{self.path}: no theory kernel (no window key)")
        ns = self.namespace(**overrides)
        return {name: ns[self.window_parameters.get(name, name)]
                for name in WINDOWS[self.window].params}

    def window_param(self, kernel_name: str) -> str:
        """The file's name of the kernel's parameter ``kernel_name``.

        Parameters
        ----------
        kernel_name : str
            A name in the kernel's :attr:`~stdp_ebm.stdp.kernels.Window.params`.

        Returns
        -------
        str
            The file's name for it (the same name unless ``[window_parameters]`` maps it).
        """
        return self.window_parameters.get(kernel_name, kernel_name)

    def namespace(self, **overrides: Any) -> dict[str, Any]:
        """The parameters with ``overrides`` applied; an override must have the file's units.

        Parameters
        ----------
        **overrides
            Parameter values by the file's names (e.g. ``sigma=2*mV``).

        Returns
        -------
        dict of str to object
            Parameter name -> Brian2 quantity or float, for a Brian2 ``namespace``.

        Raises
        ------
        ModelFileError
            If an override names no parameter of the file or has other units.
        """
        out = dict(self.params)
        for name, value in overrides.items():
            if name not in self.params:
                raise ModelFileError(f"{self.path}: no parameter '{name}' to override"
                                     f"{did_you_mean(name, list(self.params))}")
            _check_same_units(self.path, name, self.params[name], value)
            out[name] = value
        return out

    def group_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``NeuronGroup`` (neuron) or ``Synapses`` (synapse).

        Parameters
        ----------
        **overrides
            Parameter values replacing the file's (:meth:`namespace`).

        Returns
        -------
        dict of str to object
            ``model``, ``method``, ``namespace`` and the neuron's ``threshold``/``reset``/``refractory``
            or the synapse's ``on_pre``/``on_post`` that the file sets.
        """
        kwargs: dict[str, Any] = {"model": self.equations, "method": self.method,
                                  "namespace": self.namespace(**overrides)}
        names = ("threshold", "reset", "refractory") if self.kind == "neuron" else ("on_pre", "on_post")
        kwargs.update({k: getattr(self, k) for k in names if getattr(self, k) is not None})
        return kwargs

    def linked(self, variable: str) -> "Model":
        """This neuron model with ``variable``'s equation replaced by a Brian2 linked variable.

        Of the same unit: the variable is then held by another group (e.g. one synaptic current per
        population, ``models/population_current.toml``) and read through ``linked_var``.

        Parameters
        ----------
        variable : str
            The variable to link (e.g. ``"I_syn"``).

        Returns
        -------
        Model
            A copy with ``variable : <unit> (linked)`` in place of its equation.

        Raises
        ------
        ModelFileError
            If the equations do not define ``variable`` exactly once.
        """
        import dataclasses
        import re

        pattern = re.compile(rf"^\s*(d{variable}/dt|{variable})\s*[=:]")
        lines = self.equations.splitlines()
        found = [ln for ln in lines if pattern.match(ln)]
        if len(found) != 1:
            raise ModelFileError(f"{self.path}: no single equation of '{variable}' to link")
        unit = found[0].rsplit(":", 1)[1].split("(")[0].strip()
        kept = [ln for ln in lines if ln is not found[0]]
        return dataclasses.replace(self, equations="\n".join(kept + [
            f"{variable} : {unit} (linked)"]) + "\n")

    def attach(self, group: Any, dt: Any = None) -> Any:
        """Add the file's ``on_step`` code to ``group`` as a ``run_regularly`` operation.

        After the groups' state updates, on every time step or every ``dt``; it is switched on and off
        with the group. Nothing is added if the file has no ``on_step``.

        Parameters
        ----------
        group : brian2.Group
            A group built from this model.
        dt : brian2.Quantity or None
            The operation's period (a time); None is every time step.

        Returns
        -------
        brian2.Group
            ``group``.
        """
        if self.on_step:
            group.run_regularly(self.on_step, dt=dt, when="after_groups",
                                name=f"{group.name}_on_step")
        return group

    def initialise(self, group: Any, **overrides: Any) -> None:
        """Set the file's ``[initial]`` values on a group built from this model.

        A value that is a number, a quantity or a parameter name is set directly (no code generation);
        any other expression is handed to Brian2 as a string.

        Parameters
        ----------
        group : brian2.Group
            A group built from this model.
        **overrides
            Parameter values replacing the file's (:meth:`namespace`).
        """
        namespace = self.namespace(**overrides)
        for var, expr in self.initial.items():
            if expr.strip() in namespace:
                setattr(group, var, namespace[expr.strip()])
                continue
            try:
                setattr(group, var, parse_quantity(expr))
            except ModelFileError:
                setattr(group, var, expr)


def _check_same_units(path: Path, name: str, reference: Any, value: Any) -> None:
    from brian2.units.fundamentalunits import get_dimensions

    if get_dimensions(reference) != get_dimensions(value):
        raise ModelFileError(f"{path}: parameter {name} = {value!r} has the wrong units "
                             f"(expected the dimensions of {reference!r})")


def resolve_path(name_or_path: str | Path) -> Path:
    """The file of a shipped model name (``"lif_neuron"``, see :func:`shipped_models`) or a TOML path.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        A shipped model's name, or a path to a ``.toml`` file.

    Returns
    -------
    pathlib.Path
        The existing file.

    Raises
    ------
    ModelFileError
        If there is no such file (with a "did you mean" hint and the shipped names).
    """
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = MODELS_DIR / f"{path.name}.toml"
    if not path.is_file():
        known = shipped_models()
        raise ModelFileError(f"{name_or_path}: no such model file"
                             f"{did_you_mean(str(name_or_path), known)}"
                             f" (models in {MODELS_DIR}: {', '.join(known)})")
    return path


def shipped_models() -> list[str]:
    """The names of the model files that ship with the package.

    Returns
    -------
    list of str
        Sorted stems of :data:`MODELS_DIR`'s ``*.toml`` (e.g. ``"lif_neuron"``, ``"pair_stdp"``).
    """
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


#: largest model file read (the shipped ones are a few kB; a larger file is not a model file)
MAX_MODEL_BYTES = 1 << 18


def _read(path: Path) -> dict[str, Any]:
    """The file's TOML, read with the configs' bounds (:func:`stdp_ebm.config.read_toml`): at most
    :data:`MAX_MODEL_BYTES` bytes are read, whatever the file's size, and nesting is bounded."""
    return read_toml(path, what="model file", limit=MAX_MODEL_BYTES, error=ModelFileError)


def _check_keys(path: Path, raw: dict[str, Any]) -> str:
    kind = raw.get("kind")
    if kind not in _KEYS:
        raise ModelFileError(f"{path}: kind = {kind!r} must be 'neuron' or 'synapse'")
    for key, value in raw.items():
        if key not in _KEYS[kind]:
            raise ModelFileError(f"{path}: unknown key '{key}' for a {kind} model"
                                 f"{did_you_mean(key, sorted(_KEYS[kind]))}")
        if key in _TABLES:
            if not isinstance(value, dict):
                raise ModelFileError(f"{path}: [{key}] must be a table")
            for name, item in value.items():
                if key == "initial" and type(item) in (int, float):
                    continue
                if not isinstance(item, str):
                    raise ModelFileError(f"{path}: [{key}] {name} must be a string")
        elif not isinstance(value, str):
            raise ModelFileError(f"{path}: {key} must be a string")
    for key in _REQUIRED[kind]:
        if not raw.get(key, "").strip():
            raise ModelFileError(f"{path}: missing key '{key}' for a {kind} model")
    return kind


def _kind_of(path: Path) -> str:
    """The ``kind`` of a model file (read within the size and nesting bounds; checked keys)."""
    return _check_keys(path, _read(path))


def load_model(name_or_path: str | Path, check: bool = True) -> Model:
    """Load, parse and Brian2-check a model file.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        A shipped model's name (:func:`shipped_models`) or a path to a ``.toml`` file.
    check : bool
        Whether to check the file with Brian2 (numpy target, a zero-length run: identifiers, units,
        syntax, unused parameters) besides its keys and code strings.

    Returns
    -------
    Model
        The checked model.

    Raises
    ------
    ModelFileError
        For any problem, in one line naming the file.
    """
    path = resolve_path(name_or_path)
    raw = _read(path)
    kind = _check_keys(path, raw)
    params = {name: parse_quantity(text, f"{path}: [parameters] {name}")
              for name, text in raw.get("parameters", {}).items()}
    initial = {var: str(expr) for var, expr in raw.get("initial", {}).items()}
    extra = {k: raw.get(k) for k in _KEYS[kind] - _COMMON - {"window_parameters"}}
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    model = Model(name=path.stem, kind=kind, path=path, description=raw.get("description", ""),
                  equations=raw.get("equations", ""), params=params, method=raw.get("method", "euler"),
                  initial=initial, window_parameters=dict(raw.get("window_parameters", {})),
                  digest=digest, **extra)
    check_code(model)
    if check:
        neuron = None
        if kind != "neuron":
            neuron = load_model(check_neuron_reference(model, resolve_path, _kind_of))
        check_with_brian2(model, neuron)
    return model
