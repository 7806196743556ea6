"""The reference gradients against each other and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.activation import HardSigmoid, TabulatedRho
from stdp_ebm.energy import EQ6, HOPFIELD
from stdp_ebm.rate import RateModel
from stdp_ebm.references import (feedforward_backprop, finite_difference_neg_grad,
                                 implicit_neg_grad)


def _relaxer(rho, projected, energy=EQ6):
    def relax(net):
        model = RateModel(net, rho, epsilon=0.5, projected=projected, energy_form=energy)
        return model.free_phase(net.x, tol=1e-14, max_steps=100_000).s
    return relax


_GRID = np.linspace(0.0, 1.0, 41)
# a curved ρ: the ρ'' term of the Hessian (Eq 6) and the ρ' of the readout (Hopfield) matter
_CURVED = TabulatedRho(_GRID, 1.0 / (1.0 + np.exp(-4 * (_GRID - 0.4))))


@pytest.mark.parametrize("rho, energy", [(HardSigmoid(), EQ6), (_CURVED, EQ6), (_CURVED, HOPFIELD)],
                         ids=["hard_sigmoid", "tabulated_sigmoid", "tabulated_hopfield"])
def test_implicit_gradient_matches_finite_differences(small_net, rho, energy):
    """Issue 2: implicit gradient vs central differences of C at the relaxed fixed point, rtol 1e-4
    (for Hopfield's energy C = ½‖ρ(y) − d‖² at the fixed point of ds/dt = b + Wρ − s).

    h = 1e-6 with fixed points converged to 1e-14: truncation (C is smooth, or piecewise quadratic for
    the hard sigmoid away from saturation switches) and rounding errors are ~1e-8 relative, well inside
    rtol 1e-4.
    """
    relax = _relaxer(rho, True, energy)
    s = relax(small_net)
    implicit = implicit_neg_grad(small_net, rho, s, small_net.target, projected=True, energy=energy)
    fd = finite_difference_neg_grad(small_net, relax, small_net.target, h=1e-6,
                                    readout=lambda y: energy.readout(rho, y))
    for g, f in zip(implicit, fd):
        assert_allclose(g, f, rtol=1e-4, atol=1e-4 * np.max(np.abs(f)))


def test_backprop_equals_implicit_without_feedback(small_net):
    """With one weight layer there is no feedback loop: FF backprop and the implicit gradient agree."""
    from stdp_ebm.network import Network
    net = Network(small_net.W[:1], small_net.b[:2], small_net.x)
    net.target = np.random.default_rng(2).uniform(0, 1, (3, net.sizes[-1]))
    rho = HardSigmoid()
    s = _relaxer(rho, True)(net)
    ff, _ = feedforward_backprop(net, rho, s, net.target)
    imp = implicit_neg_grad(net, rho, s, net.target)
    # Both are exact closed forms of the same derivative: agreement to rounding.
    assert_allclose(ff[0], imp[0], rtol=1e-10, atol=1e-12)


def test_backprop_equals_implicit_without_feedback_hopfield(small_net):
    """The same with Hopfield's energy and a curved ρ (gain 1, readout ρ(y))."""
    from stdp_ebm.network import Network
    net = Network(small_net.W[:1], small_net.b[:2], small_net.x)
    net.target = np.random.default_rng(3).uniform(0, 1, (3, net.sizes[-1]))
    s = _relaxer(_CURVED, True, HOPFIELD)(net)
    ff, _ = feedforward_backprop(net, _CURVED, s, net.target, energy=HOPFIELD)
    imp = implicit_neg_grad(net, _CURVED, s, net.target, energy=HOPFIELD)
    assert_allclose(ff[0], imp[0], rtol=1e-10, atol=1e-12)  # same derivative: rounding only


def test_energies_coincide_for_the_projected_hard_sigmoid(small_net):
    """Inside [β1, β2] ρ(s) = s and ρ' = 1: same fixed point and gradient for both energies."""
    rho = HardSigmoid()
    s6, sh = _relaxer(rho, True, EQ6)(small_net), _relaxer(rho, True, HOPFIELD)(small_net)
    for a, b in zip(s6, sh):
        assert_allclose(a, b, atol=1e-12)  # both relaxed to a residual of 1e-14
    for a, b in zip(implicit_neg_grad(small_net, rho, s6, small_net.target),
                    implicit_neg_grad(small_net, rho, sh, small_net.target, energy=HOPFIELD)):
        assert_allclose(a, b, rtol=1e-9, atol=1e-12)
