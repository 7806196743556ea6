"""STDP: the rule's spike-timing window, measured in Brian2 and predicted by theory.

* :mod:`~stdp_ebm.stdp.schedules` — spike-pair schedules (``pairing``, ``poisson``, ``concat``);
* :mod:`~stdp_ebm.stdp.protocols` — :func:`~stdp_ebm.stdp.protocols.run_schedule`, which
  simulates every pair of a schedule in ONE Brian2 run with any plastic synapse model file;
* :mod:`~stdp_ebm.stdp.kernels` — the theory pair kernel of each rule (Eq 26 of Bengio et al. 2017
  integrated over a spike pair; pair-based STDP in closed form) and the statistics of a window;
* :mod:`~stdp_ebm.stdp.window_fit` — the double-exponential window fit with BCa bootstrap intervals,
  the jitter bias e^(σ²/2τ²) in the theory it is compared with, and degenerate cases reported;
* :mod:`~stdp_ebm.stdp.resampling` — BCa bootstrap intervals drawn until the Monte Carlo error of
  every bound is below a target, so that bootstrap seeds do not move them;
* :mod:`~stdp_ebm.stdp.coverage` — the coverage study of those intervals against a known rule;
* :mod:`~stdp_ebm.stdp.data` — Bi & Poo (1998) and Sjöström et al. (2001) measurements and the fit of
  a rule's window to them.

Importing this package imports neither Brian2 nor any submodule; each is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("schedules", "protocols", "kernels", "window_fit", "resampling", "coverage", "data")
__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'stdp_ebm.stdp' has no attribute {name!r}")
