"""A loaded Brian2 model file (:class:`Model`): its code, parameters with units, and how Brian2 uses them.

:func:`stdp_ebm.models.load_model` reads and checks a file (its module docstring describes the
format) and returns a :class:`Model`; the model gives the keyword arguments of a ``NeuronGroup``,
``Synapses`` or ``PoissonInput``, its namespace with checked overrides, and its initial values.
Importable from :mod:`stdp_ebm.models`, where users find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelFileError, did_you_mean
from ..stdp.kernels import WINDOWS
from .quantity import parse_quantity

__all__ = ["Model", "MODELS_DIR"]

#: the shipped model files (package data next to this module; pip installs packages unzipped, so
#: this is a real folder: a synapse file finds its neuron file beside it)
MODELS_DIR = Path(str(resources.files("stdp_ebm.models")))


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
