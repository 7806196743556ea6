"""Checks of a loaded model file: bounded code strings, the neuron it names, Brian2's own check
(identifiers, units, syntax, ``[initial]``), the rule keys and the theory kernel's parameters.

Every check raises :class:`~stdp_ebm.errors.ModelFileError` naming the file, in one line. The
Brian2 check builds the model's groups for the numpy target and runs them for zero time: nothing is
compiled. Before Brian2 (and so sympy) sees a code string, :func:`check_code` refuses what would
make it work without bound: powers above :data:`~stdp_ebm.models.quantity.MAX_EXPONENT` (sympy
evaluates ``9**999999999`` exactly) and numbers of more than :data:`MAX_DIGITS` digits.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ModelFileError, did_you_mean
from ..stdp.kernels import WINDOWS
from .quantity import MAX_EXPONENT

if TYPE_CHECKING:
    from . import Model

__all__ = ["check_code", "check_neuron_reference", "check_with_brian2", "check_window",
           "variables", "identifiers", "MAX_DIGITS"]

#: longest run of digits in a code string (a float needs 17 significant digits)
MAX_DIGITS = 40
_POWER = re.compile(r"\*\*\s*\(?\s*[+-]?\s*(\d+)")
_DIGITS = re.compile(rf"\d{{{MAX_DIGITS + 1}}}")


def _code_strings(model: "Model") -> list[tuple[str, str]]:
    """(where, text) of every code string of the model."""
    keys = ("equations", "threshold", "reset", "refractory", "on_pre", "on_post", "on_step",
            "weight")
    out = [(key, getattr(model, key)) for key in keys if getattr(model, key)]
    return out + [(f"[initial] {var}", expr) for var, expr in model.initial.items()]


def check_code(model: "Model") -> None:
    """Refuse unbounded powers and numbers in code strings, and ``[initial]`` values not expressions.

    Checked here, at load, not when Brian2 first sets them.

    Parameters
    ----------
    model : Model
        The model, as loaded.

    Raises
    ------
    ModelFileError
        For a power above :data:`~stdp_ebm.models.quantity.MAX_EXPONENT`, a number of more than
        :data:`MAX_DIGITS` digits, or an ``[initial]`` value that does not parse.
    """
    for where, text in _code_strings(model):
        for match in _POWER.finditer(text):
            if int(match.group(1)) > MAX_EXPONENT:
                raise ModelFileError(f"{model.path}: {where}: a power larger than {MAX_EXPONENT} "
                                     f"({match.group(0).strip()})")
        if _DIGITS.search(text):
            raise ModelFileError(f"{model.path}: {where}: a number of more than {MAX_DIGITS} "
                                 "digits")
    for var, expr in model.initial.items():
        try:
            ast.parse(expr.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise ModelFileError(f"{model.path}: [initial] {var} = {expr!r} is not an "
                                 "expression") from None


def check_neuron_reference(model: "Model", resolve: Callable[[str], Any],
                           read_kind: Callable[[Any], Any]) -> Any:
    """The path of the neuron model a synapse or Poisson-input file names.

    Resolved next to the file first, never the file itself, and of kind "neuron" (so a chain of files
    cannot form: the check of a synapse loads one neuron file, which names none).

    Parameters
    ----------
    model : Model
        The model, as loaded.
    resolve : callable
        ``resolve(name) -> path`` of a shipped model name or path
        (:func:`stdp_ebm.models.resolve_path`).
    read_kind : callable
        ``read_kind(path) -> kind`` of a model file, read within the bounds.

    Returns
    -------
    pathlib.Path
        The neuron model's file.

    Raises
    ------
    ModelFileError
        If the file names itself or a model that is not a neuron.
    """
    sibling = model.path.parent / f"{model.neuron}.toml"
    path = sibling if sibling.is_file() else resolve(str(model.neuron))
    if path.resolve() == model.path.resolve():
        raise ModelFileError(f"{model.path}: neuron = {model.neuron!r} names this file itself; "
                             "it must name a neuron model")
    kind = read_kind(path)
    if kind != "neuron":
        raise ModelFileError(f"{model.path}: neuron = {model.neuron!r} is a {kind} model "
                             f"({path}); it must name a neuron model")
    return path


def _build(model: "Model", neuron: "Model | None") -> list[Any]:
    """Brian2 objects for ``model`` (a synapse gets pre/post groups of its neuron model), with the
    file's ``[initial]`` values set (numpy target: no compiling)."""
    import brian2 as b2
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

    if model.kind == "neuron":
        group = b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **model.group_kwargs())
        model.initialise(group)
        return [group]
    assert neuron is not None
    if model.kind == "poisson_input":
        group = b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **neuron.group_kwargs())
        group.namespace.update(model.params)
        return [group, b2.PoissonInput(group, model.target_var, N=int(model.params["N_bg"]),
                                       rate=model.params["rate_bg"], weight=model.weight)]
    pre = b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **neuron.group_kwargs())
    post = b2.NeuronGroup(1, codeobj_class=NumpyCodeObject, **neuron.group_kwargs())
    syn = b2.Synapses(pre, post, codeobj_class=NumpyCodeObject, **model.group_kwargs())
    syn.connect()
    model.initialise(syn)
    if model.on_step:
        syn.run_regularly(model.on_step, when="after_groups", codeobj_class=NumpyCodeObject)
    return [pre, post, syn]


def check_with_brian2(model: "Model", neuron: "Model | None") -> None:
    """Let Brian2 check identifiers, units, syntax and ``[initial]``; then rule keys, unused parameters.

    Numpy target and a zero-length run: nothing is compiled.

    Parameters
    ----------
    model : Model
        The model, as loaded.
    neuron : Model or None
        The neuron model a synapse or Poisson input connects (None for a neuron).

    Raises
    ------
    ModelFileError
        With Brian2's complaint in one line, for a ``weight_change`` that is not a variable, a bad
        ``window`` (:func:`check_window`) or parameters the code never uses.
    """
    import gc

    import brian2 as b2
    from brian2.utils.logger import catch_logs

    problem = None
    objects: list[Any] = []
    with catch_logs():  # a failed check leaves objects "never run"; Brian2 would warn about them
        try:
            objects = _build(model, neuron)
            b2.Network(*objects).run(0 * b2.ms, namespace={})
        except (b2.core.base.BrianObjectException, KeyError, SyntaxError, ValueError, TypeError,
                AttributeError, ZeroDivisionError, OverflowError, RecursionError,
                b2.DimensionMismatchError, b2.equations.equations.EquationError) as exc:
            problem = _explain(exc)
        objects = []
        gc.collect()
    if problem:
        raise ModelFileError(f"{model.path}: {problem}")
    if model.weight_change and model.weight_change not in variables(model):
        names = sorted(variables(model))
        raise ModelFileError(f"{model.path}: weight_change = {model.weight_change!r} is not a "
                             f"variable of the equations{did_you_mean(model.weight_change, names)}")
    check_window(model)
    unused = sorted(set(model.params) - identifiers(model))
    if unused:
        raise ModelFileError(f"{model.path}: parameter(s) {', '.join(unused)} not used by the "
                             f"equations (misspelt?)")


def check_window(model: "Model") -> None:
    """The theory kernel a rule names exists, and the file defines every parameter it declares.

    Each parameter of the kernel (:class:`stdp_ebm.stdp.kernels.Window`) must be one of the file's,
    with the declared dimensions, under its own name or the file's name for it in
    ``[window_parameters]``.

    Parameters
    ----------
    model : Model
        The model, as loaded.

    Raises
    ------
    ModelFileError
        If the kernel is unknown, or a parameter is missing, unknown to the kernel or of other units.
    """
    if not model.window:
        if model.window_parameters:
            raise ModelFileError(f"{model.path}: [window_parameters] without a window key")
        return
    if model.window not in WINDOWS:
        raise ModelFileError(f"{model.path}: window = {model.window!r} is not a known theory "
                             f"kernel{did_you_mean(model.window, sorted(WINDOWS))}")
    from brian2 import units
    from brian2.units.fundamentalunits import get_dimensions

    win = WINDOWS[model.window]
    for name in model.window_parameters:
        if name not in win.params:
            raise ModelFileError(f"{model.path}: [window_parameters] {name}: the kernel "
                                 f"{model.window!r} reads no such parameter (it reads "
                                 f"{', '.join(win.params)}){did_you_mean(name, list(win.params))}")
    for name, unit in win.params.items():
        ours = model.window_parameters.get(name, name)
        if ours not in model.params:
            raise ModelFileError(
                f"{model.path}: window = {model.window!r} reads parameter {name!r}, which the file "
                f"does not define; add it, or name yours in [window_parameters] "
                f"({name} = \"YOUR_NAME\"){did_you_mean(ours, list(model.params))}")
        expected = get_dimensions(1.0 if unit == "1" else getattr(units, unit))
        if get_dimensions(model.params[ours]) != expected:
            raise ModelFileError(f"{model.path}: parameter {ours} (the kernel's {name}) must be "
                                 f"in {unit if unit != '1' else 'no unit (dimensionless)'}")


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


def variables(model: "Model") -> set[str]:
    """The names the model's equations define (state variables and subexpressions).

    Parameters
    ----------
    model : Model
        The model, as loaded.

    Returns
    -------
    set of str
        Brian2's ``Equations(...).names``.
    """
    from brian2 import Equations

    return set(Equations(model.equations).names)


def identifiers(model: "Model") -> set[str]:
    """Every name the model's code strings refer to (equations, conditions, pathways, initial).

    Parameters
    ----------
    model : Model
        The model, as loaded.

    Returns
    -------
    set of str
        The identifiers, including ``N_bg`` and ``rate_bg`` for a Poisson input.
    """
    from brian2.utils.stringtools import get_identifiers

    texts = [text for _, text in _code_strings(model)]
    if model.kind == "poisson_input":
        texts += ["N_bg rate_bg"]  # PoissonInput's own arguments
    return set().union(*(get_identifiers(t) for t in texts if t))
