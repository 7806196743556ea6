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
load (:mod:`.check`), each as one :class:`~stdp_ebm.errors.ModelFileError` line. The loaded
model, :class:`Model`, is defined in :mod:`.model`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..config import read_toml
from ..errors import ModelFileError, did_you_mean
from .check import check_code, check_neuron_reference, check_with_brian2
from .model import MODELS_DIR, Model
from .quantity import parse_quantity

__all__ = ["Model", "load_model", "shipped_models", "parse_quantity", "resolve_path",
           "MODELS_DIR", "MAX_MODEL_BYTES"]

_COMMON = {"kind", "description", "equations", "method", "parameters", "initial"}
_TABLES = {"parameters", "initial", "window_parameters"}
_KEYS = {"neuron": _COMMON | {"threshold", "reset", "refractory"},
         "synapse": _COMMON | {"on_pre", "on_post", "on_step", "neuron", "weight_change", "window",
                               "window_parameters"},
         "poisson_input": (_COMMON - {"equations", "initial"}) | {"target_var", "weight", "neuron"}}
_REQUIRED = {"neuron": ("equations", "threshold"), "synapse": ("equations", "on_pre", "neuron"),
             "poisson_input": ("target_var", "weight", "neuron")}


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
