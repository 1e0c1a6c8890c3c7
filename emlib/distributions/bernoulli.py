"""Bernoulli components for binary vectors (mixtures of Bernoullis, binary emissions).

Component ``k`` is a product of ``D`` independent coins: feature ``d`` is 1 with probability
``p[k, d]``. The probabilities are kept inside ``[min_prob, 1 - min_prob]`` so that no log-probability
is ever ``-inf`` (a pixel that was always off in a cluster would otherwise make any image with that
pixel on impossible, and ``0 * log 0`` would give NaN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emlib._unconstrained import check_vector
from emlib._validation import (
    BINARY,
    as_numeric_array,
    check_data,
    is_known,
    output_array,
)
from emlib.distributions._empty import empty_components
from emlib.distributions._statistics import (
    WeightedSums,
    _check_fixed,
    _check_sums,
    _check_weighted,
    check_rows,
    check_sampling,
)

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, FixedNames, RandomState

__all__ = ["DEFAULT_MIN_PROB", "Bernoulli"]

#: Default lower bound on every probability (upper bound ``1 - DEFAULT_MIN_PROB``). Small enough that a
#: fit to real data is the maximum-likelihood estimate to about ten digits, large enough that
#: ``log(min_prob) = -23`` keeps every log-probability finite.
DEFAULT_MIN_PROB = 1e-10


class Bernoulli:
    """``K`` components, each a vector of ``D`` independent Bernoulli variables.

    Parameters
    ----------
    probabilities : array-like of shape (K, D)
        ``probabilities[k, d]`` is the probability that feature ``d`` is 1 under component ``k``.
        Values are clipped to ``[min_prob, 1 - min_prob]``.
    min_prob : float, default 1e-10
        Smallest probability allowed (the largest is ``1 - min_prob``); must lie in ``(0, 0.5)``.

    Notes
    -----
    The log-mass of a binary row ``x`` under component ``k`` is

    ``sum_d x_d log p[k, d] + (1 - x_d) log(1 - p[k, d])
    = x @ logit(p[k]) + sum_d log(1 - p[k, d])``,

    one matrix product for all samples and components.

    The M-step's weighted mean ``p[k, d] = sum_n w[n, k] x[n, d] / sum_n w[n, k]`` is clipped to
    ``[min_prob, 1 - min_prob]``. Because the expected complete-data log-likelihood is concave in each
    ``p[k, d]``, the clipped mean is the exact maximiser over that interval: EM on the clipped model
    still never decreases the log-likelihood. Clipping changes the estimate only where the weighted
    mean is within ``min_prob`` of 0 or 1.
    """

    parameter_names = ("probabilities",)

    def __init__(self, probabilities: ArrayLike, min_prob: float = DEFAULT_MIN_PROB):
        if isinstance(min_prob, bool) or not isinstance(min_prob, (int, float, np.floating)) or not (
            0.0 < min_prob < 0.5
        ):
            raise ValueError(f"min_prob must be a number in (0, 0.5), got {min_prob!r}")
        self.min_prob = float(min_prob)
        probabilities = np.array(as_numeric_array(probabilities, "probabilities"), dtype=np.float64, ndmin=2)
        if probabilities.ndim != 2:
            raise ValueError(
                f"probabilities must have shape (K, D), got shape {probabilities.shape}"
            )
        self._shape = probabilities.shape
        self.probabilities = probabilities  # validates, clips and caches the logarithms

    # -- parameters -------------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self._shape[0]

    @property
    def n_features(self) -> int:
        return self._shape[1]

    @property
    def probabilities(self) -> np.ndarray:
        """Probability that each feature is 1 under each component, shape (K, D)."""
        return self._probabilities

    @probabilities.setter
    def probabilities(self, value: ArrayLike) -> None:
        value = np.array(as_numeric_array(value, "probabilities"), dtype=np.float64)
        if value.shape != self._shape:
            raise ValueError(f"probabilities must have shape {self._shape}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError("probabilities contain NaN or infinite values")
        if np.any(value < 0) or np.any(value > 1):
            raise ValueError(
                f"probabilities must lie in [0, 1]; got values from {value.min():.3g} to {value.max():.3g}"
            )
        self._set_clipped(value)

    def _set_clipped(self, value: np.ndarray) -> None:
        np.clip(value, self.min_prob, 1.0 - self.min_prob, out=value)
        self._probabilities = value
        # log(1 - p) and logit(p), computed once per parameter update, used by every log_prob call.
        self._log_one_minus = np.log1p(-value)  # (K, D)
        self._logit = np.log(value) - self._log_one_minus  # (K, D)

    @property
    def n_parameters(self) -> int:
        """Number of free parameters, ``K * D``."""
        return self.n_components * self.n_features

    # -- one vector of unconstrained parameters (accelerated EM) ---------------------------------
    def get_vector(self, fixed: FixedNames = ()) -> np.ndarray:
        """The probabilities as one vector of unconstrained coordinates, their logits, shape (K D,).

        Empty if ``"probabilities"`` is in ``fixed``. :meth:`set_vector` maps it back.
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            return np.empty(0)
        return self._logit.ravel().copy()

    def set_vector(self, vector: ArrayLike, fixed: FixedNames = ()) -> Bernoulli:
        """Set the probabilities from their logits (:meth:`get_vector`), in place.

        The probabilities are kept in ``[min_prob, 1 - min_prob]`` as everywhere else. Raises
        ``ValueError`` (and changes nothing) for a vector of the wrong length or with non-finite
        entries.
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            check_vector(vector, 0, "vector")
            return self
        logits = check_vector(vector, self.n_components * self.n_features, "vector")
        # Beyond +-700 the probability is 0 or 1 to double precision (and then min_prob's bound).
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(logits, -700.0, 700.0)))
        self._set_clipped(probabilities.reshape(self._shape))
        return self

    # -- E-step side ------------------------------------------------------------------------------
    @staticmethod
    def check_data(X: ArrayLike, name: str = "X") -> np.ndarray:
        """Validate binary data: a 1-D or 2-D array of 0/1 (or True/False), returned as (N, D) floats.

        Raises
        ------
        ValueError
            If ``X`` is not numeric, is empty, contains NaN or infinite values, or has an entry other
            than 0 and 1 (the message gives the first such entry and where it is).
        """
        array = check_data(X, name, allow_nan=True)
        if np.isnan(array).any():
            raise ValueError(f"{name} contains NaN; binary data must be 0 or 1 in every entry")
        not_binary = (array != 0.0) & (array != 1.0)
        if not_binary.any():
            row, col = np.argwhere(not_binary)[0]
            raise ValueError(
                f"{name} must be binary (0/1 or True/False), but {name}[{row}, {col}] = "
                f"{array[row, col]:g}; threshold or binarise the data first"
            )
        return array

    def log_prob(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Log-probability of each binary row of ``X`` (N, D) under each component: shape (N, K),
        written into ``out`` if given."""
        X = _check_binary(check_rows(X, self.n_features))
        out = np.matmul(X, self._logit.T, out=output_array(out, (X.shape[0], self.n_components)))
        out += self._log_one_minus.sum(axis=1)
        return out

    def log_penalty(self) -> np.ndarray:
        """Zeros (K,): clipping to ``[min_prob, 1 - min_prob]`` is an exact constrained maximiser,
        so EM climbs the log-likelihood itself."""
        return np.zeros(self.n_components)

    # -- M-step side ------------------------------------------------------------------------------
    def statistics(self, X: np.ndarray, weights: np.ndarray) -> WeightedSums:
        """Weighted sufficient statistics: totals (K,) and weighted counts of ones (K, D).

        Parameters
        ----------
        X : ndarray of shape (N, D)
            Binary data.
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component.
        """
        X, weights, totals = _check_weighted(X, weights, self.n_features, self.n_components)
        return WeightedSums(totals, weights.T @ _check_binary(X))

    def fit_statistics(self, statistics: WeightedSums, fixed: FixedNames = ()) -> Bernoulli:
        """The M-step from statistics, in place: the weighted mean, clipped to ``[min_prob, 1 - min_prob]``.

        ``fixed=("probabilities",)`` leaves the parameters unchanged. A component without weight
        keeps its probabilities (with a warning).
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            return self
        stats = _check_sums(statistics, self.n_components, self.n_features)
        empty = empty_components(stats.totals)
        self._set_clipped(stats.means(empty, self._probabilities))
        return self

    def fit(self, X: np.ndarray, weights: np.ndarray, fixed: FixedNames = ()) -> Bernoulli:
        """Weighted maximum-likelihood update of every component, in place.

        The shortcut for ``fit_statistics(statistics(X, weights), fixed)``.

        Parameters
        ----------
        X : ndarray of shape (N, D)
            Binary data.
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component (responsibilities or state
            posteriors, times any frequency weights).
        fixed : collection of str
            ``("probabilities",)`` leaves the parameters unchanged.

        Returns
        -------
        self
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            return self
        return self.fit_statistics(self.statistics(X, weights))

    # -- generation -------------------------------------------------------------------------------
    def sample(self, components: ArrayLike, rng: RandomState = None) -> np.ndarray:
        """One draw from component ``components[i]`` for each i: 0/1 floats of shape (len(components), D).

        ``components`` holds integer labels; ``rng`` is None, an int seed or a Generator."""
        components, rng = check_sampling(components, rng, self.n_components)
        uniform = rng.random((components.size, self.n_features))
        return (uniform < self._probabilities[components]).astype(np.float64)

    def __repr__(self) -> str:
        return f"Bernoulli(n_components={self.n_components}, n_features={self.n_features})"


def _check_binary(X: np.ndarray, name: str = "X") -> np.ndarray:
    """``X`` if every entry is 0 or 1; inside a fit, the data it validated as binary pass unread
    (:func:`emlib._validation.known`)."""
    if not is_known(X, BINARY):
        _read_binary(X, name)
    return X


def _read_binary(X: np.ndarray, name: str) -> None:
    not_binary = (X != 0.0) & (X != 1.0)
    if not_binary.any():
        row, col = np.argwhere(not_binary)[0]
        raise ValueError(f"{name} must be binary (0/1), but {name}[{row}, {col}] = {X[row, col]:g}")
