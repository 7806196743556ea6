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
``window`` (a theory pair kernel in :data:`stdp_ebm.stdp.WINDOWS`, for rules that have one); a
``poisson_input`` (Brian2's ``PoissonInput``: background spike trains drawn per step, no synapses)
has ``target_var``, ``weight`` (an expression in the target neuron's variables and the file's
parameters) and ``neuron``, and its parameters ``N_bg`` (inputs per neuron) and ``rate_bg`` (rate
of each);
tables ``[parameters]`` (name → ``"number*unit"``) and ``[initial]`` (variable → Brian2 expression).
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelFileError, did_you_mean
from ..stdp import WINDOWS

__all__ = ["Model", "load_model", "shipped_models", "parse_quantity", "resolve_path",
           "set_codegen_target", "MODELS_DIR"]

#: the shipped model files (package data next to this module; pip installs packages unzipped, so
#: this is a real folder: a synapse file finds its neuron file beside it)
MODELS_DIR = Path(str(resources.files(__name__)))

_COMMON = {"kind", "description", "equations", "method", "parameters", "initial"}
_KEYS = {"neuron": _COMMON | {"threshold", "reset", "refractory"},
         "synapse": _COMMON | {"on_pre", "on_post", "on_step", "neuron", "weight_change", "window"},
         "poisson_input": (_COMMON - {"equations", "initial"}) | {"target_var", "weight", "neuron"}}
_REQUIRED = {"neuron": ("equations", "threshold"), "synapse": ("equations", "on_pre", "neuron"),
             "poisson_input": ("target_var", "weight", "neuron")}


@dataclass(frozen=True)
class Model:
    """A checked model file. ``params`` maps names to Brian2 quantities (or floats if unitless)."""

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

    def namespace(self, **overrides: Any) -> dict[str, Any]:
        """The parameters with ``overrides`` applied; an override must have the file's units."""
        out = dict(self.params)
        for name, value in overrides.items():
            if name not in self.params:
                raise ModelFileError(f"{self.path}: no parameter '{name}' to override"
                                     f"{did_you_mean(name, list(self.params))}")
            _check_same_units(self.path, name, self.params[name], value)
            out[name] = value
        return out

    def group_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``NeuronGroup`` (neuron) or ``Synapses`` (synapse)."""
        kwargs: dict[str, Any] = {"model": self.equations, "method": self.method,
                                  "namespace": self.namespace(**overrides)}
        names = ("threshold", "reset", "refractory") if self.kind == "neuron" else ("on_pre", "on_post")
        kwargs.update({k: getattr(self, k) for k in names if getattr(self, k) is not None})
        return kwargs

    def linked(self, variable: str) -> "Model":
        """This neuron model with ``variable``'s equation replaced by a Brian2 linked variable of
        the same unit: the variable is then held by another group (e.g. one synaptic current per
        population, ``models/population_current.toml``) and read through ``linked_var``."""
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
        """Add the file's ``on_step`` code to ``group`` (built from this model) as a
        ``run_regularly`` operation after the groups' state updates, on every time step or every
        ``dt`` (a Brian2 time); it is switched on and off with the group. Returns ``group``."""
        if self.on_step:
            group.run_regularly(self.on_step, dt=dt, when="after_groups",
                                name=f"{group.name}_on_step")
        return group

    def initialise(self, group: Any, **overrides: Any) -> None:
        """Set the file's ``[initial]`` values on a group built from this model.

        A value that is a number, a quantity or a parameter name is set directly (no code
        generation); any other expression is handed to Brian2 as a string.
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


def parse_quantity(text: str, where: str = "value") -> Any:
    """Parse ``"20*ms"``, ``"-70*mV"``, ``"1e-3"``, ``"0.5*nA/ms**2"`` without eval.

    Allowed: numbers, Brian2 unit names, ``*``, ``/``, ``**`` (integer exponent), unary minus.
    """
    from brian2 import units
    from brian2.units.fundamentalunits import Unit

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            unit = getattr(units, node.id, None)
            if not isinstance(unit, Unit):
                raise ModelFileError(f"{where}: '{node.id}' is not a Brian2 unit")
            return unit
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            left, right = walk(node.left), walk(node.right)
            return left * right if isinstance(node.op, ast.Mult) else left / right
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
                and isinstance(node.right, ast.Constant) and isinstance(node.right.value, int):
            return walk(node.left) ** node.right.value
        raise ModelFileError(f"{where}: {text!r} is not 'number*unit' (e.g. \"20*ms\")")

    if not isinstance(text, str):
        raise ModelFileError(f"{where}: {text!r} must be a string such as \"20*ms\"")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ModelFileError(f"{where}: {text!r} is not 'number*unit' (e.g. \"20*ms\")") from None
    value = walk(tree)
    return float(value) if isinstance(value, (int, float)) else value


def _check_same_units(path: Path, name: str, reference: Any, value: Any) -> None:
    from brian2.units.fundamentalunits import get_dimensions

    if get_dimensions(reference) != get_dimensions(value):
        raise ModelFileError(f"{path}: parameter {name} = {value!r} has the wrong units "
                             f"(expected the dimensions of {reference!r})")


def resolve_path(name_or_path: str | Path) -> Path:
    """A shipped model name (``"lif_neuron"``, see :func:`shipped_models`) or a path to a TOML file."""
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
    """The names of the model files that ship with the package."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"{path}: TOML syntax error: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read model file ({exc.__class__.__name__})") from None


def _check_keys(path: Path, raw: dict[str, Any]) -> str:
    kind = raw.get("kind")
    if kind not in _KEYS:
        raise ModelFileError(f"{path}: kind = {kind!r} must be 'neuron' or 'synapse'")
    for key, value in raw.items():
        if key not in _KEYS[kind]:
            raise ModelFileError(f"{path}: unknown key '{key}' for a {kind} model"
                                 f"{did_you_mean(key, sorted(_KEYS[kind]))}")
        if key in ("parameters", "initial"):
            if not isinstance(value, dict):
                raise ModelFileError(f"{path}: [{key}] must be a table")
        elif not isinstance(value, str):
            raise ModelFileError(f"{path}: {key} must be a string")
    for key in _REQUIRED[kind]:
        if not raw.get(key, "").strip():
            raise ModelFileError(f"{path}: missing key '{key}' for a {kind} model")
    return kind


def _build(model: Model) -> list[Any]:
    """Brian2 objects for ``model`` (a synapse gets pre/post groups of its neuron model)."""
    import brian2 as b2
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

    if model.kind == "neuron":
        return [b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **model.group_kwargs())]
    neuron = _neuron_for(model)
    if model.kind == "poisson_input":
        group = b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **neuron.group_kwargs())
        group.namespace.update(model.params)
        return [group, b2.PoissonInput(group, model.target_var, N=int(model.params["N_bg"]),
                                       rate=model.params["rate_bg"], weight=model.weight)]
    pre = b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **neuron.group_kwargs())
    post = b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **neuron.group_kwargs())
    syn = b2.Synapses(pre, post, codeobj_class=NumpyCodeObject, **model.group_kwargs())
    syn.connect()
    if model.on_step:
        syn.run_regularly(model.on_step, when="after_groups", codeobj_class=NumpyCodeObject)
    return [pre, post, syn]


def _neuron_for(model: Model) -> Model:
    """The neuron model a synapse file names (resolved next to the synapse file first)."""
    sibling = model.path.parent / f"{model.neuron}.toml"
    return load_model(sibling if sibling.is_file() else model.neuron)


def _check_with_brian2(model: Model) -> None:
    """Let Brian2 check identifiers, units and syntax (numpy target, zero-length run: no compiling)."""
    import gc

    import brian2 as b2
    from brian2.utils.logger import catch_logs

    problem = None
    with catch_logs():  # a failed check leaves objects "never run"; Brian2 would warn about them
        try:
            objects = _build(model)
            b2.Network(*objects).run(0 * b2.ms, namespace={})
        except (b2.core.base.BrianObjectException, KeyError, SyntaxError, ValueError, TypeError,
                b2.DimensionMismatchError, b2.equations.equations.EquationError) as exc:
            problem = _explain(exc)
        objects = None
        gc.collect()
    if problem:
        raise ModelFileError(f"{model.path}: {problem}")
    if model.weight_change and model.weight_change not in _variables(model):
        names = sorted(_variables(model))
        raise ModelFileError(f"{model.path}: weight_change = {model.weight_change!r} is not a "
                             f"variable of the equations{did_you_mean(model.weight_change, names)}")
    if model.window and model.window not in WINDOWS:
        raise ModelFileError(f"{model.path}: window = {model.window!r} is not a known theory "
                             f"kernel{did_you_mean(model.window, sorted(WINDOWS))}")
    unused = sorted(set(model.params) - _identifiers(model))
    if unused:
        raise ModelFileError(f"{model.path}: parameter(s) {', '.join(unused)} not used by the "
                             f"equations (misspelt?)")


def _explain(exc: BaseException) -> str:
    """One line from a Brian2 error (unwrapping Brian2's 'error with object …' wrapper)."""
    from brian2 import DimensionMismatchError
    from brian2.core.base import BrianObjectException

    while isinstance(exc, BrianObjectException) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    first = (text.strip().splitlines() or [exc.__class__.__name__])[0]
    if isinstance(exc, DimensionMismatchError):
        return "unit mismatch: " + " ".join(text.split())
    if isinstance(exc, KeyError):
        return f"{first} (a missing parameter?)"
    return f"invalid model: {first}"


def _variables(model: Model) -> set[str]:
    """The names the model's equations define (state variables and subexpressions)."""
    from brian2 import Equations

    return set(Equations(model.equations).names)


def _identifiers(model: Model) -> set[str]:
    """Every name the model's code strings refer to (equations, conditions, pathways, initial)."""
    from brian2.utils.stringtools import get_identifiers

    texts = [model.equations, model.threshold, model.reset, model.refractory, model.on_pre,
             model.on_post, model.on_step, model.weight, *model.initial.values()]
    if model.kind == "poisson_input":
        texts += ["N_bg rate_bg"]  # PoissonInput's own arguments
    return set().union(*(get_identifiers(t) for t in texts if t))


def load_model(name_or_path: str | Path, check: bool = True) -> Model:
    """Load, parse and (``check=True``) Brian2-check a model file; errors are ModelFileError."""
    path = resolve_path(name_or_path)
    raw = _read(path)
    kind = _check_keys(path, raw)
    params = {name: parse_quantity(text, f"{path}: [parameters] {name}")
              for name, text in raw.get("parameters", {}).items()}
    initial = {var: str(expr) for var, expr in raw.get("initial", {}).items()}
    model = Model(name=path.stem, kind=kind, path=path, description=raw.get("description", ""),
                  equations=raw.get("equations", ""), params=params, method=raw.get("method", "euler"),
                  initial=initial, **{k: raw.get(k) for k in _KEYS[kind] - _COMMON})
    if check:
        _check_with_brian2(model)
    return model


def set_codegen_target(target: str) -> str:
    """Set Brian2's runtime code-generation target; "cython" falls back to "numpy" when Cython is
    not importable. Returns the target in use (the manifest records it)."""
    from brian2 import prefs

    if target == "cython":
        try:
            import Cython  # noqa: F401
        except ImportError:
            target = "numpy"
    prefs.codegen.target = target
    return target
