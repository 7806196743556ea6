"""The f–I curve of the LIF neuron under its noise, tabulated as the rate function ρ_LIF.

The rate model's unit has state s and rate ρ(s) (Eq 7 for the hard sigmoid). In the spiking model a
unit is a population of LIF neurons (``stdp_ebm/models/lif_neuron.toml``) whose input current is
``I = I_unit · (s + s0)``: the bias b_i and the synaptic input Σ_j W_ij ρ_j of Eq 8 in units of
``I_unit``, shifted by s0 (``[spiking] offset``).
The population's mean rate at a constant s is ``r_max · ρ_LIF(s)``. :func:`measure_fi` measures it
in Brian2 (one neuron group: every grid point × ``neurons_per_point`` independent neurons, one run)
and :func:`tabulate` turns it into :class:`~stdp_ebm.activation.TabulatedRho`, a smoothing spline
whose smoothing is set by the measured standard error, so that ρ_LIF and ρ'_LIF come from one
smooth curve (the rate model's EP estimate needs a derivative consistent with ρ, DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from ..activation import TabulatedRho
from ..sections import Section, key
from .params import SpikingParams
from ..progress import run_brian2
from .brian2_env import Brian2Env

__all__ = ["CALIBRATION_SCHEMA", "CalibrationParams", "FICurve", "measure_fi", "calibrate", "siegert_rate"]

@dataclass(frozen=True)
class CalibrationParams(Section):
    """The ``[calibration]`` section: the grid and the counting of the measured f–I curve.

    Parameters
    ----------
    s_min, s_max : float
        Lowest and highest state s (input current / I_unit) of the table (s_min < s_max).
    points : int
        Grid points of the table.
    neurons_per_point : int
        Independent neurons averaged per grid point.
    duration_ms : float
        Counting window per grid point (ms).
    warmup_ms : float
        Transient discarded before counting (ms).
    """

    SECTION: ClassVar[str] = "calibration"
    s_min: float = key("float", -0.5, "lowest state s (input current / I_unit) of the f–I table")
    s_max: float = key("float", 1.5, "highest state s of the f–I table")
    points: int = key("int", 41, "grid points of the f–I table", low=5)
    neurons_per_point: int = key("int", 100, "independent neurons averaged per grid point", low=2)
    duration_ms: float = key("float", 1000.0, "counting window per grid point (ms)", low=0.0,
                             open_low=True)
    warmup_ms: float = key("float", 100.0, "transient discarded before counting (ms)", low=0.0)

    def check(self) -> None:
        """s_min < s_max."""
        if not self.s_min < self.s_max:
            raise self.problem("s_min", f"must be < s_max = {self.s_max:g}")


#: the config schema of ``[calibration]``, derived from :class:`CalibrationParams`
CALIBRATION_SCHEMA = CalibrationParams.schema()


@dataclass
class FICurve:
    """Measured f–I curve: state grid ``s``, mean rate ``rate_hz`` and its standard error.

    Parameters
    ----------
    s : numpy.ndarray
        The state grid (input current / I_unit), shape ``(points,)``.
    rate_hz : numpy.ndarray
        Mean rate per neuron at each grid point (Hz), shape ``(points,)``.
    sem_hz : numpy.ndarray
        Its standard error (Hz), shape ``(points,)``.
    r_max_hz : float
        The rate of ρ = 1 (Hz).
    """

    s: np.ndarray
    rate_hz: np.ndarray
    sem_hz: np.ndarray
    r_max_hz: float

    def tabulate(self) -> TabulatedRho:
        """ρ_LIF = rate / r_max as a smoothing spline (smoothing = mean squared standard error).

        Returns
        -------
        TabulatedRho
            ρ_LIF and its derivative from one smooth curve, dimensionless.
        """
        rho = self.rate_hz / self.r_max_hz
        sem = self.sem_hz / self.r_max_hz
        return TabulatedRho(self.s, rho, smoothing=float(np.mean(sem**2)))


def measure_fi(neuron, neuron_params: dict, calib: CalibrationParams, unit_current, r_max_hz: float,
               seed: int, offset: float = 0.0,
               inputs: Callable[[Any], list] | None = None, *, target: str = "cython",
               dt_ms: float = 0.1) -> FICurve:
    """Mean rate of uncoupled LIF neurons at constant ``s`` on a grid.

    Parameters
    ----------
    neuron : Model
        A loaded neuron model (e.g. ``lif_neuron``).
    neuron_params : dict
        Overrides of the model's parameters (e.g. the noise ``sigma``), as in the network.
    calib : CalibrationParams
        The grid, the neurons per point and the counting window.
    unit_current : brian2.Quantity
        The current of s = 1 (e.g. ``0.4*nA``).
    r_max_hz : float
        The rate of ρ = 1 (Hz).
    seed : int
        Seed of the measurement's own random stream.
    offset : float
        The shift s0 of the state-to-current map I = (s + s0)·I_unit.
    inputs : callable, optional
        Makes the extra objects that drive the group (the Poisson background,
        :func:`stdp_ebm.spiking.background`), as in the network.
    target : str
        Brian2's code-generation target, ``"cython"`` or ``"numpy"``.
    dt_ms : float
        The time step (ms).

    Returns
    -------
    FICurve
        Rates counted after ``warmup_ms`` over ``duration_ms``; the standard error is at least
        the rate that one spike among all of a point's neurons gives, 1/(neurons · duration).
    """
    import brian2 as b2

    s = np.linspace(calib.s_min, calib.s_max, calib.points)
    reps = calib.neurons_per_point
    with Brian2Env(target, dt_ms, seed).active():
        group = b2.NeuronGroup(len(s) * reps, **neuron.group_kwargs(**neuron_params))
        neuron.initialise(group)
        group.I_bias = (np.repeat(s, reps) + offset) * unit_current
        group.pulse_end = 0 * b2.second
        counts = b2.SpikeMonitor(group, record=False)
        net = b2.Network(group, counts, *(inputs(group) if inputs else []))
        run_brian2(net, calib.warmup_ms * b2.ms, report=None)
        before = np.array(counts.count)
        run_brian2(net, calib.duration_ms * b2.ms)
    rates = (np.array(counts.count) - before).reshape(len(s), reps) / (calib.duration_ms * 1e-3)
    sem = rates.std(axis=1, ddof=1) / np.sqrt(reps)
    resolution = 1.0 / (reps * calib.duration_ms * 1e-3)  # one spike among all neurons
    return FICurve(s, rates.mean(axis=1), np.maximum(sem, resolution), r_max_hz)


def calibrate(sp: SpikingParams, calib: CalibrationParams, models: dict, seed: int) -> FICurve:
    """The f–I curve of the configured neuron under its noise source.

    Parameters
    ----------
    sp : SpikingParams
        The populations' settings (noise, I_unit, offset, r_max, time step, target).
    calib : CalibrationParams
        The grid and counting of the table.
    models : dict
        The loaded model files (:func:`~stdp_ebm.spiking.params.load_models`).
    seed : int
        Seed of the calibration's own random stream.

    Returns
    -------
    FICurve
        The measured curve; :meth:`FICurve.tabulate` gives ρ_LIF.
    """
    import brian2 as b2

    from . import background, neuron_overrides

    return measure_fi(models["neuron"], neuron_overrides(sp), calib,
                      sp.unit_current_nA * b2.nA, sp.r_max_hz, seed, sp.offset,
                      inputs=lambda group: background(group, sp, models), target=sp.codegen,
                      dt_ms=sp.dt_ms)


def siegert_rate(mu_v: np.ndarray, sigma_v: float, tau_m: float, t_ref: float, v_th: float,
                 v_reset: float, dt: float = 0.0) -> np.ndarray:
    """Stationary rate (Hz) of a LIF neuron driven by white noise: the Siegert first-passage
    formula (Brunel 2000, Eq 21; Fourcaud & Brunel 2002) in SI units (V, s),

        1/ν = t_ref + τ_m √π ∫_{(v_r − μ)/σ_B}^{(θ − μ)/σ_B} e^{u²} (1 + erf u) du,

    μ = E_L + R_m I the mean free membrane potential, σ_B = √2·σ with σ the s.d. of the free
    membrane potential (``models/lif_neuron.toml``'s ``sigma``; Brunel's convention
    τ dv = (μ − v)dt + σ_B √τ dW). ``dt`` > 0 corrects for a threshold checked once per time step:
    the Euler walk overshoots θ by −ζ(½)/√(2π) ≈ 0.583 s.d. of one step's increment,
    σ_B √(dt/τ_m), so θ and v_r act shifted up by that much (a shift that vanishes as dt → 0).

    Parameters
    ----------
    mu_v : numpy.ndarray
        Mean free membrane potential μ (V), any shape (flattened).
    sigma_v : float
        S.d. σ of the free membrane potential (V).
    tau_m : float
        Membrane time constant τ_m (s).
    t_ref : float
        Refractory period (s).
    v_th, v_reset : float
        Threshold θ and reset v_r (V).
    dt : float
        Simulation time step (s); 0: continuous time.

    Returns
    -------
    numpy.ndarray
        The rate ν (Hz), one per entry of ``mu_v``, shape ``(mu_v.size,)``.
    """
    from scipy.integrate import quad
    from scipy.special import erfcx

    sigma_b = np.sqrt(2.0) * sigma_v
    shift = 0.5826 * sigma_b * np.sqrt(dt / tau_m)
    out = []
    for mu in np.atleast_1d(mu_v):
        lo, hi = (v_reset + shift - mu) / sigma_b, (v_th + shift - mu) / sigma_b
        integral = quad(lambda u: erfcx(-u), lo, hi, limit=200)[0]  # e^{u²}(1 + erf u)
        out.append(1.0 / (t_ref + tau_m * np.sqrt(np.pi) * integral))
    return np.array(out)
