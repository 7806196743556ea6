"""EP, CHL and PC (stdp_ebm.algorithms) against finite differences and independent formulas.

The energies below are written out again here, from the papers, so that each update is checked against
code it does not share: PC against the prediction-error energy of Whittington & Bogacz (2017) and the
feed-forward loss, CHL and EP against the Hopfield energy of Eq 6 and finite differences of C(ŝ(W)).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from conftest import EXPERIMENTS, small_config
from stdp_ebm import runner
from stdp_ebm.activation import HardSigmoid
from stdp_ebm.analysis import alignment
from stdp_ebm.errors import ConfigError
from stdp_ebm.experiments import RunContext
from stdp_ebm.network import Network, network_from_config
from stdp_ebm.rate import RateModel
from stdp_ebm.references import finite_difference_neg_grad, free_mask
from stdp_ebm.seeds import Seeds
from stdp_ebm.algorithms import (ALGORITHMS, Comparison, PCModel, chl_target, clamped_phase,
                                  pc_delta_w)

TOL = 1e-13  # relaxation tolerance of these tests (max |Δs|/ε at the fixed point)
H = 1e-6     # finite-difference step on weights and states
RHO = HardSigmoid()


def rho(s):
    return np.clip(s, 0.0, 1.0)


def ff_loss(W, b, x, d) -> float:
    """Batch mean of ½‖y − d‖² of the feed-forward net h_{k+1} = ρ(h_k) W_k + b_{k+1}."""
    h = x
    for w, bk in zip(W, b[1:]):
        h = rho(h) @ w + bk
    return float(np.mean(0.5 * np.sum((h - d) ** 2, axis=1)))


def pc_energy(W, b, s) -> float:
    """Batch mean of the PC energy Σ_k ½‖s_k − ρ(s_{k−1}) W_{k−1} − b_k‖² (no output term)."""
    return float(np.mean(sum(0.5 * np.sum((s[k] - rho(s[k - 1]) @ W[k - 1] - b[k]) ** 2, axis=1)
                             for k in range(1, len(s)))))


def hopfield_energy(W, b, s) -> float:
    """Batch mean of Eq 6: Σ s²/2 − Σ_k ρ(s_k) W_k ρ(s_{k+1}) − Σ b·ρ(s)."""
    e = sum(0.5 * np.sum(sk**2, axis=1) for sk in s)
    e -= sum(np.sum((rho(s[k]) @ w) * rho(s[k + 1]), axis=1) for k, w in enumerate(W))
    e -= sum(rho(sk) @ bk for sk, bk in zip(s, b))
    return float(np.mean(e))


def _central_differences(f, arrays, first: int = 0) -> list[np.ndarray]:
    """Central differences of the scalar f(arrays) w.r.t. every entry of arrays[first:] (zeros before)."""
    grads = [np.zeros_like(a) for a in arrays[:first]]
    for k in range(first, len(arrays)):
        g = np.zeros_like(arrays[k])
        for idx in np.ndindex(arrays[k].shape):
            plus, minus = [v.copy() for v in arrays], [v.copy() for v in arrays]
            plus[k][idx] += H
            minus[k][idx] -= H
            g[idx] = (f(plus) - f(minus)) / (2 * H)
        grads.append(g)
    return grads


def fd_weights(f, W) -> list[np.ndarray]:
    """Central differences of the scalar f(W) with respect to every weight."""
    return _central_differences(f, W)


def fd_states(f, s) -> list[np.ndarray]:
    """Central differences of f(s) with respect to every free state (layers 1 … L+1)."""
    return _central_differences(f, s, first=1)


@pytest.fixture(scope="module")
def net() -> Network:
    return network_from_config(small_config(), np.random.default_rng(7))


@pytest.fixture(scope="module")
def cmp(net) -> Comparison:
    return Comparison.build(RateModel(net, RHO, 0.5), 0.5, net.x, net.target, TOL, 200_000)


@pytest.fixture(scope="module")
def ff_neg_grad(net) -> list[np.ndarray]:
    return [-g for g in fd_weights(lambda W: ff_loss(W, net.b, net.x, net.target), net.W)]


def test_pc_reference_is_feedforward_backprop(cmp, ff_neg_grad):
    # The FF loss is piecewise quadratic in each weight, so central differences are exact up to
    # rounding (~1e-16 · C / H ≈ 1e-10) unless a kink lies within H of the point (measure zero).
    assert_allclose(np.concatenate([g.ravel() for g in cmp.reference("PC")]),
                    np.concatenate([g.ravel() for g in ff_neg_grad]), rtol=1e-6, atol=1e-9)


def test_pc_free_phase_is_the_feedforward_pass(cmp, net):
    """Every prediction error is zero there, so the PC energy (written out here) vanishes."""
    assert pc_energy(net.W, net.b, cmp.s_ff) == pytest.approx(0.0, abs=1e-28)


@pytest.mark.parametrize("lam", [0.1, 1.0])
def test_pc_update_is_minus_energy_gradient_at_its_equilibrium(cmp, net, lam):
    s = cmp.perturbed("PC", lam, tol=TOL).s
    total = lambda st: pc_energy(net.W, net.b, st) + lam * np.mean(  # noqa: E731
        0.5 * np.sum((st[-1] - net.target) ** 2, axis=1))
    on_kink = [np.isin(sk, RHO.bounds) for sk in s[1:-1]]
    # Equilibrium: ∂(F + λC)/∂s = 0 for every unit off a kink of ρ (F is quadratic in s there, so
    # central differences are exact to rounding; the relaxation stops at residual ≤ 1e-13).
    for k, g in enumerate(fd_states(total, s)[1:], start=1):
        off = ~on_kink[k - 1] if k < len(s) - 1 else np.ones_like(g, bool)
        assert_allclose(g[off], 0.0, atol=1e-8)
    # Update −(1/λ) ∂F/∂W: F is quadratic in W at fixed states, so central differences are exact
    # to rounding (~1e-10); the 1/λ ≤ 10 factor keeps that below 1e-8.
    expected = [-g / lam for g in fd_weights(lambda W: pc_energy(W, net.b, s), net.W)]
    for dw, ref in zip(pc_delta_w(cmp.pc, s, lam), expected):
        assert_allclose(dw, ref, rtol=1e-6, atol=1e-8)


def test_pc_and_ep_tend_to_backprop(cmp, net, ff_neg_grad):
    """At p = 1e-5 the updates differ from their references by O(p): distance < 1e-3 leaves a
    factor 100 over the measured constant (~1.3 p on the standard net)."""
    p = 1e-5
    pc = cmp.update("PC", cmp.perturbed("PC", p, tol=TOL).s, p)
    al = alignment(np.concatenate([g.ravel() for g in pc]),
                   np.concatenate([g.ravel() for g in ff_neg_grad]))
    assert al["nrmse"] < 1e-3
    fd = finite_difference_neg_grad(net, lambda n: RateModel(n, RHO, 0.5).free_phase(
        n.x, tol=TOL).s, net.target)
    ep = cmp.update("EP", cmp.perturbed("EP", p, tol=TOL).s, p)
    al = alignment(np.concatenate([g.ravel() for g in ep]), np.concatenate([g.ravel() for g in fd]))
    assert al["nrmse"] < 1e-3


def test_pc_first_arrival_is_exact_backprop(cmp, ff_neg_grad):
    """Inference steps from the feed-forward pass: the error reaches e_{k+1} first at step
    n_k = L + 1 − k, while s_k has not moved yet, so ΔW_k is 0 before n_k and exactly ε^{n_k} times
    feed-forward backprop at n_k (Song et al. 2020's first-step result). Tolerance: the finite
    differences of the reference (≈1e-10) relative to a gradient of order 1e-2."""
    lam, eps, n_w = 1e-3, cmp.pc.epsilon, len(ff_neg_grad)
    for k, ref in enumerate(ff_neg_grad):
        first = n_w - k
        before = cmp.update("PC", cmp.perturbed("PC", lam, steps=first - 1).s, lam)[k] if first > 1 \
            else np.zeros_like(ref)
        at = cmp.update("PC", cmp.perturbed("PC", lam, steps=first).s, lam)[k]
        assert_allclose(before, 0.0, atol=1e-12)  # e_k of the FF pass is 0 up to rounding (1e-16)/λ
        assert_allclose(at, eps**first * ref, rtol=1e-6, atol=1e-9)


def test_pc_stops_on_a_kink_instead_of_chattering():
    """One hidden unit with prediction 0.1 and a strong top-down error: the minimum of F + λC is on
    ρ's kink at 0. The relaxation must converge there, with 0 in the subdifferential."""
    net = Network([np.array([[0.1]]), np.array([[5.0]])], [np.zeros(1)] * 3)
    x, d, lam = np.ones((1, 1)), np.full((1, 1), -10.0), 1.0
    pc = PCModel(net, RHO, epsilon=0.5)
    s = pc.nudged_phase(pc.initial_state(x), d, lam, tol=TOL).s
    assert s[1][0, 0] == 0.0
    cost = lam * 0.5 * float((s[2][0, 0] - d[0, 0]) ** 2)
    total = lambda h: pc_energy(net.W, net.b, [x, np.array([[h]]), s[2]]) + cost  # noqa: E731
    left = (total(0.0) - total(-H)) / H
    right = (total(H) - total(0.0)) / H
    assert left <= 0.0 <= right


def test_chl_clamped_phase_and_update_vs_hopfield_energy(cmp, net):
    gamma = 0.5
    s = cmp.perturbed("CHL", gamma, tol=TOL).s
    assert_allclose(s[-1], chl_target(cmp.s_free[-1], net.target, gamma), rtol=0, atol=0)
    # Clamped fixed point: ∂E/∂h = 0 on every hidden unit not pinned at a bound (E is quadratic in
    # s inside the box, central differences exact to rounding; relaxation residual ≤ 1e-13).
    masks = free_mask(net, RHO, s, projected=True)
    for k in range(1, len(s) - 1):
        g = fd_states(lambda st: hopfield_energy(net.W, net.b, st), s)[k]
        assert_allclose(g[masks[k]], 0.0, atol=1e-8)
    # CHL update (1/γ)(−∂E/∂W|clamped + ∂E/∂W|free): E is linear in W, differences exact to rounding.
    dE = lambda st: fd_weights(lambda W: hopfield_energy(W, net.b, st), net.W)  # noqa: E731
    expected = [(g0 - gc) / gamma for gc, g0 in zip(dE(s), dE(cmp.s_free))]
    for dw, ref in zip(cmp.update("CHL", s, gamma), expected):
        assert_allclose(dw, ref, rtol=1e-6, atol=1e-8)


def test_chl_clamped_at_eps_nudged_output_reproduces_ep(cmp):
    """CHL's only difference from EP is where it puts the output: clamped at EP's nudged output
    y^β, the hidden layers relax to EP's nudged fixed point (both solve ∂E/∂h = 0 given y), so
    the two contrasts coincide. Tolerance: both fixed points are solved to residual 1e-13."""
    beta = 0.1
    s_ep = cmp.perturbed("EP", beta, tol=TOL).s
    s_c = clamped_phase(cmp.ebm, cmp.s_free, s_ep[-1], tol=TOL).s
    for a, b in zip(s_c[1:], s_ep[1:]):
        assert_allclose(a, b, atol=1e-11)


def test_chl_limit_is_the_linear_response_to_the_clamp(cmp, net):
    """As γ → 0, ΔW_CHL → Σ δρ_kᵀρ_{k+1} + ρ_kᵀδρ_{k+1} with δy = d − y⁰ and, on the free hidden
    units, δh = −H_hh⁻¹ H_hy δy (H = I − W on unsaturated units of the hard sigmoid). This is not
    −∂C/∂W, which needs δy = S⁻¹(d − y⁰): the bias the experiment reports."""
    s0, sizes = cmp.s_free, net.sizes
    off = np.concatenate([[0], np.cumsum(sizes)])
    full = np.zeros((off[-1], off[-1]))
    for k, w in enumerate(net.W):
        full[off[k]:off[k + 1], off[k + 1]:off[k + 2]] = w
    full += full.T
    free = np.concatenate(free_mask(net, RHO, s0, projected=True), axis=1)
    expected = [np.zeros_like(w) for w in net.W]
    for n in range(len(s0[0])):
        hid = np.flatnonzero(free[n, :off[-2]])
        out = np.arange(off[-2], off[-1])
        dy = net.target[n] - s0[-1][n]
        ds = np.zeros(off[-1])
        ds[out] = dy
        H_hh = np.eye(len(hid)) - full[np.ix_(hid, hid)]
        ds[hid] = np.linalg.solve(H_hh, full[np.ix_(hid, out)] @ dy)  # −H_hy = W_hy
        r = np.concatenate([rho(sk[n]) for sk in s0])
        for k in range(len(net.W)):
            a, m, b = off[k], off[k + 1], off[k + 2]
            expected[k] += (np.outer(ds[a:m], r[m:b]) + np.outer(r[a:m], ds[m:b])) / len(s0[0])
    gamma = 1e-6
    got = cmp.update("CHL", cmp.perturbed("CHL", gamma, tol=TOL).s, gamma)
    # O(γ) = 1e-6 nonlinearity; the relaxation error tol/γ ≈ 1e-7 — 1e-5 absolute covers both.
    for g, e in zip(got, expected):
        assert_allclose(g, e, atol=1e-5)


# --- the experiment ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    cfg, exp = runner.resolve(EXPERIMENTS / "unification.toml")
    return cfg, exp.run(cfg, RunContext(Seeds(cfg["seed"])))


def test_issue_numbers_hold_on_the_standard_net(result):
    """EP and PC: cosine ≥ 0.999 at the smallest perturbation (1e-4), distance falling."""
    head = result[1].summary["standard"]["headline"]
    for alg in ("EP", "PC"):
        assert head[alg]["perturbation"] == 1e-4
        assert head[alg]["min_layer_cos"] >= 0.999
        assert head[alg]["distance_monotone"]


def test_run_reports_every_algorithm_on_both_nets(result):
    cfg, res = result
    n_p = len(cfg["unification"]["perturbations"])
    n_s = len(cfg["unification"]["inference_steps"])
    for net in ("standard", "digits"):
        n_w = len(res.data[f"{net}_sizes"]) - 1
        for alg in ALGORITHMS:
            assert res.data[f"{net}_{alg}_by_perturbation"].shape[:2] == (n_p, n_w + 1)
            assert res.data[f"{net}_{alg}_by_steps"].shape[:2] == (n_s, n_w + 1)
        assert res.data[f"{net}_chl_gap"].shape == (n_p, n_w)
        assert set(res.summary[net]["headline"]) == set(ALGORITHMS)
    assert res.summary["digits"]["training"]["test_error_fraction"][-1] < 0.5  # learnt something (chance 0.9)


def test_figures_from_data_alone(result):
    cfg, res = result
    import matplotlib.pyplot as plt
    figs = runner.resolve(EXPERIMENTS / "unification.toml")[1].figures(res.data, res.summary, cfg)
    assert set(figs) == {"perturbation", "steps"}
    for fig in figs.values():
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.has_data())
        plt.close(fig)


def test_same_seed_same_result(result):
    cfg, res = result
    again = runner.resolve(EXPERIMENTS / "unification.toml")[1].run(cfg, RunContext(Seeds(cfg["seed"])))
    for k, v in res.data.items():
        assert np.array_equal(v, again.data[k]), k


@pytest.mark.parametrize("override, key", [("dynamics.noise=0.1", "noise"),
                                           ("train.lrs=[0.1]", "lrs")])
def test_bad_config_is_refused_before_running(override, key):
    with pytest.raises(ConfigError, match=key):
        runner.resolve(EXPERIMENTS / "unification.toml", [override])
