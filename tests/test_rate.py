"""Rate model: energy, drive and dynamics against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.activation import HardSigmoid, TabulatedRho
from stdp_ebm.energy import HOPFIELD
from stdp_ebm.errors import ConvergenceError, DivergenceError
from stdp_ebm.rate import RateModel


def _energy_gradient_fd(model, s, h=1e-6):
    """Central finite differences of the energy E (Eq 6) with respect to every free unit."""
    grads = []
    for k in range(1, len(s)):
        g = np.zeros_like(s[k])
        for idx in np.ndindex(s[k].shape):
            plus = [x.copy() for x in s]
            minus = [x.copy() for x in s]
            plus[k][idx] += h
            minus[k][idx] -= h
            g[idx] = (model.energy(plus)[idx[0]] - model.energy(minus)[idx[0]]) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("rho", [HardSigmoid(), HardSigmoid(-0.5, 1.5)])
def test_drive_is_minus_energy_gradient_plus_state(small_net, rho):
    """Eq 4/8: ∂E/∂s = s − R(s) wherever ρ is differentiable (states strictly inside the bounds)."""
    model = RateModel(small_net, rho)
    rng = np.random.default_rng(0)
    lo, hi = rho.bounds
    s = [small_net.x] + [rng.uniform(lo + 0.05, hi - 0.05, (3, n)) for n in small_net.sizes[1:]]
    R = model.drive(s)
    # h = 1e-6 central differences of a quadratic-in-the-interior energy: error ~ 1e-10 (rounding).
    for k, g in enumerate(_energy_gradient_fd(model, s), start=1):
        assert_allclose(s[k] - R[k], g, atol=1e-8)


def test_tabulated_rho_drive_matches_energy_gradient(small_net):
    """Same identity with a smooth tabulated ρ (ρ' from the same spline as ρ)."""
    grid = np.linspace(0.0, 1.0, 41)
    rho = TabulatedRho(grid, 1.0 / (1.0 + np.exp(-8 * (grid - 0.5))))
    model = RateModel(small_net, rho, projected=False)
    rng = np.random.default_rng(1)
    s = [small_net.x] + [rng.uniform(0.1, 0.9, (3, n)) for n in small_net.sizes[1:]]
    R = model.drive(s)
    # Spline values are smooth (C2): FD error ~ h² ρ''' ~ 1e-10; 1e-7 leaves margin for rounding.
    for k, g in enumerate(_energy_gradient_fd(model, s), start=1):
        assert_allclose(s[k] - R[k], g, atol=1e-7)


_GRID = np.linspace(-0.5, 1.5, 41)
_SIGMOID = TabulatedRho(_GRID, 1.0 / (1.0 + np.exp(-5 * (_GRID - 0.5))))  # curved: ρ' ≠ 1


def _energies_along(model: RateModel, s, steps: int = 200) -> np.ndarray:
    """E after each of ``steps`` noiseless free-phase steps from ``s`` (steps + 1, batch)."""
    energies = [model.energy(s)]
    for _ in range(steps):
        s = model.step(s)
        energies.append(model.energy(s))
    return np.array(energies)


def test_hopfield_energy_gradient_is_gain_times_drive_error(small_net):
    """Hopfield (1984): ∂E_H/∂s = ρ'(s)(s − a(s)) with the drive a = b + Wρ, i.e. the dynamics
    ds/dt = a − s descend E_H in the rates. Independent check: central differences of E_H, whose
    self term uses the spline's antiderivative, not ρ' or the drive."""
    rho = _SIGMOID
    model = RateModel(small_net, rho, projected=False, energy_form=HOPFIELD)
    rng = np.random.default_rng(4)
    s = [small_net.x] + [rng.uniform(-0.3, 1.3, (3, n)) for n in small_net.sizes[1:]]
    R = model.drive(s)
    # as above: a C2 spline, FD error ~1e-10; 1e-7 leaves margin for rounding
    for k, g in enumerate(_energy_gradient_fd(model, s), start=1):
        assert_allclose(rho.prime(s[k]) * (s[k] - R[k]), g, atol=1e-7)


def test_hopfield_dynamics_descend_their_energy(small_net):
    """dE_H/dt = −Σ ρ'(s)(s − a)² ≤ 0: with a small step every step lowers E_H."""
    model = RateModel(small_net, _SIGMOID, epsilon=0.05, projected=True, energy_form=HOPFIELD)
    energies = _energies_along(model, model.initial_state(small_net.x))
    # a step of ε = 0.05 is a descent step: decrease up to rounding (1e-12 of |E| ~ 1)
    assert np.all(np.diff(energies, axis=0) <= 1e-12)


def test_unprojected_dynamics_descend_the_energy(small_net):
    """Eq 4: with η = 0, β = 0 and a small step, every step lowers E (gradient descent)."""
    model = RateModel(small_net, HardSigmoid(-10, 10), epsilon=0.05, projected=False)
    energies = _energies_along(model, model.initial_state(small_net.x))
    assert np.all(np.diff(energies, axis=0) <= 1e-12)


def test_free_phase_reaches_a_fixed_point(small_net):
    model = RateModel(small_net, HardSigmoid(), epsilon=0.5)
    phase = model.free_phase(small_net.x, tol=1e-12)
    again = model.step(phase.s)
    for a, b in zip(again[1:], phase.s[1:]):
        # the stopping rule is max|Δs|/ε < tol
        assert np.max(np.abs(a - b)) / 0.5 < 1e-12
    assert np.all(phase.s[-1] >= 0) and np.all(phase.s[-1] <= 1)


def test_nudged_phase_lowers_the_cost(small_net):
    model = RateModel(small_net, HardSigmoid(), epsilon=0.5)
    free = model.free_phase(small_net.x, tol=1e-12)
    nudged = model.nudged_phase(free.s, small_net.target, beta=0.5, tol=1e-12)
    assert np.all(model.cost(nudged.s, small_net.target) <= model.cost(free.s, small_net.target))


def test_trajectory_is_recorded(small_net):
    model = RateModel(small_net, HardSigmoid(), epsilon=0.5)
    phase = model.free_phase(small_net.x, steps=7, record=True)
    assert [t.shape for t in phase.trajectory] == [(8, 3, n) for n in small_net.sizes]
    assert_allclose(phase.trajectory[-1][-1], phase.s[-1], rtol=0, atol=0)


def test_noise_is_reproducible(small_net):
    model = RateModel(small_net, HardSigmoid(), epsilon=0.5, noise=0.05)
    runs = [model.free_phase(small_net.x, steps=20, rng=np.random.default_rng(3)).s for _ in range(2)]
    for a, b in zip(*runs):
        assert_allclose(a, b, rtol=0, atol=0)


def test_non_convergence_and_divergence_are_clear_errors(small_net):
    model = RateModel(small_net, HardSigmoid(), epsilon=0.5)
    with pytest.raises(ConvergenceError, match="did not converge in 3 steps"):
        model.free_phase(small_net.x, tol=1e-12, max_steps=3)
    bad = small_net.copy()
    bad.W[0][:] = 1e308
    with pytest.raises(DivergenceError, match="non-finite"):
        RateModel(bad, HardSigmoid(-np.inf, np.inf), projected=False).free_phase(bad.x, tol=1e-12)
