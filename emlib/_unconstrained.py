"""Unconstrained coordinates for constrained parameters: what extrapolation (SQUAREM) moves along.

An accelerated EM loop (``em.fit(..., accelerate="squarem")``) extrapolates parameter vectors,
``x0 + 2 s r + s^2 v`` for a step ``s >= 1``, so every point of that line must describe valid
parameters. Each family writes its parameters in such coordinates:

- parameters whose maximum may lie at or near zero, that is probabilities that sum to one (mixing
  weights, start and transition probabilities, symbol probabilities), Poisson rates and the noise
  variances of factor analysis (a Heywood case): their **square roots**, mapped back by squaring
  (and, for probabilities, dividing by the sum of the squares). Any real vector is valid, and zero
  is an ordinary point: a parameter that tends to zero (an HMM's start probabilities for a single
  sequence always do) converges to a finite coordinate, where its logarithm would run off towards
  -inf and dominate the length of every step. The square root is also the coordinate in which the
  Fisher information of a multinomial or Poisson count is the same everywhere, so the Euclidean
  norms of SQUAREM's step length compare like with like. Structural zeros (entries that must stay
  zero) are left out of the vector;
- the variances of Gaussian components: their logarithms; covariance matrices: the lower
  Cholesky factor, strictly lower entries as they are and the diagonal by its logarithm (there a
  zero variance is a degenerate fit, never the maximum sought);
- Bernoulli probabilities: their logits (the clipping to ``[min_prob, 1 - min_prob]`` keeps them
  finite).

Each ``*_from_vector`` function raises ``ValueError`` (naming ``name``) when the vector describes
no valid parameters (non-finite entries, overflow, a numerically singular covariance, a row of
probabilities that are all zero); the accelerated loop takes that as "reject this point".
"""

from __future__ import annotations

import numpy as np

from emlib._math import invert_lower_triangular

# An extrapolated covariance whose Cholesky pivot is this small relative to its diagonal entry is
# refused as (nearly) singular: a margin over Gaussian's own rule (1e-13), so that refactorising
# the stored matrix always succeeds.
_SINGULAR_RTOL = 1e-10
# Coordinates beyond these describe numbers that overflow (or underflow) once squared or
# exponentiated (with room for the sums of products in a covariance matrix). Valid parameters lie
# far inside: data are at most 1e100 in size and vary by at least 1e-100 (emlib._validation).
_LARGEST_ROOT = 1e150
_LARGEST_LOG = 700.0


def check_vector(vector, size: int, name: str) -> np.ndarray:
    """``vector`` as a finite 1-D float array of length ``size``, or a ``ValueError`` naming ``name``."""
    array = np.asarray(vector, dtype=np.float64)
    if array.shape != (size,):
        raise ValueError(f"{name} must be a vector of length {size}, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _check_squarable(vector: np.ndarray, name: str) -> None:
    # Checked beforehand, so that the squares never overflow (cheaper than catching it).
    if vector.size and np.abs(vector).max() > _LARGEST_ROOT:
        raise ValueError(f"{name}: a value overflows")


def nonnegative_to_vector(values: np.ndarray) -> np.ndarray:
    """Non-negative numbers as coordinates: their square roots, flattened."""
    return np.sqrt(values.ravel())


def nonnegative_from_vector(vector: np.ndarray, name: str) -> np.ndarray:
    """Inverse of :func:`nonnegative_to_vector` (flat): the squares; a ``ValueError`` if one overflows."""
    _check_squarable(vector, name)
    return np.square(vector)


def simplex_to_vector(probabilities: np.ndarray, support: np.ndarray | None = None) -> np.ndarray:
    """Probability vectors (rows) as coordinates: the square roots of the entries on ``support``
    (all entries by default), row by row."""
    values = probabilities if support is None else probabilities[support]
    return np.sqrt(values.ravel())


def simplex_from_vector(vector: np.ndarray, support: np.ndarray, name: str) -> np.ndarray:
    """Probabilities of ``support``'s shape (K,) or (K, M) from :func:`simplex_to_vector`'s
    coordinates.

    Each row: the squares of its coordinates divided by their sum, zero off the support. A row
    whose coordinates are all zero, or whose squares overflow, is a ``ValueError``.
    """
    _check_squarable(vector, name)
    if vector.size == support.size:  # every entry free (no structural zeros): no scatter needed
        squares = np.square(vector).reshape(support.shape)
    else:
        squares = np.zeros(support.shape)
        squares[support] = np.square(vector)
    totals = squares.sum(axis=-1, keepdims=True)
    if not (totals > 0.0).all():
        raise ValueError(f"{name}: a row of probabilities is all zero")
    squares /= totals
    return squares


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
    n_below = D * (D - 1) // 2
    if n_below and np.abs(parts[:, :n_below]).max() > _LARGEST_ROOT / D or parts[:, n_below:].max() > _LARGEST_LOG / 2:
        raise ValueError(f"{name}: a covariance overflows")
    below = np.tril_indices(D, -1)
    factors = np.zeros((n, D, D))
    factors[:, below[0], below[1]] = parts[:, :n_below]
    diagonal = np.exp(parts[:, n_below:])
    factors[:, np.arange(D), np.arange(D)] = diagonal
    matrices = factors @ np.swapaxes(factors, 1, 2)
    if np.any(diagonal**2 <= _SINGULAR_RTOL * np.diagonal(matrices, axis1=1, axis2=2)):
        raise ValueError(f"{name}: a covariance is numerically singular")
    matrices = 0.5 * (matrices + np.swapaxes(matrices, 1, 2))  # exactly symmetric
    precision_factors = np.ascontiguousarray(np.swapaxes(invert_lower_triangular(factors), 1, 2))
    return matrices, factors, precision_factors


def exp_scales(vector: np.ndarray, name: str) -> np.ndarray:
    """``exp(vector)`` for log-variances; a ``ValueError`` if one overflows or underflows to zero."""
    if vector.size and np.abs(vector).max() > _LARGEST_LOG:
        raise ValueError(f"{name}: a variance overflows or underflows to zero")
    return np.exp(vector)
