"""stdp-ebm: the STDP-compatible rule dW ∝ ρ(pre)·d(post)/dt in rate and Brian2 spiking models."""

__version__ = "0.1.0"
