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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emlib._validation import as_numeric_array

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
    second : ndarray of shape (K, D, D) or (K, D)
        ``sum_n w[n, k] (x_n - c_k)(x_n - c_k)^T``, or only its diagonal (the squares), which is all
        diagonal and spherical covariances need.
    """

    totals: np.ndarray
    centres: np.ndarray
    first: np.ndarray
    second: np.ndarray

    @property
    def diagonal_only(self) -> bool:
        """Whether ``second`` holds only the diagonal of each second-moment matrix."""
        return self.second.ndim == 2

    @property
    def means(self) -> np.ndarray:
        """Weighted means ``c_k + first_k / N_k``, (K, D); the centre for a component without weight."""
        totals = self.totals[:, None]
        return self.centres + self.first / np.where(totals > 0, totals, 1.0)

    def about(self, centres: np.ndarray) -> WeightedMoments:
        """The same moments taken about other centres (K, D): exact, by the shift formulas.

        With ``d = c - c'``: ``sum w (x - c') = first + N d`` and
        ``sum w (x - c')(x - c')^T = second + first d^T + d first^T + N d d^T``.
        """
        centres = np.broadcast_to(np.asarray(centres, dtype=np.float64), self.centres.shape)
        d = self.centres - centres
        totals = self.totals[:, None]
        first = self.first + totals * d
        if self.diagonal_only:
            second = self.second + 2.0 * self.first * d + totals * d * d
        else:
            cross = self.first[:, :, None] * d[:, None, :]
            second = (self.second + cross + np.swapaxes(cross, 1, 2)
                      + self.totals[:, None, None] * d[:, :, None] * d[:, None, :])
        return WeightedMoments(self.totals, centres.copy(), first, second)

    def diagonal(self) -> WeightedMoments:
        """The same moments with only the diagonals of the second moments, (K, D): all that
        diagonal and spherical covariances need."""
        if self.diagonal_only:
            return self
        return WeightedMoments(self.totals, self.centres, self.first,
                               np.diagonal(self.second, axis1=1, axis2=2).copy())

    def scatter(self) -> np.ndarray:
        """``sum_n w[n, k] (x_n - m_k)(x_n - m_k)^T`` about the weighted means ``m_k``.

        Shape (K, D, D), or (K, D) for diagonal-only moments.
        """
        totals = np.where(self.totals > 0, self.totals, 1.0)
        if self.diagonal_only:
            return self.second - self.first**2 / totals[:, None]
        outer = self.first[:, :, None] * self.first[:, None, :] / totals[:, None, None]
        scatter = self.second - outer
        return 0.5 * (scatter + np.swapaxes(scatter, 1, 2))

    def __add__(self, other: WeightedMoments) -> WeightedMoments:
        if not isinstance(other, WeightedMoments):
            return NotImplemented
        _check_same_shapes(self.second, other.second)
        if np.array_equal(self.centres, other.centres):
            return WeightedMoments(self.totals + other.totals, self.centres, self.first + other.first,
                                   self.second + other.second)
        # About the pooled mean of both (where a component has weight): little cancels there.
        totals = self.totals + other.totals
        pooled = (self.totals[:, None] * self.means + other.totals[:, None] * other.means)
        pooled = np.where(totals[:, None] > 0, pooled / np.where(totals > 0, totals, 1.0)[:, None],
                          self.centres)
        a, b = self.about(pooled), other.about(pooled)
        return WeightedMoments(totals, pooled, a.first + b.first, a.second + b.second)

    def __mul__(self, factor) -> WeightedMoments:
        factor = _check_factor(factor)
        if factor is NotImplemented:
            return NotImplemented
        return WeightedMoments(self.totals * factor, self.centres, self.first * factor, self.second * factor)

    __rmul__ = __mul__


def _check_same_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"cannot add statistics of different shapes: {a.shape} and {b.shape}")


def _check_fixed(fixed, parameter_names: tuple[str, ...]) -> frozenset:
    """The names in ``fixed`` as a set; a ValueError for a name the family does not have."""
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


def _check_weighted(X, weights, n_features: int, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as finite (N, D) floats and ``weights`` as finite non-negative (N, K) floats, or an error
    naming the argument."""
    X = check_rows(X, n_features)
    weights = as_numeric_array(weights, "weights").astype(np.float64, copy=False)
    if weights.shape != (X.shape[0], n_components):
        raise ValueError(f"weights must have shape {(X.shape[0], n_components)} (one row per row of X, one "
                         f"column per component), got {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError("weights contain NaN or infinite values")
    if weights.size and weights.min() < 0:
        raise ValueError(f"weights must be non-negative, got a minimum of {weights.min():.3g}")
    return X, weights


def check_rows(X, n_features: int, name: str = "X") -> np.ndarray:
    """``X`` as finite (N, n_features) floats (1-D is one feature when ``n_features`` is 1)."""
    X = as_numeric_array(X, name).astype(np.float64, copy=False)
    if X.ndim == 1 and n_features == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (n_samples, {n_features}), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _check_sums(statistics, n_components: int, width: int) -> WeightedSums:
    if not isinstance(statistics, WeightedSums):
        raise TypeError(f"statistics must be WeightedSums, got {type(statistics).__name__}")
    if statistics.totals.shape != (n_components,) or statistics.sums.shape != (n_components, width):
        raise ValueError(
            f"statistics do not fit {n_components} components of width {width}: totals "
            f"{statistics.totals.shape}, sums {statistics.sums.shape}"
        )
    return statistics
