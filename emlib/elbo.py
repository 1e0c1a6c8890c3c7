"""The decomposition behind EM: log-likelihood = evidence lower bound + KL divergence.

For observed data ``X``, hidden variables ``Z`` and *any* distribution ``q(Z)``::

    log p(X | theta) = L(q, theta) + KL(q || p(Z | X, theta))
    L(q, theta)      = E_q[log p(X, Z | theta)] - E_q[log q(Z)]

The KL term is never negative, so ``L`` is a lower bound on the log-likelihood (the *evidence lower
bound*, ELBO), touching it exactly when ``q`` is the posterior. The E-step makes the bound tight by
setting ``q`` to the posterior; the M-step raises the bound in ``theta``. The book's chapter "Jensen's
inequality and the evidence lower bound" derives this and draws it.

For a model with one hidden label per sample (every mixture), ``q`` factorises over samples and is given
by a matrix of shape (N, K) whose rows are probability vectors; :func:`mixture_decomposition` computes
both terms from the log joint probabilities ``log p(x_n, z_n = k | theta)``. Estimators expose it as a
method, e.g. :meth:`emlib.GaussianMixture.evidence_lower_bound`.

Example: the two-coin model of Do & Batzoglou (2008) with both coins' probabilities of heads at 0.6
and 0.5, and a ``q`` that is not the posterior::

    import numpy as np
    from emlib.elbo import mixture_decomposition

    heads = np.array([5, 9, 8, 4, 7])[:, None]
    theta = np.array([0.6, 0.5])
    log_joint = np.log(0.5) + heads * np.log(theta) + (10 - heads) * np.log(1 - theta)   # (5, 2)
    q = np.full((5, 2), 0.5)
    bound, kl = mixture_decomposition(log_joint, q)   # bound + kl is the log-likelihood
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from emlib._math import logsumexp_rows
from emlib._validation import as_numeric_array, check_sample_weight

if TYPE_CHECKING:
    from emlib._typing import ArrayLike

__all__ = ["Decomposition", "mixture_decomposition"]

# Rows of q may miss one by this much (probabilities computed in floating point).
_ROW_SUM_ATOL = 1e-8


class Decomposition(NamedTuple):
    """The two terms of ``log p(X | theta) = L(q, theta) + KL(q || p(Z | X, theta))``.

    A named tuple ``(bound, kl)``, so it unpacks like a pair:
    ``bound, kl = mixture_decomposition(log_joint, q)``.
    """

    bound: float
    kl: float

    @property
    def loglik(self) -> float:
        """``bound + kl``: the log-likelihood ``log p(X | theta)``, whatever ``q`` was."""
        return self.bound + self.kl


Decomposition.bound.__doc__ = (
    "The evidence lower bound ``L(q, theta)``; ``-inf`` if ``q`` puts mass on a label that has zero "
    "probability."
)
Decomposition.kl.__doc__ = (
    "``KL(q || p(Z | X, theta))``: non-negative, zero exactly when ``q`` is the posterior, ``+inf`` "
    "when the bound is ``-inf``."
)


def mixture_decomposition(log_joint: ArrayLike, q: ArrayLike,
                          sample_weight: ArrayLike | None = None) -> Decomposition:
    """Evidence lower bound and KL divergence for a model with one hidden label per sample.

    Computes, for any ``q`` whose rows are distributions over the labels,

    ``bound = sum_n w_n sum_k q[n, k] (log_joint[n, k] - log q[n, k])``

    ``kl    = sum_n w_n sum_k q[n, k] (log q[n, k] - log p(z_n = k | x_n))``

    so that ``bound + kl = sum_n w_n log p(x_n)``, the log-likelihood (``w_n = 1`` unless
    ``sample_weight`` is given). Terms with ``q[n, k] = 0`` contribute nothing (``0 log 0 = 0``), even
    where ``log_joint`` is ``-inf``.

    Parameters
    ----------
    log_joint : array-like of shape (N, K)
        ``log p(x_n, z_n = k | theta)``: the log of the mixing weight plus the component's log-density.
        Entries may be ``-inf`` (impossible labels), but not NaN or ``+inf``, and every row needs at
        least one finite entry.
    q : array-like of shape (N, K)
        Any distribution over each sample's label: non-negative, rows summing to one (to within 1e-8).
    sample_weight : array-like of shape (N,), optional
        Non-negative frequency weights: a weight of 2 counts a sample as if it appeared twice.

    Returns
    -------
    Decomposition
        ``(bound, kl)``, a named tuple; its ``loglik`` property is their sum.

    Raises
    ------
    ValueError
        If ``log_joint``, ``q`` or ``sample_weight`` has the wrong shape or invalid entries (the
        message names the argument), or if some sample has zero probability under every label.

    Notes
    -----
    The KL term is computed from the log-posterior ``log_joint - log p(x_n)`` rather than from the
    posterior itself, so a posterior probability that underflows to zero (a sample far from a
    component) still gives the exact, finite divergence. Each sample's two terms add up to its
    log-evidence up to round-off, so ``bound + kl`` matches the log-likelihood to about
    ``1e-15 * sum_n |log p(x_n)|``.
    """
    log_joint = _check_log_joint(log_joint)
    q = _check_distributions(q, log_joint.shape, "q")
    weight = check_sample_weight(sample_weight, log_joint.shape[0])
    # A sample with weight zero is not part of the data: drop it before looking at its terms.
    rows = np.flatnonzero(weight > 0)
    if rows.size < weight.size:
        log_joint, q, weight = log_joint[rows], q[rows], weight[rows]

    log_evidence = logsumexp_rows(log_joint)  # (N,)
    impossible = np.flatnonzero(log_evidence == -np.inf)
    if impossible.size:
        raise ValueError(
            f"log_joint is -inf in every column of row {rows[impossible[0]]}: that sample has zero "
            "probability under every label, so its log-likelihood is -inf"
        )
    support = q > 0
    if np.any(support & (log_joint == -np.inf)):
        # q believes in a label the model rules out: the bound is -inf and the gap infinite.
        return Decomposition(-np.inf, np.inf)

    log_q = np.log(q, where=support, out=np.zeros_like(q))
    log_posterior = np.where(support, log_joint - log_evidence[:, None], 0.0)
    safe_log_joint = np.where(support, log_joint, 0.0)
    bound_per_sample = np.sum(q * (safe_log_joint - log_q), axis=1)
    kl_per_sample = np.sum(q * (log_q - log_posterior), axis=1)
    bound = float(weight @ bound_per_sample)
    # Each sample's KL is >= 0 in exact arithmetic; clip round-off so callers can rely on the sign.
    kl = float(weight @ np.maximum(kl_per_sample, 0.0))
    return Decomposition(bound, kl)


def _as_float_2d(value, name: str) -> np.ndarray:
    array = np.asarray(as_numeric_array(value, name), dtype=np.float64)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array of shape (N, K), got shape {array.shape}")
    return array


def _check_log_joint(log_joint) -> np.ndarray:
    log_joint = _as_float_2d(log_joint, "log_joint")
    if np.isnan(log_joint).any():
        raise ValueError("log_joint contains NaN")
    if (log_joint == np.inf).any():
        raise ValueError("log_joint contains +inf; log-probabilities must be finite or -inf")
    return log_joint


def _check_distributions(q, shape: tuple[int, int], name: str) -> np.ndarray:
    q = _as_float_2d(q, name)
    if q.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one row per sample, one column per label, as "
                         f"log_joint), got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError(f"{name} contains NaN or infinite values; its rows must be probability vectors")
    if np.any(q < 0):
        raise ValueError(f"{name} has negative entries (min {q.min():.3g}); probabilities must be >= 0")
    sums = q.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_SUM_ATOL)
    if bad.size:
        raise ValueError(f"each row of {name} must sum to one, but row {bad[0]} sums to {sums[bad[0]]:.10g}")
    return q
