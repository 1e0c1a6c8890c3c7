"""Compiled one-pass kernels for Gaussian components with diagonal covariances (numba).

:mod:`emlib.distributions.gaussian` calls them only for calls large enough to repay numba's import
and compilation, and computes the same numbers with NumPy (matrix products over blocks of rows)
for the others; nothing imports this module before such a call, so ``import emlib`` and a small
fit never load numba through it. Each kernel reads every row of ``X`` once, centred on ``centre``,
and keeps the rest in registers and cache: for a few components the NumPy version spends its time
writing the squares of each block and reading the block again for each of its two products.

The rows are taken four at a time (``_ROWS``): each parameter or running sum loaded from the cache
then serves four rows, which roughly halves the time against one row at a time. Rows left over
(fewer than four) go one by one through the same arithmetic.

Each kernel returns 0.0 when every entry of ``X`` is finite and NaN otherwise: the caller raises
its error about ``X`` without another pass over the data.

Compiled once per environment (``cache=True``), for the one signature the callers use:
C-contiguous float64 arrays. Sums may be reordered (``fastmath`` reassociation, so that they run
in SIMD lanes); no assumption is made about NaN or infinite values.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["diagonal_log_prob", "diagonal_moments", "spherical_log_prob", "traced_moments"]

_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"reassoc", "contract", "nsz"}}
_F1, _F2 = "float64[::1]", "float64[:, ::1]"
_ROWS = 4  # rows per step; the kernels below are written out for exactly four


@njit(cache=True, inline="always")
def _centre_rows(X, start, stop, centre, y):  # pragma: no cover - compiled
    """``y[r] = X[start + r] - centre`` for the rows ``start <= n < stop``.

    Returns ``sum(y * 0)``: 0 when those entries of ``X`` are finite, NaN otherwise (``0 * inf``
    is NaN), found in the pass that reads them anyway.
    """
    check = 0.0
    for r in range(stop - start):
        for d in range(X.shape[1]):
            value = X[start + r, d] - centre[d]
            y[r, d] = value
            check += value * 0.0
    return check


@njit(f"float64({_F2}, {_F1}, {_F2}, {_F2}, {_F1}, {_F2})", **_OPTIONS)
def diagonal_log_prob(X, centre, linear, quadratic, constant, out):  # pragma: no cover - compiled
    """``out[n, k] = sum_d (y_d linear[k, d] + y_d^2 quadratic[k, d]) + constant[k]``.

    With ``y = X[n] - centre``: ``X`` (N, D), ``centre`` (D,), ``linear`` and ``quadratic`` (K, D),
    ``constant`` (K,), ``out`` (N, K).
    """
    N, D = X.shape
    K = constant.shape[0]
    y = np.empty((_ROWS, D))
    check = 0.0
    whole = N - N % _ROWS
    for start in range(0, whole, _ROWS):
        check += _centre_rows(X, start, start + _ROWS, centre, y)
        for k in range(K):
            t0 = t1 = t2 = t3 = 0.0
            for d in range(D):
                a, b = linear[k, d], quadratic[k, d]
                t0 += y[0, d] * (a + y[0, d] * b)
                t1 += y[1, d] * (a + y[1, d] * b)
                t2 += y[2, d] * (a + y[2, d] * b)
                t3 += y[3, d] * (a + y[3, d] * b)
            out[start, k] = t0 + constant[k]
            out[start + 1, k] = t1 + constant[k]
            out[start + 2, k] = t2 + constant[k]
            out[start + 3, k] = t3 + constant[k]
    check += _centre_rows(X, whole, N, centre, y)
    for r in range(N - whole):
        for k in range(K):
            total = 0.0
            for d in range(D):
                total += y[r, d] * (linear[k, d] + y[r, d] * quadratic[k, d])
            out[whole + r, k] = total + constant[k]
    return check


@njit(f"float64({_F2}, {_F1}, {_F2}, {_F1}, {_F1}, {_F2})", **_OPTIONS)
def spherical_log_prob(X, centre, linear, quadratic, constant, out):  # pragma: no cover - compiled
    """``out[n, k] = sum_d y_d linear[k, d] + |y|^2 quadratic[k] + constant[k]``.

    The spherical case of :func:`diagonal_log_prob` (one variance per component): ``|y|^2`` once
    per row. ``linear`` (K, D), ``quadratic`` and ``constant`` (K,).
    """
    N, D = X.shape
    K = constant.shape[0]
    y = np.empty((_ROWS, D))
    norms = np.empty(_ROWS)
    check = 0.0
    for start in range(0, N, _ROWS):
        stop = min(start + _ROWS, N)
        check += _centre_rows(X, start, stop, centre, y)
        for r in range(stop - start):
            total = 0.0
            for d in range(D):
                total += y[r, d] * y[r, d]
            norms[r] = total
        if stop - start < _ROWS:
            for r in range(stop - start):
                for k in range(K):
                    total = 0.0
                    for d in range(D):
                        total += y[r, d] * linear[k, d]
                    out[start + r, k] = total + norms[r] * quadratic[k] + constant[k]
            continue
        for k in range(K):
            t0 = t1 = t2 = t3 = 0.0
            for d in range(D):
                a = linear[k, d]
                t0 += y[0, d] * a
                t1 += y[1, d] * a
                t2 += y[2, d] * a
                t3 += y[3, d] * a
            out[start, k] = t0 + norms[0] * quadratic[k] + constant[k]
            out[start + 1, k] = t1 + norms[1] * quadratic[k] + constant[k]
            out[start + 2, k] = t2 + norms[2] * quadratic[k] + constant[k]
            out[start + 3, k] = t3 + norms[3] * quadratic[k] + constant[k]
    return check


@njit(f"float64({_F2}, {_F2}, {_F1}, {_F2}, {_F2})", **_OPTIONS)
def diagonal_moments(X, weights_t, centre, first, second):  # pragma: no cover - compiled
    """``first[k] += sum_n w[k, n] y_n`` and ``second[k] += sum_n w[k, n] y_n^2``, entrywise.

    With ``y_n = X[n] - centre``: ``X`` (N, D), ``weights_t`` (K, N) (one row per component),
    ``centre`` (D,), ``first`` and ``second`` (K, D). A component whose weights on a step's rows
    are all zero (one that collapsed or lies far away, say) skips them.
    """
    N, D = X.shape
    K = weights_t.shape[0]
    y = np.empty((_ROWS, D))
    squares = np.empty((_ROWS, D))
    check = 0.0
    for start in range(0, N, _ROWS):
        stop = min(start + _ROWS, N)
        check += _centre_rows(X, start, stop, centre, y)
        for r in range(stop - start):
            for d in range(D):
                squares[r, d] = y[r, d] * y[r, d]
        if stop - start < _ROWS:
            for r in range(stop - start):
                for k in range(K):
                    w = weights_t[k, start + r]
                    for d in range(D):
                        first[k, d] += w * y[r, d]
                        second[k, d] += w * squares[r, d]
            continue
        for k in range(K):
            w0, w1 = weights_t[k, start], weights_t[k, start + 1]
            w2, w3 = weights_t[k, start + 2], weights_t[k, start + 3]
            if w0 == 0.0 and w1 == 0.0 and w2 == 0.0 and w3 == 0.0:
                continue
            for d in range(D):
                first[k, d] += w0 * y[0, d] + w1 * y[1, d] + w2 * y[2, d] + w3 * y[3, d]
                second[k, d] += (w0 * squares[0, d] + w1 * squares[1, d]
                                 + w2 * squares[2, d] + w3 * squares[3, d])
    return check


@njit(f"float64({_F2}, {_F2}, {_F1}, {_F2}, {_F1})", **_OPTIONS)
def traced_moments(X, weights_t, centre, first, second):  # pragma: no cover - compiled
    """``first[k] += sum_n w[k, n] y_n`` (K, D) and ``second[k] += sum_n w[k, n] |y_n|^2`` (K,).

    The moments a spherical covariance needs: :func:`diagonal_moments` with the squares summed
    over the features, once per row.
    """
    N, D = X.shape
    K = weights_t.shape[0]
    y = np.empty((_ROWS, D))
    norms = np.empty(_ROWS)
    check = 0.0
    for start in range(0, N, _ROWS):
        stop = min(start + _ROWS, N)
        check += _centre_rows(X, start, stop, centre, y)
        for r in range(stop - start):
            total = 0.0
            for d in range(D):
                total += y[r, d] * y[r, d]
            norms[r] = total
        if stop - start < _ROWS:
            for r in range(stop - start):
                for k in range(K):
                    w = weights_t[k, start + r]
                    for d in range(D):
                        first[k, d] += w * y[r, d]
                    second[k] += w * norms[r]
            continue
        for k in range(K):
            w0, w1 = weights_t[k, start], weights_t[k, start + 1]
            w2, w3 = weights_t[k, start + 2], weights_t[k, start + 3]
            if w0 == 0.0 and w1 == 0.0 and w2 == 0.0 and w3 == 0.0:
                continue
            for d in range(D):
                first[k, d] += w0 * y[0, d] + w1 * y[1, d] + w2 * y[2, d] + w3 * y[3, d]
            second[k] += w0 * norms[0] + w1 * norms[1] + w2 * norms[2] + w3 * norms[3]
    return check
