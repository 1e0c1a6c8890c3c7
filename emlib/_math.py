"""Small numerical helpers shared by the estimators."""

from __future__ import annotations

import numpy as np


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """``log(sum(exp(a), axis=1))`` for a 2-D array, without overflow; rows of all -inf give -inf."""
    top = a.max(axis=1)
    finite_top = np.where(np.isfinite(top), top, 0.0)
    shifted = np.exp(a - finite_top[:, None])
    with np.errstate(divide="ignore"):
        return np.log(shifted.sum(axis=1)) + finite_top


def normalize_log_rows(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior probabilities from log joint probabilities, row by row.

    Parameters
    ----------
    log_joint : ndarray of shape (N, K)
        ``log p(x_n, z_n = k)``.

    Returns
    -------
    posterior : ndarray of shape (N, K)
        ``p(z_n = k | x_n)``; rows sum to one.
    log_evidence : ndarray of shape (N,)
        ``log p(x_n)``.
    """
    top = log_joint.max(axis=1, keepdims=True)
    posterior = np.exp(log_joint - top)
    total = posterior.sum(axis=1, keepdims=True)
    posterior /= total
    with np.errstate(divide="ignore"):
        log_evidence = (np.log(total) + top)[:, 0]
    return posterior, log_evidence


def kmeans_plusplus(X: np.ndarray, n_clusters: int, rng: np.random.Generator,
                    sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``n_clusters`` rows of ``X`` (N, D) chosen by k-means++ seeding.

    The first centre is drawn in proportion to ``sample_weight``; each next one in proportion to the
    weight times the squared distance to the nearest centre chosen so far (Arthur & Vassilvitskii,
    2007). When every remaining point coincides with a centre, the rest are drawn uniformly.
    """
    n = X.shape[0]
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    chosen = np.empty(n_clusters, dtype=np.intp)
    chosen[0] = rng.choice(n, p=weight / weight.sum())
    nearest = np.sum((X - X[chosen[0]]) ** 2, axis=1)
    for i in range(1, n_clusters):
        score = weight * nearest
        total = score.sum()
        if total > 0:
            chosen[i] = rng.choice(n, p=score / total)
        else:
            chosen[i] = rng.choice(np.setdiff1d(np.arange(n), chosen[:i])) if n > i else 0
        np.minimum(nearest, np.sum((X - X[chosen[i]]) ** 2, axis=1), out=nearest)
    return chosen
