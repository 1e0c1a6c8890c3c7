"""The decomposition behind EM: log-likelihood = evidence lower bound + KL divergence.

For observed data ``X``, hidden variables ``Z`` and *any* distribution ``q(Z)``::

    log p(X | theta) = L(q, theta) + KL(q || p(Z | X, theta))
    L(q, theta)      = E_q[log p(X, Z | theta)] - E_q[log q(Z)]

The KL term is never negative, so ``L`` is a lower bound on the log-likelihood, touching it exactly
when ``q`` is the posterior. The E-step makes the bound tight; the M-step raises it in ``theta``.
"""

from __future__ import annotations

import numpy as np

from emlib._math import normalize_log_rows

__all__ = ["mixture_decomposition"]


def _check_rows_are_distributions(q: np.ndarray, shape: tuple[int, ...], name: str = "q") -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"{name} must contain non-negative finite probabilities")
    sums = q.sum(axis=-1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-8):
        raise ValueError(f"each row of {name} must sum to one")
    return q


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(y)`` with the convention ``0 * log(0) = 0``."""
    out = np.zeros_like(x)
    positive = x > 0
    with np.errstate(divide="ignore"):
        out[positive] = x[positive] * np.log(y[positive])
    return out


def mixture_decomposition(log_joint, q) -> tuple[float, float]:
    """Evidence lower bound and KL divergence for a model with one hidden label per sample.

    Parameters
    ----------
    log_joint : array-like of shape (N, K)
        ``log p(x_n, z_n = k | theta)``.
    q : array-like of shape (N, K)
        Any distribution over each sample's label; rows sum to one.

    Returns
    -------
    bound : float
        ``L(q, theta) = sum_nk q_nk (log p(x_n, z_n = k) - log q_nk)``.
    kl : float
        ``KL(q || p(Z | X, theta))``; ``bound + kl`` is the log-likelihood.
    """
    log_joint = np.asarray(log_joint, dtype=np.float64)
    q = _check_rows_are_distributions(q, log_joint.shape)
    posterior, _ = normalize_log_rows(log_joint)
    # Terms with q = 0 contribute nothing, even where log p is -inf.
    expected_log_joint = np.where(q > 0, q * np.where(q > 0, log_joint, 0.0), 0.0).sum()
    entropy = -_xlogy(q, q).sum()
    bound = float(expected_log_joint + entropy)
    kl = float(_xlogy(q, q).sum() - _xlogy(q, posterior).sum())
    if np.any((q > 0) & (posterior == 0)):
        kl = float("inf")
    return bound, max(kl, 0.0)
