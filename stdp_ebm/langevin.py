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

#: ``(nudged_prev, nudged_next, free_prev, free_next)``: one step of the two continuations.
Pair = tuple[State, State, State, State]


def tile(s: State, trials: int) -> State:
    """``trials`` copies of every example: row t·B + b is trial t of example b.

    Parameters
    ----------
    s : list of numpy.ndarray
        A state of B examples, shape ``(B, n_k)`` per layer.
    trials : int
        Noise trials per example.

    Returns
    -------
    list of numpy.ndarray
        Shape ``(trials * B, n_k)`` per layer.

    Examples
    --------
    >>> import numpy as np
    >>> print(tile([np.array([[1.0], [2.0]])], 2)[0].ravel())
    [1. 2. 1. 2.]
    """
    return [np.tile(sk, (trials, 1)) for sk in s]


def per_trial(a: np.ndarray, trials: int) -> np.ndarray:
    """Undo :func:`tile`: ``(trials * B, n)`` → ``(trials, B, n)``.

    Parameters
    ----------
    a : numpy.ndarray
        Rows trial-major, shape ``(trials * B, n)``.
    trials : int
        Noise trials per example.

    Returns
    -------
    numpy.ndarray
        Shape ``(trials, B, n)`` (a view).
    """
    return a.reshape(trials, -1, a.shape[-1])


def burn_in(model: RateModel, s: State, trials: int, steps: int,
            rng: np.random.Generator) -> State:
    """``trials`` samples per example of the stationary distribution.

    ``steps`` noisy steps (β = 0) from ``s``, long against the relaxation time so the samples are
    stationary.

    Parameters
    ----------
    model : RateModel
        The rate model, with noise η > 0 (Eq 1–2).
    s : list of numpy.ndarray
        The free fixed point, shape ``(B, n_k)`` per layer.
    trials : int
        Noise trials per example.
    steps : int
        Burn-in steps.
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    list of numpy.ndarray
        The samples, shape ``(trials * B, n_k)`` per layer.
    """
    return model.relax(tile(s, trials), steps=steps, rng=rng, phase="burn-in").s


def paired_steps(model: RateModel, s: State, target: np.ndarray, beta: float, steps: int,
                 seed: int | None, beta_ref: float = 0.0, common: bool = True) -> Iterator[Pair]:
    """The nudged and the reference continuation from the samples ``s``, step by step.

    The reference uses ``beta_ref``: 0 (the un-nudged one) or −β (the symmetric estimator). With
    common random numbers two generators seeded alike draw the same η for both at every step.

    Parameters
    ----------
    model : RateModel
        The rate model.
    s : list of numpy.ndarray
        A state, one array per layer, rows trial-major, shape ``(trials * B, n_k)``.
    target : numpy.ndarray
        The target, one row per row of ``s``: shape ``(trials * B, n_out)``.
    beta : float
        The nudge strength β of the nudged continuation.
    steps : int
        Steps to run.
    seed : int or None
        Seed of both generators; None only without noise.
    beta_ref : float
        The reference continuation's β (0 or −β).
    common : bool
        False draws independent η for the two (the control without common random numbers).

    Yields
    ------
    tuple of State
        ``(nudged_prev, nudged_next, free_prev, free_next)`` after each step.

    Raises
    ------
    ValueError
        If the model has noise and ``seed`` is None.
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
    """The spread of the samples and the offset of their mean from the fixed point, per free layer.

    The RMS over units and examples of the samples' s.d. and of ⟨s⟩ − s* (the source of the noise's
    bias).

    Parameters
    ----------
    s : list of numpy.ndarray
        A state, one array per layer, rows trial-major, shape ``(trials * B, n_k)``.
    s_fixed : list of numpy.ndarray
        The noise-free fixed point s*, shape ``(B, n_k)`` per layer.
    trials : int
        Noise trials per example.

    Returns
    -------
    sd : numpy.ndarray
        Shape ``(n_layers - 1,)``, in the units of the states.
    offset : numpy.ndarray
        Shape ``(n_layers - 1,)``.
    """
    sd, offset = [], []
    for sk, fk in zip(s[1:], s_fixed[1:]):
        a = per_trial(sk, trials)
        sd.append(float(np.sqrt(np.mean(a.var(axis=0)))))
        offset.append(float(np.sqrt(np.mean((a.mean(axis=0) - fk) ** 2))))
    return np.array(sd), np.array(offset)


def gate_probability(model: RateModel, s: State, sigma: float) -> list[np.ndarray]:
    """P(β1 < s + η < β2) per unit, η ~ N(0, σ²).

    The chance that the noisy rate ρ(s + η) of the hard sigmoid passes a small change of s on (outside
    the box ρ is flat). The first changes of early inference are products of such gates, one per
    layer they cross, with independent η.

    Parameters
    ----------
    model : RateModel
        The rate model (its ρ's bounds β1, β2).
    s : list of numpy.ndarray
        A state, shape ``(batch, n_k)`` per layer.
    sigma : float
        The noise s.d. σ (Eq 2).

    Returns
    -------
    list of numpy.ndarray
        Probabilities, shape of ``s``; ones when σ = 0.
    """
    lo, hi = model.rho.bounds
    if sigma == 0.0:
        return [np.ones_like(sk) for sk in s]
    return [ndtr((hi - sk) / sigma) - ndtr((lo - sk) / sigma) for sk in s]


def step_noise(model: RateModel, s: State, rng: np.random.Generator) -> list[np.ndarray]:
    """η of one noisy step per free layer, drawn from ``rng`` exactly as the rate model's step draws it.

    One standard normal array per free layer, bottom-up, times σ: a generator seeded like the step's
    gives the η that step used.

    Parameters
    ----------
    model : RateModel
        The rate model (its noise σ).
    s : list of numpy.ndarray
        The state the step starts from (only shapes are used).
    rng : numpy.random.Generator
        Seeded like the step's generator.

    Returns
    -------
    list of numpy.ndarray
        η for layers 1 … L+1, shape ``(batch, n_k)``.
    """
    return [model.noise * rng.standard_normal(sk.shape) for sk in s[1:]]


def window_rates(model: RateModel, s: State, steps: int, seed: int) -> list[np.ndarray]:
    """Per free layer, the noisy rates ρ(s + η) that the neighbours see (Eq 2), averaged over ``steps``.

    The rate model's counterpart of a population rate counted over a window of ``steps`` un-nudged
    steps from ``s``.

    Parameters
    ----------
    model : RateModel
        The rate model with noise.
    s : list of numpy.ndarray
        The start, shape ``(rows, n_k)`` per layer.
    steps : int
        The window's length in steps.
    seed : int
        Seeds the steps' noise (and the same noise read back by :func:`step_noise`).

    Returns
    -------
    list of numpy.ndarray
        Mean rates, shape ``(rows, n_k)`` per free layer (dimensionless).
    """
    rng_step, rng_eta = np.random.default_rng(seed), np.random.default_rng(seed)
    drive = model.input_drive(s[0])
    total = [np.zeros_like(sk) for sk in s[1:]]
    for _ in range(steps):
        for acc, sk, eta in zip(total, s[1:], step_noise(model, s, rng_eta)):
            acc += model.rho(sk + eta)
        s = model.step(s, 0.0, None, rng_step, drive)
    return [acc / steps for acc in total]


def matched_noise(rate_sd: np.ndarray, gain: np.ndarray, window_steps: int) -> np.ndarray:
    """σ_k of Eq 2 per layer: noisy rates counted over ``window_steps`` steps have s.d. ``rate_sd``.

    The neighbours of a unit see ρ(s + η) ≈ ρ(s) + ρ'(s)·η, held for one step: a rate noise of
    variance ρ'²σ² per step, independent from step to step, whose mean over m = ``window_steps``
    steps has variance ρ'²σ²/m. Equating it with the measured variance of a population rate
    counted over the same window gives σ_k = rate_sd_k·√m / ρ'_k; Eq 2 has one σ, the RMS of the σ_k.
    The formula leaves out the noise the states pass on through W, which adds to the counted rates'
    variance (``noise_bridge`` measures how much, docs/langevin.md).

    Parameters
    ----------
    rate_sd : numpy.ndarray
        Measured s.d. of the counted population rates, one per layer (dimensionless, rate / r_max).
    gain : numpy.ndarray
        ρ'_k, the RMS slope of each layer's units.
    window_steps : int
        The counting window m in steps.

    Returns
    -------
    numpy.ndarray
        σ_k, one per layer.

    Examples
    --------
    >>> print(matched_noise([0.1], [0.5], 4))
    [0.4]
    """
    return np.asarray(rate_sd) * np.sqrt(window_steps) / np.asarray(gain)


def trial_delta_w(rho: Rho, s_ref: State, s_nudged: State, scale: float,
                  trials: int) -> list[np.ndarray]:
    """The symmetrised rule's ΔW of every trial, averaged over the trial's examples.

    Eq 26 integrated (it telescopes to the end points): (ρ^β_kᵀρ^β_{k+1} − ρ^ref_kᵀρ^ref_{k+1}) /
    (scale·B) per trial. Both end states must come from one start (the start's terms cancel).

    Parameters
    ----------
    rho : Rho
        The rate function ρ.
    s_ref : list of numpy.ndarray
        The reference continuation's end state, shape ``(trials * B, n_k)`` per layer.
    s_nudged : list of numpy.ndarray
        The nudged continuation's end state, same shapes.
    scale : float
        β (reference β = 0) or 2β (reference −β).
    trials : int
        Noise trials per example.

    Returns
    -------
    list of numpy.ndarray
        Per W_k, shape ``(trials, n_k, n_{k+1})``.
    """
    r_ref = [per_trial(rho(sk), trials) for sk in s_ref]
    r_nud = [per_trial(rho(sk), trials) for sk in s_nudged]
    n_examples = r_ref[0].shape[1]
    return [(np.einsum("tbi,tbj->tij", r_nud[k], r_nud[k + 1])
             - np.einsum("tbi,tbj->tij", r_ref[k], r_ref[k + 1])) / (scale * n_examples)
            for k in range(len(s_ref) - 1)]
