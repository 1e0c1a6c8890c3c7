"""Poisson components for counts: each of ``K`` components has one rate per feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emlib._unconstrained import (
    check_vector,
    nonnegative_from_vector,
    nonnegative_to_vector,
)
from emlib._validation import (
    COUNTS,
    as_numeric_array,
    check_data,
    derived,
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

__all__ = ["Poisson", "check_counts"]


def check_counts(X: ArrayLike, name: str = "X") -> np.ndarray:
    """Validate counts and return them as a C-contiguous float array of shape (N, D).

    Parameters
    ----------
    X : array-like of shape (N,) or (N, D)
        Non-negative integer counts; 1-D input is one feature. Floats are accepted when they are
        whole numbers.
    name : str
        Name of the argument, used in error messages.

    Raises
    ------
    ValueError
        For non-numeric, empty, NaN or infinite input, negative counts or non-integers.
    """
    array = check_data(X, name, what="counts (integers >= 0)")
    negative = array < 0
    if negative.any():
        row, col = np.argwhere(negative)[0]
        raise ValueError(
            f"Negative values in data: {name} must contain counts >= 0, but {name}[{row}, {col}] is "
            f"{array[row, col]:g}"
        )
    whole = array == np.round(array)
    if not whole.all():
        row, col = np.argwhere(~whole)[0]
        raise ValueError(
            f"{name} must contain whole-number counts, but {name}[{row}, {col}] is {array[row, col]:g}"
        )
    return array


class Poisson:
    """``K`` Poisson components over ``D`` independent count features.

    Component ``k`` gives a row of counts ``x`` the probability
    ``prod_d rates[k, d]**x_d exp(-rates[k, d]) / x_d!``.

    Parameters
    ----------
    rates : array-like of shape (K, D) or (K,)
        Non-negative rates (expected counts); a 1-D array means one feature. A rate of zero means
        the component only ever emits zero for that feature.
    """

    parameter_names = ("rates",)

    def __init__(self, rates: ArrayLike):
        rates = np.array(as_numeric_array(rates, "rates"), dtype=np.float64)
        if rates.ndim == 1:
            rates = rates[:, None]
        if rates.ndim != 2 or rates.size == 0:
            raise ValueError(f"rates must have shape (K, D) or (K,), got {rates.shape}")
        self._rates = _check_rates(rates)

    # -- parameters -------------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self._rates.shape[0]

    @property
    def n_features(self) -> int:
        return self._rates.shape[1]

    @property
    def rates(self) -> np.ndarray:
        """Rates, shape (K, D)."""
        return self._rates

    @rates.setter
    def rates(self, value: ArrayLike) -> None:
        value = np.array(as_numeric_array(value, "rates"), dtype=np.float64)
        if value.ndim == 1 and self.n_features == 1:
            value = value[:, None]
        if value.shape != self._rates.shape:
            raise ValueError(f"rates must have shape {self._rates.shape}, got {value.shape}")
        self._rates = _check_rates(value)

    @property
    def n_parameters(self) -> int:
        """Number of free parameters (one rate per component and feature)."""
        return self._rates.size

    # -- one vector of unconstrained parameters (accelerated EM) ---------------------------------
    def get_vector(self, fixed: FixedNames = ()) -> np.ndarray:
        """The rates as one vector of unconstrained coordinates, their square roots, shape (K D,).

        Squaring maps any real vector back to valid rates (:meth:`set_vector`); a rate that goes
        to zero at the maximum converges to a finite coordinate. Empty if ``"rates"`` is in
        ``fixed``.
        """
        if "rates" in _check_fixed(fixed, self.parameter_names):
            return np.empty(0)
        return nonnegative_to_vector(self._rates)

    def set_vector(self, vector: ArrayLike, fixed: FixedNames = ()) -> Poisson:
        """Set the rates from their square roots (:meth:`get_vector`), in place.

        Raises ``ValueError`` (and changes nothing) for a vector of the wrong length, with
        non-finite entries, or whose rates overflow.
        """
        if "rates" in _check_fixed(fixed, self.parameter_names):
            check_vector(vector, 0, "vector")
            return self
        vector = check_vector(vector, self._rates.size, "vector")
        self._rates = nonnegative_from_vector(vector, "vector").reshape(self._rates.shape)
        return self

    # -- E-step side ------------------------------------------------------------------------------
    @staticmethod
    def check_data(X: ArrayLike, name: str = "X") -> np.ndarray:
        """Validate counts (whole numbers >= 0); returns a float array of shape (N, D).

        1-D input is one feature. Raises ``ValueError`` naming ``name`` for negative or
        non-integer counts, NaN or infinite values.
        """
        return check_counts(X, name)

    def log_prob(self, X: ArrayLike, out: np.ndarray | None = None) -> np.ndarray:
        """Log-probability of each row of counts ``X`` (N, D) under each component: shape (N, K),
        written into ``out`` if given."""
        X = _check_counts_of(check_rows(X, self.n_features))
        out = output_array(out, (X.shape[0], self.n_components))
        rates = self._rates
        zero = rates == 0
        some_zero = zero.any()
        if some_zero:
            log_rates = np.where(zero, 0.0, np.log(np.where(zero, 1.0, rates)))
        else:
            log_rates = np.log(rates)
        np.matmul(X, log_rates.T, out=out)
        out -= rates.sum(axis=1)
        out -= derived(X, "log factorials", _log_factorials)
        if some_zero:
            # A zero rate gives probability zero to any positive count (0**x with x > 0).
            impossible = (X > 0).astype(np.float64) @ zero.T.astype(np.float64) > 0
            out[impossible] = -np.inf
        return out

    def log_penalty(self) -> np.ndarray:
        """Zeros (K,): the Poisson M-step is exact, so EM climbs the log-likelihood itself."""
        return np.zeros(self.n_components)

    # -- M-step side ------------------------------------------------------------------------------
    def statistics(self, X: ArrayLike, weights: ArrayLike) -> WeightedSums:
        """Weighted sufficient statistics: totals (K,) and weighted sums of the counts (K, D).

        Parameters
        ----------
        X : ndarray of shape (N, D)
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component.
        """
        X, weights, totals = _check_weighted(X, weights, self.n_features, self.n_components)
        return WeightedSums(totals, weights.T @ _check_counts_of(X))

    def fit_statistics(self, statistics: WeightedSums, fixed: FixedNames = ()) -> Poisson:
        """The M-step from statistics, in place: rate = weighted mean count.

        ``fixed=("rates",)`` leaves the rates unchanged. A component without weight keeps its
        rates (with a warning).
        """
        if "rates" in _check_fixed(fixed, self.parameter_names):
            return self
        stats = _check_sums(statistics, self.n_components, self.n_features)
        empty = empty_components(stats.totals, "rates")
        # A weighted mean of counts; clip round-off below zero.
        self._rates = np.maximum(stats.means(empty, self._rates), 0.0)
        return self

    def fit(self, X: ArrayLike, weights: ArrayLike, fixed: FixedNames = ()) -> Poisson:
        """Weighted maximum-likelihood update (rate = weighted mean count), in place.

        The shortcut for ``fit_statistics(statistics(X, weights), fixed)``.

        Parameters
        ----------
        X : ndarray of shape (N, D)
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component.
        fixed : collection of str
            ``{"rates"}`` leaves the rates unchanged.

        Returns
        -------
        self
        """
        if "rates" in _check_fixed(fixed, self.parameter_names):
            return self
        return self.fit_statistics(self.statistics(X, weights))

    # -- generation -------------------------------------------------------------------------------
    def sample(self, components: ArrayLike, rng: RandomState = None) -> np.ndarray:
        """One row of counts from component ``components[i]`` for each i: int array (len(components), D).

        ``components`` holds integer labels; ``rng`` is None, an int seed or a Generator."""
        components, rng = check_sampling(components, rng, self.n_components)
        return rng.poisson(self._rates[components]).astype(np.int64)


def _log_factorials(X: np.ndarray) -> np.ndarray:
    """``log(x!)`` summed over each row of counts (N, D): shape (N, 1)."""
    # scipy is imported here, not at module level, to keep `import emlib` light.
    from scipy.special import gammaln

    return gammaln(X + 1.0).sum(axis=1, keepdims=True)


def _check_rates(rates: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(rates)):
        raise ValueError("rates contain NaN or infinite values")
    if np.any(rates < 0):
        raise ValueError(f"rates must be >= 0, got a minimum of {rates.min():g}")
    return rates


def _check_counts_of(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Finite (N, D) floats that must be whole numbers >= 0 (a cheap check for validated shapes).

    Inside a fit, the data it validated as counts pass unread (:func:`emlib._validation.known`).
    """
    if not is_known(X, COUNTS):
        _read_counts(X, name)
    return X


def _read_counts(X: np.ndarray, name: str) -> None:
    bad = (X < 0) | (X != np.round(X))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{name} must contain counts (whole numbers >= 0), but {name}[{row}, {col}] is "
                         f"{X[row, col]:g}")
