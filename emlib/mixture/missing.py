"""Gaussian components and data with missing entries (NaN): the E-step of EM, pattern by pattern.

Write a row as its observed block ``x_o`` and its missing block ``x_m``. Under a Gaussian
``N(mu, Sigma)``:

- the likelihood of the row is the density of what was observed, the marginal
  ``N(x_o | mu_o, Sigma_oo)``;
- given what was observed, the missing block is Gaussian with mean ``mu_m + B (x_o - mu_o)`` and
  covariance ``C = Sigma_mm - B Sigma_om``, where ``B = Sigma_mo Sigma_oo^{-1}`` (the regression of
  ``x_m`` on ``x_o``; ``C`` is what the regression cannot explain).

The M-step needs the expected sufficient statistics ``E[x]`` and ``E[x x^T]`` of every row: the
observed entries as they are, the missing ones replaced by their conditional mean, and ``C`` added to
the missing block of ``E[x x^T]``. Leaving ``C`` out (treating filled-in values as data) shrinks every
variance and covariance that involves a missing entry.

``B`` and ``C`` depend on a row only through which of its entries are missing, so rows are grouped by
pattern of missingness (:class:`MissingPatterns`) and each pattern costs one Cholesky factorisation
per component (one per pattern for tied covariances), whatever its number of rows.

How it is computed: for a pattern, ``S`` is ``Sigma`` with the rows and columns of the missing
coordinates replaced by those of the identity matrix. Its Cholesky factor ``L`` is that of
``Sigma_oo`` on the observed coordinates and the identity on the missing ones, so
``|L^{-1} d|^2 = (x_o - mu_o)^T Sigma_oo^{-1} (x_o - mu_o)`` for ``d = x - mu`` with zeros at the
missing coordinates, and ``log det S = log det Sigma_oo``. Every pattern then has matrices of the same
shape (D, D), and the factorisations of many patterns run as one batched call.

:class:`~emlib.GaussianMixture` with ``missing="em"`` runs EM on these functions, with the M-step
for complete data (:meth:`emlib.distributions.Gaussian.fit_statistics`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from emlib._math import invert_lower_triangular, normalize_log_rows
from emlib._validation import check_data, output_array
from emlib.distributions import WeightedMoments

if TYPE_CHECKING:
    from collections.abc import Iterator

    from emlib._typing import ArrayLike
    from emlib.distributions import Gaussian

__all__ = [
    "MissingPatterns",
    "ObservedGaussian",
    "check_missing_data",
    "conditional_means",
    "expected_statistics",
    "observed_log_prob",
]

_LOG_2PI = math.log(2.0 * math.pi)
# Rows per block, times D^2: the per-pattern (D, D) matrices of one block stay around this many
# numbers, so memory stays flat however many rows and patterns there are.
_BLOCK_SIZE = 2**17


def check_missing_data(X: ArrayLike, name: str = "X", *, fitting: bool = False) -> np.ndarray:
    """Validate data whose missing entries are NaN: return an (N, D) float array.

    As for complete data (a 1-D or 2-D array of real numbers, 1-D being one feature), but NaN is
    allowed. A row with no observed entry is an error (it says nothing about any parameter), and so,
    when ``fitting``, is a feature that is never observed (its mean cannot be estimated). Infinite
    values are errors.
    """
    X = check_data(X, name, allow_nan=True)
    missing = np.isnan(X)
    empty_rows = np.flatnonzero(missing.all(axis=1))
    if empty_rows.size:
        others = f" (and {empty_rows.size - 1} other row(s))" if empty_rows.size > 1 else ""
        raise ValueError(
            f"row {empty_rows[0]} of {name}{others} has no observed entry: every value is NaN. "
            "Remove such rows; they carry no information"
        )
    if fitting:
        empty_columns = np.flatnonzero(missing.all(axis=0))
        if empty_columns.size:
            raise ValueError(
                f"column {empty_columns[0]} of {name} has no observed entry (every value is NaN), "
                "so its mean cannot be estimated; remove the column"
            )
    return X


class MissingPatterns:
    """The rows of ``X`` grouped by which of their entries are observed.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Data with NaN for the missing entries; every row has at least one observed entry
        (see :func:`check_missing_data`).

    Attributes
    ----------
    patterns : ndarray of shape (P, D)
        The distinct patterns: ``True`` where an entry is observed.
    order : ndarray of shape (N,)
        The rows sorted by pattern; the arrays below follow this order.
    pattern_of_row : ndarray of shape (N,)
        Index into ``patterns`` of each (sorted) row; non-decreasing.
    observed : ndarray of shape (N, D)
        ``True`` where an entry of the (sorted) row is observed.
    zero_filled : ndarray of shape (N, D)
        The (sorted) rows with zeros in place of the missing entries.
    """

    def __init__(self, X: np.ndarray):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
        observed = ~np.isnan(X)
        self.patterns, which = np.unique(observed, axis=0, return_inverse=True)
        which = which.reshape(-1)
        self.order = np.argsort(which, kind="stable")
        self.pattern_of_row = which[self.order]
        self.observed = observed[self.order]
        self.zero_filled = np.where(self.observed, X[self.order], 0.0)
        self.n_samples, self.n_features = X.shape
        self._block_rows = max(64, _BLOCK_SIZE // self.n_features**2)

    @property
    def n_patterns(self) -> int:
        """Number of distinct patterns of missingness."""
        return len(self.patterns)

    def blocks(self) -> Iterator[slice]:
        """Consecutive slices of the sorted rows; the patterns of each form a contiguous range."""
        for start in range(0, self.n_samples, self._block_rows):
            yield slice(start, min(start + self._block_rows, self.n_samples))


class _BlockFactors:
    """For the patterns of one block and one covariance matrix: the quantities every row needs."""

    def __init__(self, covariance: np.ndarray, patterns: np.ndarray, conditionals: bool):
        obs = patterns.astype(np.float64)  # (P, D), 1 where observed
        miss = 1.0 - obs
        D = covariance.shape[0]
        # Sigma on the observed coordinates, the identity on the missing ones (see module docstring).
        S = covariance * (obs[:, :, None] * obs[:, None, :])
        S[:, np.arange(D), np.arange(D)] += miss
        L = np.linalg.cholesky(S)
        self.half_log_det = np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)  # (P,)
        self.L_inv = invert_lower_triangular(L)  # (P, D, D)
        self.gain = self.conditional_covariance = None
        if conditionals:
            # E holds Sigma_om in the (o, m) block, zeros elsewhere; S^{-1} E then holds
            # Sigma_oo^{-1} Sigma_om = B^T in that block: the filled-in deviation is d + d @ gain.
            E = covariance * (obs[:, :, None] * miss[:, None, :])
            S_inv = np.swapaxes(self.L_inv, 1, 2) @ self.L_inv
            self.gain = S_inv @ E
            C = covariance * (miss[:, :, None] * miss[:, None, :]) - np.swapaxes(E, 1, 2) @ self.gain
            self.conditional_covariance = 0.5 * (C + np.swapaxes(C, 1, 2))  # (P, D, D)


def _rows_times(matrices: np.ndarray, which: np.ndarray, rows: np.ndarray, transpose: bool) -> np.ndarray:
    """``rows[n] @ M[which[n]]`` (or ``M[which[n]] @ rows[n]`` if ``transpose``) for every row n."""
    if len(matrices) == 1:  # one pattern in the block: a plain matrix product
        return rows @ (matrices[0].T if transpose else matrices[0])
    if transpose:
        return np.einsum("nij,nj->ni", matrices[which], rows)
    return np.einsum("nj,nji->ni", rows, matrices[which])


def _blocks(patterns: MissingPatterns, means: np.ndarray, covariances: np.ndarray,
            conditionals: bool = False):
    """For each block of rows: the slice, log N(x_o | mu_k,o, Sigma_k,oo) (n, K), the deviations
    ``x - mu_k`` with zeros at missing entries (K of (n, D)), the block's pattern index of each row,
    and the factors (one ``_BlockFactors`` per covariance matrix)."""
    means = np.asarray(means, dtype=np.float64)
    covs = np.asarray(covariances, dtype=np.float64)
    covs = covs[None] if covs.ndim == 2 else covs  # tied: one matrix for every component
    K = means.shape[0]
    for block in patterns.blocks():
        first, last = patterns.pattern_of_row[block][[0, -1]]
        which = patterns.pattern_of_row[block] - first  # (n,)
        local = patterns.patterns[first: last + 1]
        factors = [_BlockFactors(cov, local, conditionals) for cov in covs]
        observed = patterns.observed[block]
        n_observed = observed.sum(axis=1)
        log_prob = np.empty((observed.shape[0], K))
        deviations = []
        for k in range(K):
            f = factors[k if len(factors) > 1 else 0]
            d = patterns.zero_filled[block] - means[k] * observed
            whitened = _rows_times(f.L_inv, which, d, transpose=True)
            log_prob[:, k] = (-0.5 * n_observed * _LOG_2PI - f.half_log_det[which]
                              - 0.5 * np.einsum("ij,ij->i", whitened, whitened))
            deviations.append(d)
        yield block, log_prob, deviations, which, factors


def _covariance_stack(components) -> np.ndarray:
    """Full covariance matrices (K, D, D), or the one shared (D, D) matrix of tied components."""
    if components.covariance_type == "tied":
        return components.covariances
    return components.full_covariances()


def observed_log_prob(patterns: MissingPatterns, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Log-density of each row's observed entries under each Gaussian component.

    Parameters
    ----------
    patterns : MissingPatterns
        The data, grouped.
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D) or (D, D)
        Full matrices, or one matrix shared by every component (tied).

    Returns
    -------
    ndarray of shape (N, K)
        ``log N(x_o | mu_{k,o}, Sigma_{k,oo})``, rows in the order of the data.
    """
    out = np.empty((patterns.n_samples, np.shape(means)[0]))
    for block, log_prob, _, _, _ in _blocks(patterns, means, covariances):
        out[patterns.order[block]] = log_prob
    return out


def expected_statistics(patterns: MissingPatterns, weights: np.ndarray, means: np.ndarray,
                        covariances: np.ndarray, sample_weight: np.ndarray | None = None,
                        log_penalty: np.ndarray | None = None) -> tuple[np.ndarray, WeightedMoments]:
    """E-step of a Gaussian mixture with missing entries, summed into the M-step's statistics.

    With ``x_hat`` a row whose missing entries are filled in by their conditional mean under
    component ``k``, and ``C`` the conditional covariance of the missing block,
    ``E[x] = x_hat`` and ``E[(x - a)(x - a)^T] = (x_hat - a)(x_hat - a)^T + C`` (``C`` in the
    missing block, zeros elsewhere). These are weighted by the responsibilities, computed from the
    observed entries.

    Parameters
    ----------
    patterns : MissingPatterns
    weights : ndarray of shape (K,)
        Mixing weights (``[1.0]`` for a single Gaussian).
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D) or (D, D)
        Full matrices, or one shared matrix (tied).
    sample_weight : ndarray of shape (N,), optional
        Frequency weight of each row.
    log_penalty : ndarray of shape (K,), optional
        Added to each component's log-density before the responsibilities are formed: the
        per-observation penalty of a regularised objective (see
        :meth:`emlib.distributions.Gaussian.log_penalty`). ``log_evidence`` includes it.

    Returns
    -------
    log_evidence : ndarray of shape (N,)
        ``log p(x_o)`` of every row: the log-likelihood is their (weighted) sum.
    statistics : WeightedMoments
        Totals ``N_k = sum_n w_n r_nk`` and the expected moments about the current means,
        ``sum_n w_n r_nk E[x_n - mu_k | x_o, k]`` and
        ``sum_n w_n r_nk E[(x_n - mu_k)(x_n - mu_k)^T | x_o, k]`` (the conditional covariance of the
        missing entries included): what :meth:`emlib.distributions.Gaussian.fit_statistics` takes,
        exactly as from complete data.
    """
    means = np.asarray(means, dtype=np.float64)
    K, D = means.shape
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(weights, dtype=np.float64))
    if log_penalty is not None:
        log_weights = log_weights + log_penalty
    log_evidence = np.empty(patterns.n_samples)
    totals = np.zeros(K)
    # Moments about the current means: they are inside the data, so little cancels.
    first = np.zeros((K, D))
    second = np.zeros((K, D, D))
    for block, log_prob, deviations, which, factors in _blocks(patterns, means, covariances, True):
        resp, log_evidence[patterns.order[block]] = normalize_log_rows(log_prob + log_weights)
        if sample_weight is not None:
            resp = resp * sample_weight[patterns.order[block], None]
        for k, d in enumerate(deviations):
            f = factors[k if len(factors) > 1 else 0]
            r = resp[:, k]
            filled = d + _rows_times(f.gain, which, d, transpose=False)  # E[x | x_o, k] - mu_k
            totals[k] += r.sum()
            first[k] += r @ filled
            second[k] += (filled * r[:, None]).T @ filled
            per_pattern = np.bincount(which, weights=r, minlength=len(f.gain))
            second[k] += np.tensordot(per_pattern, f.conditional_covariance, axes=1)
    return log_evidence, WeightedMoments(totals, means.copy(), first, 0.5 * (second + np.swapaxes(second, 1, 2)))


def conditional_means(patterns: MissingPatterns, weights: np.ndarray, means: np.ndarray,
                      covariances: np.ndarray) -> np.ndarray:
    """Each row with its missing entries replaced by their conditional mean given the observed ones.

    For a mixture, ``E[x_m | x_o] = sum_k p(k | x_o) (mu_{k,m} + B_k (x_o - mu_{k,o}))`` with
    ``B_k = Sigma_{k,mo} Sigma_{k,oo}^{-1}``.

    Parameters
    ----------
    patterns : MissingPatterns
    weights : ndarray of shape (K,)
        Mixing weights (``[1.0]`` for a single Gaussian).
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D) or (D, D)

    Returns
    -------
    ndarray of shape (N, D)
        Observed entries unchanged, missing ones filled in; rows in the order of the data.
    """
    means = np.asarray(means, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(weights, dtype=np.float64))
    filled = np.empty((patterns.n_samples, patterns.n_features))
    for block, log_prob, deviations, which, factors in _blocks(patterns, means, covariances, True):
        posterior, _ = normalize_log_rows(log_prob + log_weights)
        estimate = np.zeros_like(deviations[0])
        for k, d in enumerate(deviations):
            f = factors[k if len(factors) > 1 else 0]
            estimate += posterior[:, k, None] * (means[k] + d + _rows_times(f.gain, which, d, False))
        observed = patterns.observed[block]
        filled[patterns.order[block]] = np.where(observed, patterns.zero_filled[block], estimate)
    return filled


class ObservedGaussian:
    """Gaussian components that score rows with missing entries by their observed entries only.

    Wraps a :class:`~emlib.distributions.Gaussian`; ``log_prob(X)`` is :func:`observed_log_prob`,
    so it can stand in for the components wherever only ``log_prob`` is needed (the E-step of a
    mixture, :func:`emlib.mixture.responsibilities`).
    """

    def __init__(self, components: Gaussian):
        self.components = components

    def covariance_stack(self) -> np.ndarray:
        """Full covariance matrices (K, D, D), or the one shared (D, D) matrix of tied components."""
        return _covariance_stack(self.components)

    def log_prob(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``log N(x_o | mu_{k,o}, Sigma_{k,oo})`` for every row and component: shape (N, K), copied
        into ``out`` if given."""
        patterns = MissingPatterns(X)
        if out is not None:
            output_array(out, (patterns.n_samples, self.components.n_components))
        result = observed_log_prob(patterns, self.components.means, self.covariance_stack())
        if out is None:
            return result
        out[...] = result
        return out
