"""Weighted sufficient statistics: what an E-step hands to an M-step.

Every family in :mod:`emlib.distributions` reduces weighted data to a few sums per component
(``statistics(X, weights)``) and sets its parameters from those sums alone (``fit_statistics``).
Because they are sums over rows, the statistics of two halves of the data add up to those of the
whole (``a + b``), and a running average is a scaled sum (``0.9 * a + 0.1 * b``): the same M-step
serves a batch, a stream and data spread over many machines.

Two shapes cover every family here:

- :class:`WeightedSums` for families whose parameters are weighted means of the data
  (Bernoulli probabilities, Poisson rates, categorical symbol frequencies);
- :class:`WeightedMoments` for Gaussians: first and second moments about a centre per component.
  Adding moments taken about different centres moves both to their pooled mean first (the
  parallel-variance formulas of Chan, Golub & LeVeque), so no digits are lost to cancellation.
  A tied covariance needs only the sum of the components' second moments (``pooled``): one
  D x D matrix whatever K, computed in one pass instead of K. A spherical covariance needs only
  the trace of each (``traced``): one number per component, a matrix-vector product instead of
  a matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emlib._validation import FINITE, as_numeric_array, check_random_state, is_known

# check_finite tests arrays up to this size entry by entry at once (a boolean temporary of at most
# 64 KB); larger ones by their sum first.
_DIRECT_TEST_ENTRIES = 1 << 16

__all__ = ["WeightedMoments", "WeightedSums"]


def _check_factor(factor) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer, np.floating)):
        return NotImplemented
    factor = float(factor)
    if not (np.isfinite(factor) and factor >= 0):
        raise ValueError(f"statistics can only be scaled by a finite number >= 0, got {factor!r}")
    return factor


@dataclass(frozen=True, eq=False)
class WeightedSums:
    """Total weight and weighted sum of the data, per component.

    Attributes
    ----------
    totals : ndarray of shape (K,)
        ``N_k = sum_n w[n, k]``.
    sums : ndarray of shape (K, D)
        ``sum_n w[n, k] x_n`` (for symbols, ``x_n`` is the one-hot row of the symbol).
    """

    totals: np.ndarray
    sums: np.ndarray

    def __add__(self, other: WeightedSums) -> WeightedSums:
        if not isinstance(other, WeightedSums):
            return NotImplemented
        _check_same_shapes(self.sums, other.sums)
        return WeightedSums(self.totals + other.totals, self.sums + other.sums)

    def __mul__(self, factor) -> WeightedSums:
        factor = _check_factor(factor)
        if factor is NotImplemented:
            return NotImplemented
        return WeightedSums(self.totals * factor, self.sums * factor)

    __rmul__ = __mul__

    def means(self, empty: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """``sums / totals`` (K, D); rows of the ``empty`` components are taken from ``previous``."""
        means = self.sums / np.where(empty, 1.0, self.totals)[:, None]
        means[empty] = previous[empty]
        return means


@dataclass(frozen=True, eq=False)
class WeightedMoments:
    """Weighted first and second moments of the data about a centre, per component.

    Attributes
    ----------
    totals : ndarray of shape (K,)
        ``N_k = sum_n w[n, k]``.
    centres : ndarray of shape (K, D)
        The points ``c_k`` the moments are taken about (any points; the component means are best).
    first : ndarray of shape (K, D)
        ``sum_n w[n, k] (x_n - c_k)``.
    second : ndarray of shape (K, D, D), (K, D), (K,) or (D, D)
        ``sum_n w[n, k] (x_n - c_k)(x_n - c_k)^T``; or only its diagonal (the squares), which is
        all a diagonal covariance needs; or only its trace ``sum_n w[n, k] |x_n - c_k|^2``
        (``traced``), which is all a spherical covariance needs; or (``pooled``) its sum over the
        components, which is all a tied covariance needs.
    pooled : bool, default False
        Whether ``second`` is the (D, D) sum over the components.
    """

    totals: np.ndarray
    centres: np.ndarray
    first: np.ndarray
    second: np.ndarray
    pooled: bool = False

    @property
    def diagonal_only(self) -> bool:
        """Whether ``second`` holds only the diagonal of each second-moment matrix."""
        return not self.pooled and self.second.ndim == 2

    @property
    def traced(self) -> bool:
        """Whether ``second`` holds only the trace of each second-moment matrix, shape (K,)."""
        return not self.pooled and self.second.ndim == 1

    @property
    def means(self) -> np.ndarray:
        """Weighted means ``c_k + first_k / N_k``, (K, D); the centre for a component without weight."""
        totals = self.totals[:, None]
        return self.centres + self.first / np.where(totals > 0, totals, 1.0)

    def about(self, centres: np.ndarray) -> WeightedMoments:
        """The same moments taken about other centres (K, D): exact, by the shift formulas.

        With ``d = c - c'``: ``sum w (x - c') = first + N d`` and
        ``sum w (x - c')(x - c')^T = second + first d^T + d first^T + N d d^T`` (summed over the
        components when pooled; its trace, ``second + 2 first . d + N |d|^2``, when traced).
        """
        centres = np.broadcast_to(np.asarray(centres, dtype=np.float64), self.centres.shape)
        d = self.centres - centres
        totals = self.totals[:, None]
        first = self.first + totals * d
        if self.diagonal_only:
            second = self.second + 2.0 * self.first * d + totals * d * d
        elif self.traced:
            second = self.second + np.sum(2.0 * self.first * d + totals * d * d, axis=1)
        elif self.pooled:
            cross = self.first.T @ d
            second = self.second + cross + cross.T + (d.T * self.totals) @ d
        else:
            cross = self.first[:, :, None] * d[:, None, :]
            second = (self.second + cross + np.swapaxes(cross, 1, 2)
                      + self.totals[:, None, None] * d[:, :, None] * d[:, None, :])
        return WeightedMoments(self.totals, centres.copy(), first, second, self.pooled)

    def diagonal(self) -> WeightedMoments:
        """The same moments with only the diagonals of the second moments, (K, D): all that
        diagonal and spherical covariances need."""
        if self.diagonal_only:
            return self
        return WeightedMoments(self.totals, self.centres, self.first,
                               np.diagonal(self.second, axis1=1, axis2=2).copy())

    def scatter(self) -> np.ndarray:
        """``sum_n w[n, k] (x_n - m_k)(x_n - m_k)^T`` about the weighted means ``m_k``.

        Shape (K, D, D), (K, D) for diagonal-only moments, (K,) (the traces) for traced ones, or
        (D, D), the sum over the components, for pooled ones.
        """
        totals = np.where(self.totals > 0, self.totals, 1.0)
        if self.diagonal_only:
            return self.second - self.first**2 / totals[:, None]
        if self.traced:
            return self.second - np.sum(self.first**2, axis=1) / totals
        if self.pooled:
            scatter = self.second - (self.first.T / totals) @ self.first
        else:
            outer = self.first[:, :, None] * self.first[:, None, :] / totals[:, None, None]
            scatter = self.second - outer
        return 0.5 * (scatter + np.swapaxes(scatter, -1, -2))

    def pool(self) -> WeightedMoments:
        """The same moments with the second moments summed over the components (as a tied
        covariance needs them); pooled moments are returned as they are."""
        if self.pooled:
            return self
        if self.diagonal_only or self.traced:
            kind = "diagonal-only" if self.diagonal_only else "traced"
            raise ValueError(f"{kind} moments cannot be pooled into full second moments")
        return WeightedMoments(self.totals, self.centres, self.first, self.second.sum(axis=0), True)

    def trace(self) -> WeightedMoments:
        """The same moments with each second-moment matrix (or its diagonal) reduced to its trace
        (as a spherical covariance needs them); traced moments are returned as they are."""
        if self.traced:
            return self
        if self.pooled:
            raise ValueError("pooled moments cannot be traced: they hold no matrix per component")
        second = self.second.sum(axis=1) if self.diagonal_only else np.trace(self.second, axis1=1, axis2=2)
        return WeightedMoments(self.totals, self.centres, self.first, second)

    def __add__(self, other: WeightedMoments) -> WeightedMoments:
        if not isinstance(other, WeightedMoments):
            return NotImplemented
        if self.pooled != other.pooled:  # full moments pool; diagonal ones cannot
            return self.pool() + other.pool()
        if self.traced != other.traced:  # full and diagonal moments trace
            return self.trace() + other.trace()
        _check_same_shapes(self.first, other.first)
        _check_same_shapes(self.second, other.second)
        if np.array_equal(self.centres, other.centres):
            return WeightedMoments(self.totals + other.totals, self.centres, self.first + other.first,
                                   self.second + other.second, self.pooled)
        # About the pooled mean of both (where a component has weight): little cancels there.
        totals = self.totals + other.totals
        pooled = (self.totals[:, None] * self.means + other.totals[:, None] * other.means)
        pooled = np.where(totals[:, None] > 0, pooled / np.where(totals > 0, totals, 1.0)[:, None],
                          self.centres)
        a, b = self.about(pooled), other.about(pooled)
        return WeightedMoments(totals, pooled, a.first + b.first, a.second + b.second, self.pooled)

    def __mul__(self, factor) -> WeightedMoments:
        factor = _check_factor(factor)
        if factor is NotImplemented:
            return NotImplemented
        return WeightedMoments(self.totals * factor, self.centres, self.first * factor, self.second * factor,
                               self.pooled)

    __rmul__ = __mul__


def _check_same_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"cannot add statistics of different shapes: {a.shape} and {b.shape}")


_NOTHING_FIXED = frozenset()


def _check_fixed(fixed, parameter_names: tuple[str, ...]) -> frozenset:
    """The names in ``fixed`` as a set; a ValueError for a name the family does not have."""
    if type(fixed) in (tuple, frozenset) and not fixed:  # nothing fixed: every step of most fits
        return _NOTHING_FIXED
    if isinstance(fixed, str):
        fixed = (fixed,)
    try:
        fixed = frozenset(fixed)
    except TypeError:
        raise TypeError(f"fixed must be a collection of parameter names, got {fixed!r}") from None
    unknown = fixed - set(parameter_names)
    if unknown:
        raise ValueError(f"fixed may only name {parameter_names}, got {sorted(unknown)}")
    return fixed


def _check_weighted(X, weights, n_features: int, n_components: int,
                    finite_rows: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` as finite (N, D) floats, ``weights`` as finite non-negative (N, K) floats and their
    column totals (K,), or an error naming the argument (``finite_rows=False``: the caller checks
    that ``X`` is finite)."""
    X = check_rows(X, n_features, finite=finite_rows)
    weights = as_numeric_array(weights, "weights").astype(np.float64, copy=False)
    if weights.shape != (X.shape[0], n_components):
        raise ValueError(f"weights must have shape {(X.shape[0], n_components)} (one row per row of X, one "
                         f"column per component), got {weights.shape}")
    totals = weight_totals(weights)
    # A NaN or an infinity spreads to its column's total: finite totals prove every weight finite,
    # and only totals that are not (a bad weight, or an overflow) need the weights looked at.
    if not np.isfinite(totals).all() and not np.isfinite(weights).all():
        raise ValueError("weights contain NaN or infinite values")
    smallest = weights.min() if weights.size else 0.0
    if smallest < 0:
        raise ValueError(f"weights must be non-negative, got a minimum of {smallest:.3g}")
    return X, weights, totals


def check_sampling(components, rng, n_components: int) -> tuple[np.ndarray, np.random.Generator]:
    """The arguments of every family's ``sample``: component labels as an ``intp`` array (integers
    in ``[0, n_components)``; ``TypeError`` for labels of another dtype, floats included) and a
    generator from ``rng`` (None, an int >= 0 or a Generator: :func:`check_random_state`)."""
    labels = as_numeric_array(components, "components", what="component labels")
    if labels.dtype.kind not in "iu" and labels.size:
        raise TypeError(f"components must hold integer component labels, got an array of dtype {labels.dtype}")
    labels = labels.astype(np.intp, copy=False)
    if labels.size and (labels.min() < 0 or labels.max() >= n_components):
        raise ValueError(f"components must be integers in [0, {n_components}), got labels from "
                         f"{labels.min()} to {labels.max()}")
    return labels, check_random_state(rng, "rng")


def weight_totals(weights: np.ndarray) -> np.ndarray:
    """The total weight of each component: the column sums (K,) of ``weights`` (N, K).

    By a matrix-vector product: NumPy sums a row-major array over its rows one row at a time, a
    loop of K additions per row, which for a few components is tens of times slower.
    """
    return np.ones(weights.shape[0]) @ weights


def check_rows(X, n_features: int, name: str = "X", finite: bool = True) -> np.ndarray:
    """``X`` as finite (N, n_features) floats (1-D is one feature when ``n_features`` is 1).

    ``finite=False`` leaves the finiteness to the caller (:func:`check_finite`, or a compiled
    kernel that checks the entries in the pass that reads them anyway).
    """
    X = as_numeric_array(X, name).astype(np.float64, copy=False)
    if X.ndim == 1 and n_features == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (n_samples, {n_features}), got {X.shape}")
    if finite:
        check_finite(X, name)
    return X


def check_finite(X: np.ndarray, name: str = "X") -> None:
    """Raise ``ValueError`` naming ``name`` unless every entry of the float array ``X`` is finite."""
    if is_known(X, FINITE):
        return
    if not _all_finite(X):
        raise not_finite(name)


def _all_finite(X: np.ndarray) -> bool:
    if X.size <= _DIRECT_TEST_ENTRIES:  # one test and a small boolean temporary
        finite = np.isfinite(X).all()
    else:
        # A finite sum proves every entry finite (a NaN or an infinity makes any sum that includes
        # it NaN or infinite), in one pass and without a boolean temporary; only a sum that is not
        # finite (a bad entry, or an overflow) needs the entries looked at one by one.
        with np.errstate(over="ignore", invalid="ignore"):
            total = X.sum()
        finite = np.isfinite(total) or np.isfinite(X).all()
    return bool(finite)


def not_finite(name: str) -> ValueError:
    """The error about an array ``name`` holding NaN or infinite values."""
    return ValueError(f"{name} contains NaN or infinite values")


def _check_sums(statistics, n_components: int, width: int) -> WeightedSums:
    if not isinstance(statistics, WeightedSums):
        raise TypeError(f"statistics must be WeightedSums, got {type(statistics).__name__}")
    if statistics.totals.shape != (n_components,) or statistics.sums.shape != (n_components, width):
        raise ValueError(
            f"statistics do not fit {n_components} components of width {width}: totals "
            f"{statistics.totals.shape}, sums {statistics.sums.shape}"
        )
    return statistics
