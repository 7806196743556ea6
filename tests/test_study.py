"""SpikingStudy.build validates its settings like a config file, before anything is simulated."""

from __future__ import annotations

import pytest

from stdp_ebm import SpikingStudy
from stdp_ebm.errors import ConfigError
from stdp_ebm.spiking import SpikingParams


@pytest.mark.parametrize("kwargs, match", [
    ({"network": {"bias_low": 0.9, "bias_high": 0.1}}, "bias_low"),
    ({"spiking": {"neurons_per_unit": 0}}, "neurons_per_unit"),
    ({"spiking": {"neurons_per_unt": 10}}, "did you mean 'neurons_per_unit'"),
    ({"learner": {"workers": 2}}, "unknown section"),
])
def test_bad_settings_are_one_config_error_before_anything_runs(kwargs, match, monkeypatch):
    from stdp_ebm.experiments import _common

    monkeypatch.setattr(_common, "calibrated_setup",
                        lambda *a: pytest.fail("calibrated before the settings were checked"))
    with pytest.raises(ConfigError, match=match):
        SpikingStudy.build([4, 5, 3], batch=2, **kwargs)


def test_simulate_refuses_a_beta_that_is_not_positive():
    study = SpikingStudy.__new__(SpikingStudy)
    study.spiking = SpikingParams(beta=0.2)
    with pytest.raises(ConfigError, match="beta"):
        study.simulate(beta=0.0)
