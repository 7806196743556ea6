"""Langevin sampling with the rate model (Eq 1–2 with η ≠ 0): trials as a batch, burn-in to the
stationary distribution, and pairs of continuations that share their random numbers.

Bengio & Fischer's early-inference result and the rule's estimate of the gradient hold *in
expectation* over the injected noise. They are measured here with K noise trials per example,
vectorised as one batch: row ``t·B + b`` is trial t of example b (B examples). Each trial is first
burnt in from the free fixed point to a sample of the stationary distribution; the nudged (β ≠ 0)
and un-nudged (β = 0) continuations then start from that sample and draw the *same* η at every step
(common random numbers). Their difference carries the effect of the nudge alone: the noise cancels
exactly where the dynamics are affine (inside the box [β1, β2] with the hard sigmoid, Hopfield's
energy) and is left only where a unit's noisy rate crosses a bound of ρ.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from scipy.special import ndtr

from .rate import RateModel, State

Pair = tuple[State, State, State, State]


def tile(s: State, trials: int) -> State:
    """``trials`` copies of every example: row t·B + b is trial t of example b."""
    return [np.tile(sk, (trials, 1)) for sk in s]


def per_trial(a: np.ndarray, trials: int) -> np.ndarray:
    """(trials·B, n) → (trials, B, n), undoing :func:`tile`."""
    return a.reshape(trials, -1, a.shape[-1])


def burn_in(model: RateModel, s: State, trials: int, steps: int,
            rng: np.random.Generator) -> State:
    """``trials`` samples per example: ``steps`` noisy steps (β = 0) from ``s`` (the free fixed
    point), long against the relaxation time so the samples are stationary."""
    return model.relax(tile(s, trials), steps=steps, rng=rng, phase="burn-in").s


def paired_steps(model: RateModel, s: State, target: np.ndarray, beta: float, steps: int,
                 seed: int | None) -> Iterator[Pair]:
    """The nudged and the un-nudged continuation from the samples ``s``, step by step, with common
    random numbers: two generators seeded alike draw the same η for both at every step.

    Yields ``(nudged_prev, nudged_next, free_prev, free_next)`` after each step; ``target`` has one
    row per row of ``s``. ``seed`` may be None only without noise.
    """
    if model.noise > 0.0 and seed is None:
        raise ValueError("common random numbers need a seed")
    rng_nudged, rng_free = np.random.default_rng(seed), np.random.default_rng(seed)
    drive = model.input_drive(s[0])
    nudged = free = s
    for _ in range(steps):
        nudged_next = model.step(nudged, beta, target, rng_nudged, drive)
        free_next = model.step(free, 0.0, None, rng_free, drive)
        yield nudged, nudged_next, free, free_next
        nudged, free = nudged_next, free_next


def stationary_stats(s: State, s_fixed: State, trials: int) -> tuple[np.ndarray, np.ndarray]:
    """Per free layer: the RMS over units and examples of the samples' s.d. and of the offset of
    their mean from the fixed point, ⟨s⟩ − s* (the source of the noise's bias)."""
    sd, offset = [], []
    for sk, fk in zip(s[1:], s_fixed[1:]):
        a = per_trial(sk, trials)
        sd.append(float(np.sqrt(np.mean(a.var(axis=0)))))
        offset.append(float(np.sqrt(np.mean((a.mean(axis=0) - fk) ** 2))))
    return np.array(sd), np.array(offset)


def gate_probability(model: RateModel, s: State, sigma: float) -> list[np.ndarray]:
    """P(β1 < s + η < β2) per unit, η ~ N(0, σ²): the chance that the noisy rate ρ(s + η) of the
    hard sigmoid passes a small change of s on (outside the box ρ is flat). The first changes of
    early inference are products of such gates, one per layer they cross, with independent η."""
    lo, hi = model.rho.bounds
    if sigma == 0.0:
        return [np.ones_like(sk) for sk in s]
    return [ndtr((hi - sk) / sigma) - ndtr((lo - sk) / sigma) for sk in s]
