"""Categorical components: each of ``K`` components emits one symbol out of ``0, 1, ..., M - 1``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emlib._unconstrained import check_vector, simplex_from_vector, simplex_to_vector
from emlib._validation import as_numeric_array, is_known, output_array, symbols_below
from emlib.distributions._empty import empty_components
from emlib.distributions._statistics import (
    WeightedSums,
    _check_fixed,
    _check_sums,
    _check_weighted,
    check_sampling,
)

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, FixedNames, RandomState

__all__ = ["Categorical", "check_symbols"]


def check_symbols(X: ArrayLike, name: str = "X", n_symbols: int | None = None,
                  parameter: str = "n_symbols") -> np.ndarray:
    """Validate a sequence of symbols and return it as a 1-D ``int64`` array of shape (N,).

    Parameters
    ----------
    X : array-like of shape (N,) or (N, 1)
        Integer symbols ``0, 1, ..., M - 1``. Floats are accepted when they are whole numbers.
    name : str
        Name of the argument, used in error messages.
    n_symbols : int, optional
        The number of symbols ``M`` the model knows; symbols ``>= M`` are an error.
    parameter : str, default "n_symbols"
        What the caller calls ``M``, for the error message.

    Raises
    ------
    ValueError
        For non-numeric, empty, NaN or infinite input, non-integers, negative symbols, symbols
        ``>= n_symbols``, or a 2-D array with more than one column.
    """
    try:
        array = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of integer symbols: {exc}") from None
    if array.dtype.kind not in "biufc":  # not timedelta64, which numpy counts as a number
        raise ValueError(f"{name} must contain integer symbols, got an array of dtype {array.dtype}")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or a single column (n_samples, 1) of symbols, "
            f"got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must contain integer symbols, got complex values")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values; symbols must be integers")
        whole = array == np.round(array)
        if not whole.all():
            bad = int(np.argmin(whole))
            raise ValueError(
                f"{name} must contain integer symbols 0, 1, ..., M - 1, but {name}[{bad}] is "
                f"{array[bad]:g}"
            )
    if np.issubdtype(array.dtype, np.bool_):
        array = array.astype(np.int64)
    largest = array.max()
    if float(largest) >= 2.0**62:  # beyond any table of symbols, and beyond int64 arithmetic
        bad = int(np.argmax(array))
        raise ValueError(
            f"{name}[{bad}] is symbol {largest}, beyond any number of symbols a model could hold; recode "
            "the symbols as 0, 1, ..., M - 1"
        )
    symbols = array.astype(np.int64)
    if symbols.min() < 0:
        bad = int(np.argmin(symbols))
        raise ValueError(f"{name} must contain symbols >= 0, but {name}[{bad}] is {symbols[bad]}")
    if n_symbols is not None and symbols.max() >= n_symbols:
        bad = int(np.argmax(symbols))
        raise ValueError(
            f"{name}[{bad}] is symbol {symbols[bad]}, but the model knows only {parameter}={n_symbols} "
            f"symbols (0 to {n_symbols - 1})"
        )
    return symbols


class Categorical:
    """``K`` categorical distributions over the symbols ``0, 1, ..., M - 1``.

    Parameters
    ----------
    probabilities : array-like of shape (K, M)
        Row ``k`` is the distribution of the symbols under component ``k``; rows sum to one.
        Zeros are *structural*: :meth:`fit` keeps them at zero, so a component can be forbidden to
        emit a symbol.
    pseudo_count : float, default 0
        Added to every allowed (non-structural-zero) count in :meth:`fit`: the maximum a posteriori
        estimate under a Dirichlet prior with concentration ``1 + pseudo_count``. ``1`` is Laplace's
        add-one smoothing; it keeps symbols never seen with a component possible.

    Notes
    -----
    Data are 1-D integer arrays of symbols; a column vector of shape (N, 1) is accepted too.
    """

    parameter_names = ("probabilities",)

    def __init__(self, probabilities: ArrayLike, pseudo_count: float = 0.0):
        probabilities = _check_rows(probabilities, "probabilities")
        if isinstance(pseudo_count, bool) or not np.isscalar(pseudo_count) or not pseudo_count >= 0:
            raise ValueError(f"pseudo_count must be a non-negative number, got {pseudo_count!r}")
        if not np.isfinite(pseudo_count):
            raise ValueError("pseudo_count must be finite")
        self.pseudo_count = float(pseudo_count)
        self._support = probabilities > 0
        self.probabilities = probabilities

    # -- parameters -------------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self._probabilities.shape[0]

    @property
    def n_symbols(self) -> int:
        """Number of symbols ``M``."""
        return self._probabilities.shape[1]

    @property
    def probabilities(self) -> np.ndarray:
        """Emission probabilities, shape (K, M)."""
        return self._probabilities

    @probabilities.setter
    def probabilities(self, value: ArrayLike) -> None:
        value = _check_rows(value, "probabilities")
        if hasattr(self, "_probabilities") and value.shape != self._probabilities.shape:
            raise ValueError(f"probabilities must have shape {self._probabilities.shape}, got {value.shape}")
        self._probabilities = value
        with np.errstate(divide="ignore"):
            # Transposed so that log_prob gathers contiguous rows: (M, K).
            self._log_probabilities_by_symbol = np.ascontiguousarray(np.log(value).T)

    @property
    def support(self) -> np.ndarray:
        """Where the probabilities may be non-zero, a boolean array of shape (K, M).

        Zeros of the probabilities given at construction stay zero.
        """
        return self._support

    @property
    def n_parameters(self) -> int:
        """Number of free parameters (the allowed symbols of each component, minus one for the sum)."""
        return int(np.sum(np.maximum(self._support.sum(axis=1) - 1, 0)))

    # -- one vector of unconstrained parameters (accelerated EM) ---------------------------------
    def get_vector(self, fixed: FixedNames = ()) -> np.ndarray:
        """The probabilities as one vector of unconstrained coordinates, shape (P,).

        The square roots of the probabilities on the support (row by row; structural zeros are
        left out), mapped back by squaring and dividing each row by its sum (:meth:`set_vector`).
        Empty if ``"probabilities"`` is in ``fixed``.
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            return np.empty(0)
        return simplex_to_vector(self._probabilities, self._support)

    def set_vector(self, vector: ArrayLike, fixed: FixedNames = ()) -> Categorical:
        """Set the probabilities from :meth:`get_vector`'s coordinates, in place.

        Raises ``ValueError`` (and changes nothing) for a vector of the wrong length or with
        non-finite entries.
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            check_vector(vector, 0, "vector")
            return self
        vector = check_vector(vector, int(self._support.sum()), "vector")
        self.probabilities = simplex_from_vector(vector, self._support, "vector")
        return self

    # -- E-step side ------------------------------------------------------------------------------
    @staticmethod
    def check_data(X: ArrayLike, name: str = "X", n_symbols: int | None = None) -> np.ndarray:
        """Validate symbols (integers ``0 .. n_symbols - 1``); returns a 1-D ``int64`` array of shape (N,).

        Raises ``ValueError`` naming ``name`` for non-integers, negative symbols, symbols
        ``>= n_symbols``, NaN or a 2-D array of more than one column.
        """
        return check_symbols(X, name, n_symbols)

    def _symbols(self, X: ArrayLike) -> np.ndarray:
        """:func:`check_symbols` against this model's symbols; inside a fit, the data it validated as
        such pass unread (:func:`emlib._validation.known`)."""
        if is_known(X, symbols_below(self.n_symbols)):
            return X
        return check_symbols(X, "X", self.n_symbols)

    def log_prob(self, X: ArrayLike, out: np.ndarray | None = None) -> np.ndarray:
        """Log-probability of each symbol under each component: array of shape (N, K), written into
        ``out`` if given."""
        symbols = self._symbols(X)
        out = output_array(out, (symbols.shape[0], self.n_components))
        # Rows of the (M, K) table gathered by np.take: the same copy as indexing with the symbols,
        # about ten times faster for a few components. The symbols are checked, so "clip" never
        # clips; it lets np.take write into ``out`` directly ("raise" would go through a copy).
        return np.take(self._log_probabilities_by_symbol, symbols, axis=0, out=out, mode="clip")

    def log_prior(self) -> float:
        """Log-density of the Dirichlet prior at the current probabilities, up to a constant.

        ``pseudo_count * sum(log p)`` over the allowed entries; zero without a prior.
        """
        if self.pseudo_count == 0:
            return 0.0
        return float(self.pseudo_count * np.log(self._probabilities[self._support]).sum())

    def log_penalty(self) -> np.ndarray:
        """Zeros (K,): a Dirichlet prior enters once, through :meth:`log_prior`, not per observation."""
        return np.zeros(self.n_components)

    # -- M-step side ------------------------------------------------------------------------------
    def statistics(self, X: ArrayLike, weights: ArrayLike) -> WeightedSums:
        """Weighted sufficient statistics: totals (K,) and weighted symbol counts (K, M).

        Parameters
        ----------
        X : ndarray of shape (N,)
            Symbols.
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component.
        """
        X = self._symbols(X)
        _, weights, totals = _check_weighted(np.zeros((X.shape[0], 1)), weights, 1, self.n_components,
                                             finite_rows=False)
        K, M = self._probabilities.shape
        counts = np.empty((K, M))
        for k in range(K):
            counts[k] = np.bincount(X, weights=weights[:, k], minlength=M)
        return WeightedSums(totals, counts)

    def fit_statistics(self, statistics: WeightedSums, fixed: FixedNames = ()) -> Categorical:
        """The M-step from statistics, in place: normalised counts plus pseudo-counts (MAP).

        Structural zeros stay zero; a component with neither counts nor pseudo-counts keeps its
        probabilities (with a warning). ``fixed=("probabilities",)`` leaves them unchanged.
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            return self
        stats = _check_sums(statistics, self.n_components, self.n_symbols)
        counts = stats.sums + self.pseudo_count
        counts[~self._support] = 0.0
        totals = counts.sum(axis=1)
        empty = empty_components(totals, "probabilities", "fewer components or a pseudo_count")
        self.probabilities = WeightedSums(totals, counts).means(empty, self._probabilities)
        return self

    def fit(self, X: ArrayLike, weights: ArrayLike, fixed: FixedNames = ()) -> Categorical:
        """Weighted maximum-likelihood (or, with ``pseudo_count``, MAP) update, in place.

        The shortcut for ``fit_statistics(statistics(X, weights), fixed)``.

        Parameters
        ----------
        X : ndarray of shape (N,)
            Symbols.
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component.
        fixed : collection of str
            ``{"probabilities"}`` leaves the parameters unchanged.

        Returns
        -------
        self
        """
        if "probabilities" in _check_fixed(fixed, self.parameter_names):
            return self
        return self.fit_statistics(self.statistics(X, weights))

    # -- generation -------------------------------------------------------------------------------
    def sample(self, components: ArrayLike, rng: RandomState = None) -> np.ndarray:
        """One symbol from component ``components[i]`` for each i: int array of shape (len(components),).

        ``components`` holds integer labels; ``rng`` is None, an int seed or a Generator."""
        components, rng = check_sampling(components, rng, self.n_components)
        cumulative = np.cumsum(self._probabilities, axis=1)
        # Round-off must not push a uniform draw past the last symbol a component can emit.
        M = self.n_symbols
        last = M - 1 - np.argmax(self._probabilities[:, ::-1] > 0, axis=1)
        cumulative[np.arange(M) >= last[:, None]] = np.inf
        u = rng.random(components.size)
        out = np.empty(components.size, dtype=np.int64)
        for k in np.unique(components):
            here = components == k
            out[here] = np.searchsorted(cumulative[k], u[here], side="right")
        return out


def _check_rows(value, name: str) -> np.ndarray:
    try:
        array = np.array(as_numeric_array(value, name), dtype=np.float64, ndmin=2)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers of shape (K, M)") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (K, M), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(array < 0):
        raise ValueError(f"{name} has negative entries; probabilities must be >= 0")
    sums = array.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-8)
    if bad.size:
        raise ValueError(f"each row of {name} must sum to one, but row {bad[0]} sums to {sums[bad[0]]:.10g}")
    return array / sums[:, None]
