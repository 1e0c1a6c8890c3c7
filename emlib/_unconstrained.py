"""Unconstrained coordinates for constrained parameters: what extrapolation (SQUAREM) moves along.

An accelerated EM loop (``em.fit(..., accelerate="squarem")``) extrapolates parameter vectors,
``x0 + 2 s r + s^2 v`` for a step ``s >= 1``, so every point of that line must describe valid
parameters. Each family writes its parameters in such coordinates:

- probabilities that sum to one (mixing weights, start and transition probabilities, symbol
  probabilities) and Poisson rates: their **square roots**, mapped back by squaring (and, for
  probabilities, dividing by the sum of the squares). Any real vector is valid, and a zero is an
  ordinary point: a probability that goes to zero at the maximum (an HMM's start probabilities
  for a single sequence always do) converges to a finite coordinate, where a logarithm would run
  off towards -inf and dominate the length of every step. The square root is also the coordinate
  in which the Fisher information of a multinomial or Poisson count is the same everywhere, so
  the Euclidean norms of SQUAREM's step length compare like with like. Structural zeros (entries
  that must stay zero) are left out of the vector;
- variances: their logarithms; covariance matrices: the lower Cholesky factor, strictly lower
  entries as they are and the diagonal by its logarithm (a zero variance is a degenerate fit,
  never the maximum sought);
- Bernoulli probabilities: their logits (the clipping to ``[min_prob, 1 - min_prob]`` keeps them
  finite).

Each ``*_from_vector`` function raises ``ValueError`` (naming ``name``) when the vector describes
no valid parameters (non-finite entries, overflow, a numerically singular covariance, a row of
probabilities that are all zero); the accelerated loop takes that as "reject this point".
"""

from __future__ import annotations

import numpy as np

from emlib._math import invert_lower_triangular

# A Cholesky pivot this small relative to its diagonal entry is round-off: the matrix is singular
# (the rule Gaussian applies to the matrices it factorises itself).
_SINGULAR_RTOL = 1e-13


def check_vector(vector, size: int, name: str) -> np.ndarray:
    """``vector`` as a finite 1-D float array of length ``size``, or a ``ValueError`` naming ``name``."""
    array = np.asarray(vector, dtype=np.float64)
    if array.shape != (size,):
        raise ValueError(f"{name} must be a vector of length {size}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def rates_to_vector(rates: np.ndarray) -> np.ndarray:
    """Non-negative numbers as coordinates: their square roots, flattened."""
    return np.sqrt(rates.ravel())


def rates_from_vector(vector: np.ndarray, name: str) -> np.ndarray:
    """Inverse of :func:`rates_to_vector` (flat): the squares; a ``ValueError`` if one overflows."""
    with np.errstate(over="ignore"):
        rates = vector * vector
    if not np.all(np.isfinite(rates)):
        raise ValueError(f"{name}: a value overflows")
    return rates


def simplex_to_vector(probabilities: np.ndarray, support: np.ndarray | None = None) -> np.ndarray:
    """Probability vectors (rows) as coordinates: the square roots of the entries on ``support``
    (all entries by default), row by row."""
    values = probabilities if support is None else probabilities[support]
    return np.sqrt(values.ravel())


def simplex_from_vector(vector: np.ndarray, support: np.ndarray, name: str) -> np.ndarray:
    """Probabilities of ``support``'s shape from :func:`simplex_to_vector`'s coordinates.

    Each row: the squares of its coordinates divided by their sum, zero off the support. A row
    whose coordinates are all zero, or whose squares overflow, is a ``ValueError``.
    """
    squares = np.zeros(support.shape)
    with np.errstate(over="ignore"):
        squares[support] = vector * vector
    rows = np.atleast_2d(squares)
    totals = rows.sum(axis=1, keepdims=True)
    if not np.all((totals > 0) & np.isfinite(totals)):
        raise ValueError(f"{name}: a row of probabilities is all zero or overflows")
    return (rows / totals).reshape(support.shape)


def cholesky_to_vector(factors: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors (n, D, D) as coordinates: each factor's strictly lower entries, then
    the logarithms of its diagonal."""
    D = factors.shape[-1]
    below = np.tril_indices(D, -1)
    diagonal = np.log(np.diagonal(factors, axis1=1, axis2=2))
    return np.concatenate([factors[:, below[0], below[1]], diagonal], axis=1).ravel()


def cholesky_from_vector(vector: np.ndarray, n: int, D: int, name: str):
    """Inverse of :func:`cholesky_to_vector`: matrices (n, D, D), their lower Cholesky factors and
    the inverse transposes of the factors, ``P = L^{-T}`` (n, D, D).

    A ``ValueError`` if a matrix overflows or is numerically singular (a pivot that is round-off
    next to its diagonal entry).
    """
    parts = vector.reshape(n, D * (D + 1) // 2)
    below = np.tril_indices(D, -1)
    factors = np.zeros((n, D, D))
    factors[:, below[0], below[1]] = parts[:, : below[0].size]
    with np.errstate(over="ignore"):
        diagonal = np.exp(parts[:, below[0].size:])
    factors[:, np.arange(D), np.arange(D)] = diagonal
    with np.errstate(over="ignore", invalid="ignore"):
        matrices = factors @ np.swapaxes(factors, 1, 2)
    if not np.all(np.isfinite(matrices)):
        raise ValueError(f"{name}: a covariance overflows")
    if np.any(diagonal**2 <= _SINGULAR_RTOL * np.diagonal(matrices, axis1=1, axis2=2)):
        raise ValueError(f"{name}: a covariance is numerically singular")
    matrices = 0.5 * (matrices + np.swapaxes(matrices, 1, 2))  # exactly symmetric
    precision_factors = np.ascontiguousarray(np.swapaxes(invert_lower_triangular(factors), 1, 2))
    return matrices, factors, precision_factors
