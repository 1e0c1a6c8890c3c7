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
        ``p(z_n = k | x_n)``; rows sum to one. A row of all -inf (a sample impossible under every
        component) gives NaN.
    log_evidence : ndarray of shape (N,)
        ``log p(x_n)``; -inf for an impossible sample.
    """
    work = np.array(np.asarray(log_joint, dtype=np.float64).T, order="C")  # (K, N), a copy
    log_evidence = np.empty(work.shape[1])
    normalize_log_columns(work, work, log_evidence)
    return work.T, log_evidence


def normalize_log_columns(log_joint_t: np.ndarray, out: np.ndarray, log_evidence: np.ndarray) -> None:
    """:func:`normalize_log_rows` on the transpose, in place: the fast layout for a few components.

    Parameters
    ----------
    log_joint_t : ndarray of shape (K, n)
        ``log p(x_n, z_n = k)``, one row per component. Overwritten.
    out : ndarray of shape (K, n)
        Receives ``p(z_n = k | x_n)`` (may be ``log_joint_t`` itself).
    log_evidence : ndarray of shape (n,)
        Receives ``log p(x_n)``.
    """
    # With the components along the first axis every step is a whole-row operation, which NumPy
    # vectorises; along the second axis (K of a few) each reduction would be a short strided loop.
    top = log_joint_t.max(axis=0)
    top[top == -np.inf] = 0.0  # an impossible sample: keep -inf - (-inf) from making NaN here
    log_joint_t -= top
    np.exp(log_joint_t, out=log_joint_t)
    total = log_joint_t.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.multiply(log_joint_t, 1.0 / total, out=out)
        np.log(total, out=log_evidence)
    log_evidence += top


# From this size on, triangular inverses come from LAPACK (scipy.linalg.lapack, imported on first
# use); below, a forward substitution in NumPy is as fast and needs no import.
_LAPACK_MIN_SIZE = 16


def invert_lower_triangular(L: np.ndarray) -> np.ndarray:
    """Inverse of each lower-triangular matrix in ``L`` (..., D, D).

    Only the lower triangle of ``L`` is read and the result is lower triangular. Small matrices
    are inverted by forward substitution (``L X = I`` one row of ``X`` at a time), larger ones by
    LAPACK's ``dtrtri`` (``D^3 / 3`` operations each, at BLAS speed).
    """
    L = np.asarray(L, dtype=np.float64)
    D = L.shape[-1]
    if D >= _LAPACK_MIN_SIZE:
        from scipy.linalg import lapack  # imported here: only large matrices need it

        inverse = np.empty_like(L)
        for index in np.ndindex(L.shape[:-2]):
            factor, info = lapack.dtrtri(L[index], lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"triangular matrix {index} is singular")
            inverse[index] = np.tril(factor)
        return inverse
    inverse = np.zeros_like(L)
    for i in range(D):
        # row i of L X = I:  L[i, :i] X[:i] + L[i, i] X[i] = e_i
        row = -np.einsum("...j,...jm->...m", L[..., i, :i], inverse[..., :i, :])
        row[..., i] += 1.0
        inverse[..., i, :] = row / L[..., i, i, None]
    return inverse
