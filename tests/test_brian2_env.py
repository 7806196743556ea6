"""Brian2's process-wide settings are the caller's after every public call
(:mod:`stdp_ebm.spiking.brian2_env`): code-generation target, default clock, random numbers,
device and the garbage collector. Numpy target, tiny populations: nothing is compiled."""

from __future__ import annotations

import builtins
import gc
import logging

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from stdp_ebm.activation import TabulatedRho
from stdp_ebm.spiking.calibration import CalibrationParams, calibrate
from stdp_ebm.errors import UserError
from stdp_ebm.network import network_from_config
from stdp_ebm.spiking import SpikingNetwork, brian2_env, rule_on_spike_trains, simulate
from stdp_ebm.spiking.randomstate import check_random_access

from conftest import numpy_sp, small_config

pytestmark = pytest.mark.brian2


def _settings() -> dict:
    import brian2 as b2

    return {"target": b2.prefs.codegen.target, "dt": float(b2.defaultclock.dt / b2.ms),
            "numpy": np.random.get_state()[1].copy(), "device": b2.get_device(),
            "frozen": gc.get_freeze_count()}


def _tiny():
    net = network_from_config(small_config(sizes=(3, 4, 2), batch=2, init_scale=0.5),
                              np.random.default_rng(5))
    s = np.linspace(-0.5, 1.5, 21)
    rho = TabulatedRho(s, np.clip(s + 0.3, 0, None) ** 1.5 / 1.7)
    sp = numpy_sp(neurons_per_unit=3, trials=1, settle_ms=10.0, free_ms=20.0, nudged_ms=20.0,
                  beta=0.5, dt_ms=0.1)
    return net, rho, sp


@pytest.fixture
def user_settings():
    """The caller's own Brian2 settings, none of them the simulations' (target cython, dt 0.05 ms,
    numpy seeded with 123); put back afterwards for the other tests."""
    import brian2 as b2

    before = (b2.prefs.codegen.target, b2.defaultclock.dt)
    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = 0.05 * b2.ms
    np.random.seed(123)
    yield _settings()
    b2.prefs.codegen.target, b2.defaultclock.dt = before


def _assert_unchanged(before: dict) -> None:
    after = _settings()
    assert after["target"] == before["target"] and after["dt"] == before["dt"]
    assert after["device"] is before["device"] and after["frozen"] == before["frozen"]
    assert_array_equal(after["numpy"], before["numpy"])  # the caller's random stream untouched


def test_simulate_leaves_brian2_as_the_caller_set_it(models, user_settings):
    simulate(*_tiny(), seed=42, models=models)
    _assert_unchanged(user_settings)


def test_calibration_and_the_rule_on_given_trains_leave_brian2_as_the_caller_set_it(
        models, user_settings):
    calib = CalibrationParams(points=5, neurons_per_point=2, duration_ms=20.0, warmup_ms=0.0)
    calibrate(_tiny()[2], calib, models, seed=1)
    _assert_unchanged(user_settings)
    trains = [(np.array([0, 1]), np.array([1.0, 2.0])), (np.array([0]), np.array([3.0]))]
    rule_on_spike_trains(trains, 2, 10.0, _tiny()[2], models)
    _assert_unchanged(user_settings)


def test_an_stdp_protocol_leaves_brian2_as_the_caller_set_it(user_settings):
    from stdp_ebm.stdp import protocols

    protocols.run_schedule(protocols.pairing(np.array([-10.0, 10.0]), n_pairings=2), seed=1,
                       noise_mV=2.0)
    _assert_unchanged(user_settings)


def test_a_network_draws_from_its_own_stream_whatever_the_caller_simulates_between_its_calls(
        models, codegen_target):
    """Two networks built alike; between its free phases the caller draws numpy numbers and runs
    a noisy Brian2 group of its own next to one of them: both give bit-identical phases."""
    import brian2 as b2

    net, rho, sp = _tiny()
    quiet, busy = (SpikingNetwork(net, rho, sp, models, seed=7) for _ in range(2))
    codegen_target("numpy")  # the caller's own group: nothing to compile
    group = b2.NeuronGroup(5, "dv/dt = -v/(10*ms) + xi/sqrt(ms) : 1", method="euler")
    own = b2.Network(group)
    for _ in range(2):
        a = quiet.free_phase()
        np.random.rand(1000)
        own.run(1 * b2.ms)
        b = busy.free_phase()
        for x, y in zip(a[0], b[0]):
            assert_array_equal(x, y)
        assert_array_equal(a[1], b[1])


def test_the_settings_are_restored_when_a_call_fails(models, user_settings):
    net, rho, sp = _tiny()
    sn = SpikingNetwork(net, rho, sp, models, seed=1)
    with pytest.raises(RuntimeError, match="boom"):
        with sn.env.active():
            raise RuntimeError("boom")
    _assert_unchanged(user_settings)


def test_the_cython_fallback_is_logged_once(monkeypatch, caplog):
    real_import = builtins.__import__

    def no_cython(name, *args, **kwargs):
        if name == "Cython":
            raise ImportError("no Cython here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cython)
    monkeypatch.setattr(brian2_env, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="stdp_ebm.spiking.brian2_env"):
        assert [brian2_env.resolve_target("cython") for _ in range(3)] == ["numpy"] * 3
    assert len(caplog.records) == 1 and "numpy target" in caplog.records[0].getMessage()


def test_random_access_refuses_a_target_or_device_it_cannot_read(monkeypatch):
    import brian2 as b2

    with pytest.raises(UserError, match="code-generation target 'cpp_standalone'"):
        check_random_access("cpp_standalone")
    monkeypatch.setattr(b2, "get_device", lambda: object())
    with pytest.raises(UserError, match="runtime device"):
        check_random_access("cython")
