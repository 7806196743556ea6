"""Rate functions ρ with their derivatives, shared by the rate model and the references.

Two kinds: the hard sigmoid of Eq 7 and a tabulated ρ (the measured f–I curve of the LIF neuron,
``ρ_LIF``), represented by one smoothing spline so that value and derivatives are consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import UnivariateSpline

__all__ = ["HardSigmoid", "TabulatedRho", "rho_table"]

#: Points of :func:`rho_table`'s grid over (−0.5, 1.5): linear interpolation errs by at most
#: h²/8·max|ρ''| ≈ 3e-8·max|ρ''|.
TABLE_POINTS = 4001


@dataclass(frozen=True)
class HardSigmoid:
    """Eq 7: ρ(s) = clip(s, β1, β2), with the inclusive derivative ρ'(β1) = ρ'(β2) = 1.

    The inclusive derivative keeps a unit sitting exactly at a bound responsive to its input (with
    ρ'(0) = 0 a unit at 0 would have zero drive R = ρ'(s)(b + Wρ) and freeze there). ``β1 = 0,
    β2 = 1`` is the convention of the equilibrium-propagation code and the default here.

    Parameters
    ----------
    beta1 : float
        Lower bound β1 of the rate (dimensionless, a fraction of the maximum rate).
    beta2 : float
        Upper bound β2 > β1.

    Raises
    ------
    ValueError
        If ``beta1 >= beta2``.

    Examples
    --------
    >>> import numpy as np
    >>> rho = HardSigmoid()
    >>> print(rho(np.array([-0.5, 0.25, 1.0, 2.0])), rho.prime(np.array([-0.5, 0.0, 1.0, 2.0])))
    [0.   0.25 1.   1.  ] [0. 1. 1. 0.]
    """

    beta1: float = 0.0
    beta2: float = 1.0

    def __post_init__(self) -> None:
        if not self.beta1 < self.beta2:
            raise ValueError(f"hard sigmoid needs beta1 < beta2, got {self.beta1}, {self.beta2}")

    @property
    def bounds(self) -> tuple[float, float]:
        """(β1, β2): the interval the projected dynamics keep the states in."""
        return self.beta1, self.beta2

    def __call__(self, s: np.ndarray) -> np.ndarray:
        return np.clip(s, self.beta1, self.beta2)

    def prime(self, s: np.ndarray) -> np.ndarray:
        """ρ'(s), 1 on the closed interval [β1, β2] and 0 outside (the inclusive derivative).

        Parameters
        ----------
        s : numpy.ndarray
            States, any shape (e.g. ``(batch, n)``), dimensionless.

        Returns
        -------
        numpy.ndarray
            ρ'(s), same shape as ``s``, of 0.0 and 1.0.
        """
        return ((s >= self.beta1) & (s <= self.beta2)).astype(float)

    def second(self, s: np.ndarray) -> np.ndarray:
        """ρ''(s), zero everywhere (ρ is piecewise linear).

        Parameters
        ----------
        s : numpy.ndarray
            States, any shape.

        Returns
        -------
        numpy.ndarray
            Zeros of the shape of ``s``.
        """
        return np.zeros_like(s, dtype=float)

    def integral(self, s: np.ndarray) -> np.ndarray:
        """An antiderivative P of ρ (P' = ρ), continuous, piecewise quadratic.

        Used by the Hopfield energy (:mod:`stdp_ebm.energy`), whose single-unit term is s ρ(s) − P(s).

        Parameters
        ----------
        s : numpy.ndarray
            States, any shape.

        Returns
        -------
        numpy.ndarray
            P(s), same shape as ``s``, with P(β1) = β1².
        """
        a, b = self.beta1, self.beta2
        return a * np.minimum(s, a) + 0.5 * (np.clip(s, a, b) ** 2 - a**2) + b * (np.maximum(s, b) - b)


@dataclass(frozen=True)
class TabulatedRho:
    """ρ given as a table (s_k, ρ_k), e.g. a measured f–I curve normalised by r_max.

    A cubic smoothing spline (``smoothing`` is scipy's ``s`` per point) fits the table; ρ, ρ' and ρ''
    all come from that one spline. Outside the tabulated range ρ is held at its end values with
    ρ' = ρ'' = 0, and states are meant to stay within ``bounds`` (the tabulated range).

    Parameters
    ----------
    s : numpy.ndarray
        Tabulated states, shape ``(k,)`` with k ≥ 5, strictly increasing (dimensionless: the input
        current in the units of the network's states).
    rho : numpy.ndarray
        Rate at each ``s``, shape ``(k,)``, dimensionless (rate / r_max).
    smoothing : float
        Spline smoothing per point (scipy's ``s`` divided by k); 0 interpolates the table.

    Raises
    ------
    ValueError
        If the table has fewer than 5 points, mismatched shapes or non-increasing ``s``.
    """

    s: np.ndarray
    rho: np.ndarray
    smoothing: float = 0.0
    _spline: UnivariateSpline = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        s = np.asarray(self.s, float)
        rho = np.asarray(self.rho, float)
        if s.ndim != 1 or s.shape != rho.shape or s.size < 5 or np.any(np.diff(s) <= 0):
            raise ValueError("tabulated rho needs >= 5 points with strictly increasing s")
        spline = UnivariateSpline(s, rho, k=3, s=self.smoothing * s.size)
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "rho", rho)
        object.__setattr__(self, "_spline", spline)

    @property
    def bounds(self) -> tuple[float, float]:
        """(s_0, s_last): the tabulated range, in which the states are meant to stay."""
        return float(self.s[0]), float(self.s[-1])

    def _inside(self, s: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds
        return (s >= lo) & (s <= hi)

    def __call__(self, s: np.ndarray | float) -> np.ndarray:
        lo, hi = self.bounds
        return self._spline(np.clip(s, lo, hi))

    def prime(self, s: np.ndarray) -> np.ndarray:
        """ρ'(s) from the spline's first derivative, 0 outside the tabulated range.

        Parameters
        ----------
        s : numpy.ndarray
            States, any shape.

        Returns
        -------
        numpy.ndarray
            ρ'(s), same shape as ``s``.
        """
        lo, hi = self.bounds
        return np.where(self._inside(s), self._spline.derivative(1)(np.clip(s, lo, hi)), 0.0)

    def second(self, s: np.ndarray) -> np.ndarray:
        """ρ''(s) from the spline's second derivative, 0 outside the tabulated range.

        Parameters
        ----------
        s : numpy.ndarray
            States, any shape.

        Returns
        -------
        numpy.ndarray
            ρ''(s), same shape as ``s``.
        """
        lo, hi = self.bounds
        return np.where(self._inside(s), self._spline.derivative(2)(np.clip(s, lo, hi)), 0.0)

    def integral(self, s: np.ndarray) -> np.ndarray:
        """An antiderivative P of ρ (P' = ρ), continued linearly where ρ is held constant.

        Parameters
        ----------
        s : numpy.ndarray
            States, any shape.

        Returns
        -------
        numpy.ndarray
            P(s), same shape as ``s``, with P(s_0) = 0.
        """
        lo, hi = self.bounds
        inner = self._spline.antiderivative(1)(np.clip(s, lo, hi))
        return inner + self(lo) * np.minimum(s - lo, 0.0) + self(hi) * np.maximum(s - hi, 0.0)


Rho = HardSigmoid | TabulatedRho


def rho_table(rho: Rho, points: int = TABLE_POINTS) -> tuple[float, float, np.ndarray]:
    """(s_lo, step, ρ(grid)): ρ on ``points`` equally spaced states over its bounds (a
    :class:`~stdp_ebm.activation.TabulatedRho` holds its end values outside them).

    Parameters
    ----------
    rho : Rho
        The activation; its ``bounds`` (s_lo, s_hi) if it has them, else (−0.5, 1.5).
    points : int
        Grid points, ≥ 2 (``TABLE_POINTS`` = 4001 by default).

    Returns
    -------
    s_lo : float
        The grid's first state.
    step : float
        The grid's spacing, (s_hi − s_lo)/(points − 1).
    values : numpy.ndarray
        ρ on the grid, shape (points,).
    """
    lo, hi = getattr(rho, "bounds", (-0.5, 1.5))
    grid = np.linspace(lo, hi, points)
    return float(lo), float(grid[1] - grid[0]), np.asarray(rho(grid), dtype=float)
