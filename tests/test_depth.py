"""Depth diagnostics (experiments/depth.toml) on small digit nets: the converged rule against the
implicit gradient at every depth, and the convergence measurement."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EXPERIMENTS
from stdp_ebm import runner
from stdp_ebm.experiments import RunContext
from stdp_ebm.seeds import Seeds

SMALL = ["data.dataset=digits", "depth.width=30", "depth.n_images=60", "depth.n_gradient=6",
         "depth.steps=[2, 5, 20, 100]", "depth.reference_steps=400", "depth.beta_small=0.001",
         "depth.tol=1e-12"]


@pytest.fixture(scope="module")
def result():
    cfg, exp = runner.resolve(EXPERIMENTS / "depth.toml", SMALL)
    return exp.run(cfg, RunContext(Seeds(cfg["seed"])))


def test_converged_rule_matches_the_implicit_gradient_at_every_depth(result):
    """Symmetric β = 0.001 with phases relaxed to 1e-12 vs implicit differentiation (shares no code
    with the rule); per layer cos ≥ 0.999 for 1, 2 and 3 hidden layers. At β = 0.01 the 1-hidden
    digit net gives 0.99900: between −β and +β two hidden units cross a clipping bound (one at
    β = 0.001), while the implicit gradient holds the set of unclipped units fixed;
    tests/test_rule.py covers β = 0.01 on nets without such crossings."""
    cos = result.data["cos_rule_small"]
    for i, h in enumerate(result.data["hidden"]):
        assert np.all(cos[i, :h + 1] >= 0.999)
        assert np.all(np.isnan(cos[i, h + 1:]))


def test_convergence_fractions_are_fractions_and_reach_the_reference(result):
    for key in ("disagree", "moving"):
        v = result.data[key]
        assert v.shape == (3, 4) and np.all((v >= 0) & (v <= 1))
    # by 100 of the 400 reference steps every small net predicts as the long relaxation does
    assert np.all(result.data["disagree"][:, -1] == 0)


def test_steps_must_increase():
    from stdp_ebm.config import ConfigError
    with pytest.raises(ConfigError, match="must increase from at least 2"):
        runner.resolve(EXPERIMENTS / "depth.toml", ["depth.steps=[5, 3]"])


def test_figures_draw_from_the_data_alone(result):
    cfg, exp = runner.resolve(EXPERIMENTS / "depth.toml", SMALL)
    figs = exp.figures(result.data, result.summary, cfg)
    assert set(figs) == {"free_convergence", "layer_gradients"}
    assert len(figs["layer_gradients"].axes) == len(result.data["hidden"])
