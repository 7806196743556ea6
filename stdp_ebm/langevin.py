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

from .activation import Rho
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
                 seed: int | None, beta_ref: float = 0.0, common: bool = True) -> Iterator[Pair]:
    """The nudged (β) and the reference continuation (``beta_ref``: 0, the un-nudged one, or −β for
    the symmetric estimator) from the samples ``s``, step by step, with common random numbers: two
    generators seeded alike draw the same η for both at every step (``common=False``: independent
    η, the control without common random numbers).

    Yields ``(nudged_prev, nudged_next, free_prev, free_next)`` after each step; ``target`` has one
    row per row of ``s``. ``seed`` may be None only without noise.
    """
    if model.noise > 0.0 and seed is None:
        raise ValueError("common random numbers need a seed")
    rng_nudged = np.random.default_rng(seed)
    rng_free = np.random.default_rng(seed if common else np.random.SeedSequence(seed).spawn(1)[0])
    drive = model.input_drive(s[0])
    nudged = free = s
    for _ in range(steps):
        nudged_next = model.step(nudged, beta, target, rng_nudged, drive)
        free_next = model.step(free, beta_ref, target if beta_ref else None, rng_free, drive)
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


def step_noise(model: RateModel, s: State, rng: np.random.Generator) -> list[np.ndarray]:
    """η of one noisy step per free layer, drawn from ``rng`` exactly as :meth:`RateModel.step`
    draws it (one standard normal array per free layer, bottom-up, times σ): a generator seeded
    like the step's gives the η that step used."""
    return [model.noise * rng.standard_normal(sk.shape) for sk in s[1:]]


def window_rates(model: RateModel, s: State, steps: int, seed: int) -> list[np.ndarray]:
    """Per free layer, the noisy rates ρ(s + η) that the neighbours see (Eq 2), averaged over
    ``steps`` un-nudged steps from ``s``: the rate model's counterpart of a population rate counted
    over a window of ``steps`` steps. Shape (rows of s, n_k)."""
    rng_step, rng_eta = np.random.default_rng(seed), np.random.default_rng(seed)
    drive = model.input_drive(s[0])
    total = [np.zeros_like(sk) for sk in s[1:]]
    for _ in range(steps):
        for acc, sk, eta in zip(total, s[1:], step_noise(model, s, rng_eta)):
            acc += model.rho(sk + eta)
        s = model.step(s, 0.0, None, rng_step, drive)
    return [acc / steps for acc in total]


def matched_noise(rate_sd: np.ndarray, gain: np.ndarray, window_steps: int) -> np.ndarray:
    """σ_k of Eq 2, per layer, whose noisy rates counted over ``window_steps`` steps have the
    s.d. ``rate_sd`` (one value per layer).

    The neighbours of a unit see ρ(s + η) ≈ ρ(s) + ρ'(s)·η, held for one step: a rate noise of
    variance ρ'²σ² per step, independent from step to step, whose mean over m = ``window_steps``
    steps has variance ρ'²σ²/m. Equating it with the measured variance of a population rate
    counted over the same window gives σ_k = rate_sd_k·√m / ρ'_k (ρ'_k = ``gain``, the RMS slope of
    the layer's units); Eq 2 has one σ, the RMS of the σ_k. The formula leaves out the noise the
    states pass on through W, which adds to the counted rates' variance (``noise_bridge`` measures
    how much, docs/langevin.md).
    """
    return np.asarray(rate_sd) * np.sqrt(window_steps) / np.asarray(gain)


def trial_delta_w(rho: Rho, s_ref: State, s_nudged: State, scale: float,
                  trials: int) -> list[np.ndarray]:
    """The symmetrised rule's ΔW (Eq 26 integrated: it telescopes to the end points) of every
    trial, averaged over the trial's examples: (ρ^β_kᵀρ^β_{k+1} − ρ^ref_kᵀρ^ref_{k+1}) / (scale·B)
    per trial, shape (trials, n_k, n_{k+1}) per W_k; ``scale`` = β (reference β = 0) or 2β (−β).
    Both end states must come from one start (the start's terms cancel)."""
    r_ref = [per_trial(rho(sk), trials) for sk in s_ref]
    r_nud = [per_trial(rho(sk), trials) for sk in s_nudged]
    n_examples = r_ref[0].shape[1]
    return [(np.einsum("tbi,tbj->tij", r_nud[k], r_nud[k + 1])
             - np.einsum("tbi,tbj->tij", r_ref[k], r_ref[k + 1])) / (scale * n_examples)
            for k in range(len(s_ref) - 1)]
