"""The reference gradients against each other and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.activation import HardSigmoid, TabulatedRho
from stdp_ebm.rate import RateModel
from stdp_ebm.references import (feedforward_backprop, finite_difference_neg_grad,
                                 implicit_neg_grad)


def _relaxer(rho, projected):
    def relax(net):
        model = RateModel(net, rho, epsilon=0.5, projected=projected)
        return model.free_phase(net.x, tol=1e-14, max_steps=100_000).s
    return relax


_GRID = np.linspace(0.0, 1.0, 41)


@pytest.mark.parametrize("rho", [
    HardSigmoid(),
    # a curved ρ: the ρ'' term of the Hessian matters
    TabulatedRho(_GRID, 1.0 / (1.0 + np.exp(-4 * (_GRID - 0.4)))),
], ids=["hard_sigmoid", "tabulated_sigmoid"])
def test_implicit_gradient_matches_finite_differences(small_net, rho):
    """Issue 2: implicit gradient vs central differences of C at the relaxed fixed point, rtol 1e-4.

    h = 1e-6 with fixed points converged to 1e-14: truncation (C is smooth, or piecewise quadratic for
    the hard sigmoid away from saturation switches) and rounding errors are ~1e-8 relative, well inside
    rtol 1e-4.
    """
    relax = _relaxer(rho, True)
    s = relax(small_net)
    implicit = implicit_neg_grad(small_net, rho, s, small_net.target, projected=True)
    fd = finite_difference_neg_grad(small_net, relax, small_net.target, h=1e-6)
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
