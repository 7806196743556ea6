"""One training episode of the Brian2 network (stdp_ebm/spiking/schedule.py): the free phase and
the ±β phases as segments of one run, equal to the phases run one by one; memory bounded across
episodes; Ctrl+C and failing callbacks. Brian2's numpy target on a 3-4-2 network."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stdp_ebm.activation import TabulatedRho
from stdp_ebm.network import network_from_config

from conftest import numpy_sp, small_config

pytestmark = pytest.mark.brian2


def _small_network(models, seed: int = 9):
    from stdp_ebm.spiking import SpikingNetwork

    net = network_from_config(small_config(sizes=(3, 4, 2), batch=1, init_scale=0.5),
                              np.random.default_rng(5))
    rho = TabulatedRho(np.linspace(-0.5, 1.5, 21), np.linspace(0.0, 1.2, 21))
    return SpikingNetwork(net, rho, numpy_sp(neurons_per_unit=5, settle_ms=10.0, free_ms=20.0,
                                        nudged_ms=30.0), models, seed)


def _counting_runs(sn) -> list:
    calls, original = [], sn.network.run

    def run(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    sn.network.run = run
    return calls


def test_episode_in_one_run_equals_the_phases_run_one_by_one(models):
    """The schedule (free phase, +β, resume, −β as segments of one Brian2 run, callbacks at the
    boundaries) reproduces the four separate runs bit for bit: rates, ŷ, the rule's integrals and
    the rate trajectories, with common random numbers in both."""
    force = np.array([[0.5, -0.5]])
    ref = _small_network(models)
    ref_calls = _counting_runs(ref)
    rates, y = ref.free_phase()
    start = ref.checkpoint()
    plus = ref.nudged_phase(ref.sp.beta * force, [10.0, 30.0])
    ref.resume(start)
    minus = ref.nudged_phase(-ref.sp.beta * force, [10.0, 30.0])

    sn = _small_network(models)
    calls = _counting_runs(sn)
    seen = []
    ep = sn.episode(lambda y_free: seen.append(y_free) or force, [10.0, 30.0])
    assert (len(ref_calls), len(calls)) == (3, 1)
    assert_allclose(seen[0], y, rtol=0, atol=0)  # the force is computed from the free phase's ŷ
    assert ep.divisor == 2 * sn.sp.beta
    for a, b in zip(ep.rates + [ep.y], rates + [y]):
        assert_allclose(a, b, rtol=0, atol=0)
    for got, want in ((ep.plus, plus), (ep.reference, minus)):
        assert len(got.acc) == 2
        for when in range(2):
            for a, b in zip(got.acc[when]["sym"], want.acc[when]["sym"]):
                assert np.any(a != 0)
                assert_allclose(a, b, rtol=0, atol=0)
        for a, b in zip(got.rho, want.rho):
            assert_allclose(a, b, rtol=0, atol=0)


def test_the_rate_history_is_kept_for_one_phase_only_so_memory_stays_bounded(models):
    """Episodes one after another on one network, as in training: the rate monitor holds one
    phase's samples, not the history of every example seen (which grew to 5 GB after three MNIST
    epochs and was copied whole at every phase), and every phase still gets all its samples."""
    sn = _small_network(models)
    force = np.array([[0.5, -0.5]])
    samples = []
    for _ in range(3):
        ep = sn.episode(lambda y: force, [30.0])
        samples += [len(ep.plus.rho[0]), len(ep.reference.rho[0])]
        assert sn.rate_mon.variables["N"].get_value().item() == samples[-1]
        # the output current (1 ms samples) from the counting window on: this episode's only
        one_episode = sn.sp.free_ms + 2 * 30.0
        assert sn.out_mon.variables["N"].get_value().item() <= one_episode + 1
    # 30 ms at record_ms = 2 ms: 15 samples in each of the six phases
    assert samples == [round(30.0 / sn.sp.record_ms)] * 6


def test_ctrl_c_during_an_episode_interrupts_it_instead_of_returning_a_cut_short_phase(models):
    """Brian2 turns a first Ctrl+C (SIGINT) during a run into a stop at the end of the step and
    returns normally; the episode must not go on to compute ΔW from the cut-short phase (it did:
    NaN rates, and a training run carried on)."""
    import signal

    sn = _small_network(models)
    force = np.array([[0.5, -0.5]])
    with pytest.raises(KeyboardInterrupt):
        sn.episode(lambda y: signal.raise_signal(signal.SIGINT) or force, [30.0])


def test_a_failing_callback_stops_the_run_and_raises_its_own_error(models):
    import brian2 as b2

    from stdp_ebm.spiking.schedule import Segment, run_segments

    sn = _small_network(models)
    called = []

    def fail():
        raise ValueError("boom")

    segments = [Segment(5.0, end=fail), Segment(20.0, start=lambda: called.append(1))]
    with pytest.raises(ValueError, match="boom"):
        run_segments(sn.network, sn.neurons.clock, segments)
    assert called == []
    # stopped at the end of the step in which the callback ran
    assert float(sn.network.t / b2.ms) == pytest.approx(5.0 + sn.sp.dt_ms)
