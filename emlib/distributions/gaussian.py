"""Gaussian components (full, diagonal, spherical or tied covariances) for mixtures and HMMs."""

from __future__ import annotations

import math
import warnings

import numpy as np

from emlib._math import invert_lower_triangular
from emlib._unconstrained import (
    check_vector,
    cholesky_from_vector,
    cholesky_to_vector,
    exp_scales,
)
from emlib._validation import (
    as_numeric_array,
    check_choice,
    check_data,
    check_nonnegative_float,
)
from emlib.distributions._empty import empty_components
from emlib.distributions._statistics import (
    WeightedMoments,
    WeightedSums,
    _check_fixed,
    _check_weighted,
    check_rows,
)
from emlib.exceptions import DegenerateComponentWarning

__all__ = ["COVARIANCE_TYPES", "Gaussian", "covariance_shape"]

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")

_LOG_2PI = math.log(2.0 * math.pi)
# Rows per block in log_prob and fit: the temporaries of one block stay in cache and memory stays
# flat however long the data.
_BLOCK_ROWS = 2048
# Moments about one centre lose about log10(offset^2 / variance) digits to cancellation; beyond this
# ratio a diagonal variance is recomputed about its own component mean.
_CANCELLATION_LIMIT = 1e4
# Beyond this ratio of squared offset (from the centre of the means) to variance, the expanded
# diagonal quadratic form loses more than about 1e-10 in absolute terms: score directly instead.
_EXPANSION_LIMIT = 1e6
# A Cholesky pivot this small relative to its diagonal entry is round-off: the matrix is singular.
_SINGULAR_RTOL = 1e-13


def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple[int, ...]:
    """Shape of the ``covariances`` array for a covariance type (the scikit-learn convention).

    ``(K, D, D)`` for ``"full"``, ``(K, D)`` for ``"diag"``, ``(K,)`` for ``"spherical"`` and
    ``(D, D)`` for ``"tied"``.
    """
    check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
    return {
        "full": (n_components, n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
        "tied": (n_features, n_features),
    }[covariance_type]


class Gaussian:
    """``K`` multivariate normal components sharing one covariance structure.

    Parameters
    ----------
    means : array-like of shape (K, D)
        Component means.
    covariances : array-like
        Shape (K, D, D) for ``"full"``, (K, D) for ``"diag"`` (variances), (K,) for ``"spherical"``
        (one variance per component), (D, D) for ``"tied"`` (one matrix shared by all components).
        Must be symmetric positive definite (positive, for variances).
    covariance_type : {"full", "diag", "spherical", "tied"}
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance that :meth:`fit` estimates, keeping it positive
        definite when a component collapses onto a point.

    Notes
    -----
    Densities are evaluated through the lower Cholesky factor ``L`` of each covariance: with
    ``P = L^{-T}`` (from a triangular solve; no covariance matrix is ever inverted) the squared
    Mahalanobis distance is ``|(x - mu) P|^2`` and ``log det(cov) = 2 sum(log diag(L))``. Diagonal
    and spherical components expand ``sum((x - mu)^2 / var)`` into matrix products about a centre
    inside the data, which keeps the cancellation in the expansion small.
    """

    parameter_names = ("means", "covariances")

    def __init__(self, means, covariances, covariance_type: str = "full", reg_covar: float = 1e-6):
        self.covariance_type = check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
        self.reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
        try:
            means = np.array(means, dtype=np.float64, ndmin=2)
        except (TypeError, ValueError):
            raise ValueError("means must be an array of numbers of shape (K, D)") from None
        if means.ndim != 2 or 0 in means.shape or not np.all(np.isfinite(means)):
            raise ValueError(f"means must be a finite, non-empty array of shape (K, D), got shape {means.shape}")
        self._means = means
        self.covariances = covariances  # validates and factorises

    # -- parameters -------------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of components ``K``."""
        return self._means.shape[0]

    @property
    def n_features(self) -> int:
        """Dimension ``D`` of each sample."""
        return self._means.shape[1]

    @property
    def means(self) -> np.ndarray:
        """Component means, shape (K, D)."""
        return self._means

    @means.setter
    def means(self, value) -> None:
        value = np.array(value, dtype=np.float64)
        if value.shape != self._means.shape or not np.all(np.isfinite(value)):
            raise ValueError(f"means must be a finite array of shape {self._means.shape}")
        self._means = value

    @property
    def covariances(self) -> np.ndarray:
        """Covariances in the shape that ``covariance_type`` implies (see :func:`covariance_shape`).

        Read-only: assign a new array to change them, so that their Cholesky factors follow.
        """
        return self._covariances

    @covariances.setter
    def covariances(self, value) -> None:
        value = self.check_covariances(
            value, self.covariance_type, self.n_components, self.n_features, name="covariances",
            context=f" to match means of shape {self._means.shape}",
        )
        self._set_covariances(value, fitting=False)

    @staticmethod
    def check_covariances(value, covariance_type: str, n_components: int, n_features: int,
                          name: str = "covariances", context: str = "") -> np.ndarray:
        """Validate covariances given by a user; errors name ``name``.

        Returns the covariances as a float array of the shape :func:`covariance_shape` gives.
        Raises ``ValueError`` for a wrong shape, non-finite entries, non-positive variances and
        matrices that are not symmetric or not positive definite. ``context`` is added to the shape
        message (what the shape follows from).
        """
        expected = covariance_shape(covariance_type, n_components, n_features)
        value = as_numeric_array(value, name).astype(np.float64)
        if value.shape != expected:
            raise ValueError(
                f"{name} for covariance_type={covariance_type!r} must have shape {expected}{context}, "
                f"got {value.shape}"
            )
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if covariance_type in ("diag", "spherical"):
            if np.any(value <= 0):
                raise ValueError(f"{name} must be positive for covariance_type={covariance_type!r}")
            return value
        matrices = value if covariance_type == "full" else value[None]
        for k, matrix in enumerate(matrices):
            where = f"{name}[{k}]" if covariance_type == "full" else name
            scale = np.abs(matrix).max()
            if not np.allclose(matrix, matrix.T, rtol=1e-8, atol=1e-12 * scale):
                raise ValueError(f"{where} is not symmetric")
            if _cholesky(matrix[None]) is None:
                raise ValueError(f"{where} is not positive definite")
        return value

    def _set_covariances(self, covariances: np.ndarray, fitting: bool) -> None:
        """Store covariances with their Cholesky factors (full, tied) and precisions.

        During fitting a covariance that round-off or ``reg_covar=0`` left singular gets the
        smallest diagonal jitter that makes it positive definite, and a warning; the jittered
        matrix is what is stored, so ``covariances`` always matches the factors in use.
        """
        ctype = self.covariance_type
        if ctype in ("diag", "spherical"):
            if fitting and np.any(covariances <= 0):
                covariances = _jitter_variances(covariances, self.reg_covar)
            self._store_covariances(covariances)
            self._cholesky = None
            self._precision_cholesky = None
            return
        matrices = covariances if ctype == "full" else covariances[None]
        factors = _cholesky(matrices)
        if factors is None:  # some matrix is singular; find which and mend it
            if not fitting:  # user values were checked; only reachable through round-off
                raise ValueError("covariances are not positive definite")
            matrices = matrices.copy()
            factors = np.empty_like(matrices)
            for k, matrix in enumerate(matrices):
                factor = _cholesky(matrix[None])
                if factor is None:
                    matrices[k], factors[k] = _jittered_cholesky(matrix, k, self.reg_covar)
                else:
                    factors[k] = factor[0]
            covariances = matrices if ctype == "full" else matrices[0]
        self._store_covariances(covariances)
        self._cholesky = factors if ctype == "full" else factors[0]
        # P_k = L_k^{-T}: whitens x - mu_k so that |(x - mu_k) P_k|^2 is the Mahalanobis distance.
        self._precision_cholesky = np.ascontiguousarray(
            np.swapaxes(invert_lower_triangular(factors), -1, -2)
        )

    def _store_covariances(self, covariances: np.ndarray) -> None:
        # Read-only: an edit in place would bypass the factorisation; assign to covariances instead.
        covariances.flags.writeable = False
        self._covariances = covariances

    def full_covariances(self) -> np.ndarray:
        """Covariances expanded to full matrices, shape (K, D, D)."""
        K, D = self.n_components, self.n_features
        cov = self._covariances
        if self.covariance_type == "full":
            return cov.copy()
        if self.covariance_type == "tied":
            return np.broadcast_to(cov, (K, D, D)).copy()
        return self._diagonal_variances()[:, :, None] * np.eye(D)

    @property
    def precisions_cholesky(self) -> np.ndarray:
        """``P = L^{-T}`` with ``L`` the lower Cholesky factor of each covariance, shape (K, D, D).

        ``P_k P_k^T`` is the precision (inverse covariance) of component ``k``; scikit-learn calls
        the same matrices ``precisions_cholesky_``.
        """
        if self._precision_cholesky is not None:
            return np.broadcast_to(self._precision_cholesky, (self.n_components,) + (self.n_features,) * 2)
        return (1.0 / np.sqrt(self._diagonal_variances()))[:, :, None] * np.eye(self.n_features)

    @property
    def n_parameters(self) -> int:
        """Number of free parameters (means and covariances)."""
        K, D = self.n_components, self.n_features
        n_cov = {
            "full": K * D * (D + 1) // 2,
            "diag": K * D,
            "spherical": K,
            "tied": D * (D + 1) // 2,
        }[self.covariance_type]
        return K * D + n_cov

    # -- one vector of unconstrained parameters (accelerated EM) ---------------------------------
    def get_vector(self, fixed=()) -> np.ndarray:
        """The parameters not in ``fixed`` as one vector of unconstrained coordinates, shape (P,).

        The means as they are (K D), then the covariances: for full and tied ones each lower
        Cholesky factor, its strictly lower entries as they are and its diagonal by the logarithm
        (D (D + 1) / 2 per matrix); for diag and spherical ones the logarithms of the variances.
        Any finite vector of that length describes valid parameters (unless they overflow), so an
        accelerated EM loop can extrapolate along it; :meth:`set_vector` maps it back.
        """
        fixed = self._check_fixed(fixed)
        parts = []
        if "means" not in fixed:
            parts.append(self._means.ravel())
        if "covariances" not in fixed:
            if self.covariance_type == "full":
                parts.append(cholesky_to_vector(self._cholesky))
            elif self.covariance_type == "tied":
                parts.append(cholesky_to_vector(self._cholesky[None]))
            else:
                parts.append(np.log(self._covariances).ravel())
        return np.concatenate(parts) if parts else np.empty(0)

    def set_vector(self, vector, fixed=()) -> Gaussian:
        """Set the parameters not in ``fixed`` from :meth:`get_vector`'s coordinates, in place.

        Raises ``ValueError`` (and changes nothing) for a vector of the wrong length, with
        non-finite entries, or describing covariances that overflow or are numerically singular.
        """
        fixed = self._check_fixed(fixed)
        K, D = self.n_components, self.n_features
        n_means = 0 if "means" in fixed else K * D
        n_covariances = 0 if "covariances" in fixed else self.n_parameters - K * D
        vector = check_vector(vector, n_means + n_covariances, "vector")
        rest = vector[n_means:]
        if n_covariances and self.covariance_type in ("full", "tied"):
            n = K if self.covariance_type == "full" else 1
            matrices, factors, precision_factors = cholesky_from_vector(rest, n, D, "vector")
        elif n_covariances:
            variances = exp_scales(rest, "vector")
        if n_means:
            self._means = vector[:n_means].reshape(K, D).copy()
        if not n_covariances:
            return self
        if self.covariance_type == "full":
            self._store_covariances(matrices)
            self._cholesky, self._precision_cholesky = factors, precision_factors
        elif self.covariance_type == "tied":
            self._store_covariances(matrices[0])
            self._cholesky, self._precision_cholesky = factors[0], precision_factors
        else:
            self._store_covariances(variances.reshape(covariance_shape(self.covariance_type, K, D)))
            self._cholesky = self._precision_cholesky = None
        return self

    # -- E-step side ------------------------------------------------------------------------------
    @staticmethod
    def check_data(X, name: str = "X", allow_nan: bool = False, nan_hint: str = "") -> np.ndarray:
        """Validate data for this family: a finite 1-D or 2-D numeric array (as (N, D) floats)."""
        return check_data(X, name, allow_nan=allow_nan, nan_hint=nan_hint)

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log-density of each row of ``X`` (N, D) under each component: array of shape (N, K)."""
        X = np.ascontiguousarray(check_rows(X, self.n_features))
        n, D = X.shape
        K = self.n_components
        out = np.empty((n, K))
        rows = min(n, _BLOCK_ROWS)
        # Centre the data on the mean of the means: the products below then cancel little.
        centre = self._means.mean(axis=0)
        centred = _CentredBlocks(X, centre)
        constant = np.tile(self._log_norm_const(), rows)  # one copy per row, for a flat addition
        if self.covariance_type in ("diag", "spherical"):
            # With y = x - c, m = mu_k - c and v the variances of component k:
            # -sum((y - m)^2 / v) / 2 = y^2 @ (-1 / 2v) + y @ (m / v) - sum(m^2 / v) / 2.
            precisions = 1.0 / self._diagonal_variances()  # (K, D)
            m = self._means - centre
            quadratic, linear = -0.5 * precisions.T, (m * precisions).T  # (D, K) each
            constant += np.tile(-0.5 * np.sum(m * m * precisions, axis=1), rows)
            squares, term = np.empty((rows, D)), np.empty((rows, K))
            for block, y in centred:
                o, y2 = out[block], squares[: len(y)]
                np.square(y, out=y2)
                np.matmul(y2, quadratic, out=o)
                o += np.matmul(y, linear, out=term[: len(y)])
                _add_flat(o, constant)
            # The expansion cancels about eps * m^2 / v in absolute terms: for a component far from
            # the centre with a tiny variance (a collapse held by reg_covar) that is visible in the
            # log-likelihood. Such components are scored directly.
            far = np.flatnonzero(np.max(m * m * precisions, axis=1) > _EXPANSION_LIMIT)
            log_norm = self._log_norm_const()
            for k in far:
                for start in range(0, n, _BLOCK_ROWS):
                    d = X[start:start + _BLOCK_ROWS] - self._means[k]
                    out[start:start + _BLOCK_ROWS, k] = (d * d) @ (-0.5 * precisions[k]) + log_norm[k]
            return out
        # y @ P_k - (mu_k - c) @ P_k = (x - mu_k) P_k for all k side by side, shape (n, K D); the
        # squared coordinates of each component summed by a matrix product with a block of ones.
        P = np.broadcast_to(self.precisions_cholesky, (K, D, D))
        stacked = P.transpose(1, 0, 2).reshape(D, K * D)
        shift = np.tile(np.einsum("kd,kde->ke", self._means - centre, P).reshape(K * D), rows)
        summing = -0.5 * np.repeat(np.eye(K), D, axis=0)  # (K D, K)
        whitened = np.empty((rows, K * D))
        for block, y in centred:
            w, o = whitened[: len(y)], out[block]
            np.matmul(y, stacked, out=w)
            _add_flat(w, shift, sign=-1.0)
            np.square(w, out=w)
            np.matmul(w, summing, out=o)
            _add_flat(o, constant)
        return out

    def _diagonal_variances(self) -> np.ndarray:
        if self.covariance_type == "diag":
            return self._covariances
        return np.repeat(self._covariances[:, None], self.n_features, axis=1)

    def _log_norm_const(self) -> np.ndarray:
        """-D/2 log(2 pi) - 1/2 log det(cov) for each component, shape (K,)."""
        D = self.n_features
        if self.covariance_type in ("full", "tied"):
            L = self._cholesky if self.covariance_type == "full" else self._cholesky[None]
            half_log_det = np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
            half_log_det = np.broadcast_to(half_log_det, (self.n_components,))
        else:
            half_log_det = 0.5 * np.log(self._diagonal_variances()).sum(axis=1)
        return -0.5 * D * _LOG_2PI - half_log_det

    def log_penalty(self) -> np.ndarray:
        """The per-observation penalty of the objective that EM with ``reg_covar`` climbs, shape (K,).

        ``-reg_covar * tr(inv(Sigma_k)) / 2`` for each component (zeros when ``reg_covar`` is 0).
        Adding ``reg_covar`` to the diagonal of the weighted covariance is the exact maximiser of
        the expected complete-data log-likelihood in which each log-density carries this term:
        it is the expected log-density of the observation blurred by noise ``N(0, reg_covar I)``,
        ``E_u[log N(x + u | mu, Sigma)] = log N(x | mu, Sigma) - reg_covar tr(inv(Sigma)) / 2``.
        An E-step that adds it to :meth:`log_prob` makes EM climb that objective exactly (never a
        decrease); the estimators do so while fitting, and report the plain log-likelihood in
        ``score``.
        """
        if self.reg_covar == 0:
            return np.zeros(self.n_components)
        if self.covariance_type in ("full", "tied"):
            # tr(inv(Sigma)) = |P|_F^2 for P = L^{-T}, since inv(Sigma) = P P^T.
            trace = np.einsum("...ij,...ij->...", self._precision_cholesky, self._precision_cholesky)
            trace = np.broadcast_to(trace, (self.n_components,))
        else:
            trace = np.sum(1.0 / self._diagonal_variances(), axis=1)
        return -0.5 * self.reg_covar * trace

    # -- M-step side ------------------------------------------------------------------------------
    def statistics(self, X: np.ndarray, weights: np.ndarray) -> WeightedMoments:
        """Weighted sufficient statistics of ``X`` for each component: what the M-step needs.

        Parameters
        ----------
        X : ndarray of shape (N, D)
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component (responsibilities or state
            posteriors, times any frequency weights). Any memory layout; column-major (the
            transpose of a C-contiguous (K, N) array) is the fastest.

        Returns
        -------
        WeightedMoments
            Totals (K,), and first and second moments about a centre per component: the full
            (K, D, D) second moments for full and tied covariances, their diagonals (K, D) for diag
            and spherical ones. Statistics of disjoint sets of rows add up (``a + b``) to those of
            their union, whatever centres each was taken about.

        Notes
        -----
        Full and tied: the centres are the weighted means, found first, and the second moments
        are taken about them block by block (no cancellation between large moments). Diagonal and
        spherical: the moments of all components come from two matrix products per block about
        one centre inside the data (the mean of the current means); a component so far from it
        that the variance would lose more than about four digits is recomputed about its own mean.
        """
        X, weights = self._check_weighted_data(X, weights)
        totals = weights.sum(axis=0)  # (K,)
        active = totals > 0
        safe_totals = np.where(active, totals, 1.0)
        if self.covariance_type in ("diag", "spherical"):
            centres, first, second = _diagonal_moments(X, weights, totals, self._means)
        else:
            centres = (weights.T @ X) / safe_totals[:, None]
            centres[~active] = self._means[~active]
            first = np.zeros_like(centres)
            second = _weighted_scatter(X, weights, centres, active)
        return WeightedMoments(totals, centres, first, second)

    def fit_statistics(self, statistics: WeightedMoments, fixed=()) -> Gaussian:
        """The M-step from weighted sufficient statistics, in place: the maximiser given them.

        ``mu_k`` is the weighted mean; the covariances follow ``covariance_type``: ``S_k / N_k``
        (full) for the scatter ``S_k`` about the mean, its diagonal (diag) or the mean of the
        diagonal (spherical), or ``sum_k S_k / sum_k N_k`` (tied); ``reg_covar`` is added to every
        diagonal. With ``fixed=("means",)`` the scatter is taken about the current means.

        Parameters
        ----------
        statistics : WeightedMoments
            From :meth:`statistics`, sums of them, or expected statistics computed another way
            (EM with missing entries, :mod:`emlib.mixture.missing`). Diagonal-only moments serve
            diag and spherical covariances only.
        fixed : collection of str
            Parameter names (``"means"``, ``"covariances"``) to leave unchanged.

        Returns
        -------
        self

        Warns
        -----
        emlib.exceptions.DegenerateComponentWarning
            When a component receives no weight (it keeps its parameters). A component that
            collapses onto a point or a line is held positive definite by ``reg_covar`` without a
            warning, since EM often passes through such states; ask :meth:`collapsed_components`
            about the final fit (the estimators do, and warn).
        """
        fixed = self._check_fixed(fixed)
        stats = self._check_statistics(statistics)
        empty = empty_components(stats.totals)
        if "means" in fixed:
            means = self._means
            scatter = stats.about(means).second
        else:
            means = stats.means
            means[empty] = self._means[empty]
            scatter = stats.scatter() if "covariances" not in fixed else None
        if "covariances" not in fixed:
            covariances = self._covariances_from_scatter(scatter, np.where(empty, 1.0, stats.totals), empty)
        self._means = means
        if "covariances" not in fixed:
            self._set_covariances(covariances, fitting=True)
        return self

    def fit(self, X: np.ndarray, weights: np.ndarray, fixed=()) -> Gaussian:
        """Weighted maximum-likelihood update of every component, in place.

        The shortcut for ``fit_statistics(statistics(X, weights), fixed)``.

        Parameters
        ----------
        X : ndarray of shape (N, D)
        weights : ndarray of shape (N, K)
            Non-negative weight of each sample for each component (responsibilities or state
            posteriors, times any frequency weights).
        fixed : collection of str
            Parameter names (``"means"``, ``"covariances"``) to leave unchanged.

        Returns
        -------
        self

        Warns
        -----
        emlib.exceptions.DegenerateComponentWarning
            When a component receives no weight (it keeps its parameters).
        """
        fixed = self._check_fixed(fixed)
        if "covariances" in fixed:  # only the means move: their sums are enough
            X, weights = self._check_weighted_data(X, weights)
            if "means" not in fixed:
                totals = weights.sum(axis=0)
                empty = empty_components(totals)
                self._means = WeightedSums(totals, weights.T @ X).means(empty, self._means)
            return self
        return self.fit_statistics(self.statistics(X, weights), fixed)

    def _check_fixed(self, fixed) -> frozenset:
        return _check_fixed(fixed, self.parameter_names)

    def _check_weighted_data(self, X, weights) -> tuple[np.ndarray, np.ndarray]:
        return _check_weighted(X, weights, self.n_features, self.n_components)

    def _check_statistics(self, statistics) -> WeightedMoments:
        if not isinstance(statistics, WeightedMoments):
            raise TypeError(
                "statistics must be the WeightedMoments that Gaussian.statistics returns, got "
                f"{type(statistics).__name__}"
            )
        K, D = self.n_components, self.n_features
        diagonal = statistics.diagonal_only
        expected = (K, D) if diagonal else (K, D, D)
        if statistics.totals.shape != (K,) or statistics.first.shape != (K, D) or statistics.second.shape != expected:
            raise ValueError(
                f"statistics do not fit {K} components of {D} features: totals {statistics.totals.shape}, "
                f"first {statistics.first.shape}, second {statistics.second.shape}"
            )
        if diagonal and self.covariance_type in ("full", "tied"):
            raise ValueError(
                f"covariance_type={self.covariance_type!r} needs full second moments; these hold "
                "only their diagonals"
            )
        return statistics

    def _covariances_from_scatter(self, scatter, totals, empty) -> np.ndarray:
        """Covariances of this type from the scatter (K, D, D) or its diagonals (K, D), and totals (K,)."""
        D = self.n_features
        ctype = self.covariance_type
        if ctype == "tied":
            covariance = scatter[~empty].sum(axis=0) / totals[~empty].sum()
            covariance.flat[:: D + 1] += self.reg_covar
            return covariance
        if ctype in ("diag", "spherical"):
            diagonal = scatter if scatter.ndim == 2 else np.diagonal(scatter, axis1=1, axis2=2)
            variances = np.maximum(diagonal / totals[:, None], 0.0) + self.reg_covar
            if ctype == "spherical":
                variances = variances.mean(axis=1)
            variances[empty] = self._covariances[empty]
            return variances
        covariances = scatter / totals[:, None, None]
        diagonal = np.arange(D)
        covariances[:, diagonal, diagonal] += self.reg_covar
        covariances[empty] = self._covariances[empty]
        return covariances

    def collapsed_components(self) -> np.ndarray:
        """Components whose variance along some direction is mostly ``reg_covar``, int (n,).

        Such a component has collapsed onto (nearly) a single point or a lower-dimensional set:
        without ``reg_covar`` its covariance would be (nearly) singular. With ``reg_covar=0`` the
        answer is empty (a singular covariance is jittered, and reported, as it happens).
        """
        if self.reg_covar == 0:
            return np.empty(0, dtype=np.intp)
        if self.covariance_type in ("full", "tied"):
            # The smallest eigenvalue is the variance along the flattest direction, whichever way
            # the collapsed set is oriented (Cholesky pivots would only see the features' order).
            matrices = self._covariances if self.covariance_type == "full" else self._covariances[None]
            smallest = np.linalg.eigvalsh(matrices)[:, 0]
        else:
            smallest = self._diagonal_variances().min(axis=1)
        return np.flatnonzero(smallest < 2.0 * self.reg_covar)

    def warn_if_collapsed(self, stacklevel: int = 2) -> None:
        """Warn (``DegenerateComponentWarning``) about :meth:`collapsed_components`, if any.

        ``stacklevel=1`` points the warning at the line calling this method; an estimator's ``fit``
        passes 2, to point at its own caller.
        """
        collapsed = self.collapsed_components()
        if collapsed.size:
            which = "the tied covariance" if self.covariance_type == "tied" else (
                f"component(s) {collapsed.tolist()}")
            warnings.warn(
                f"{which} collapsed onto (nearly) a single point or a lower-dimensional set; its "
                f"variance along some direction is mostly reg_covar={self.reg_covar:g}. Consider "
                "fewer components, a larger reg_covar, or removing duplicate rows.",
                DegenerateComponentWarning,
                stacklevel=stacklevel + 1,
            )

    # -- generation -------------------------------------------------------------------------------
    def sample(self, components: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One draw from component ``components[i]`` for each i: array of shape (len(components), D)."""
        components = np.asarray(components, dtype=np.intp).reshape(-1)
        if components.size and (components.min() < 0 or components.max() >= self.n_components):
            raise ValueError(f"components must be integers in [0, {self.n_components})")
        z = rng.standard_normal((components.size, self.n_features))
        if self.covariance_type in ("diag", "spherical"):
            return self._means[components] + z * np.sqrt(self._diagonal_variances())[components]
        if self.covariance_type == "tied":
            return self._means[components] + z @ self._cholesky.T
        out = np.empty_like(z)
        for k in range(self.n_components):
            rows = components == k
            out[rows] = self._means[k] + z[rows] @ self._cholesky[k].T
        return out

    def __repr__(self) -> str:
        return (f"Gaussian(n_components={self.n_components}, n_features={self.n_features}, "
                f"covariance_type={self.covariance_type!r})")


def _weighted_scatter(X: np.ndarray, weights: np.ndarray, means: np.ndarray,
                      active: np.ndarray) -> np.ndarray:
    """``sum_n weights[n, k] (x_n - mu_k)(x_n - mu_k)^T`` for each active k, shape (K, D, D)."""
    K, D = means.shape
    scatter = np.zeros((K, D, D))
    for k in np.flatnonzero(active):
        weighted = np.empty((min(X.shape[0], _BLOCK_ROWS), D))
        for block, d in _CentredBlocks(X, means[k]):
            wd = weighted[: len(d)]
            np.multiply(d, weights[block, k, None], out=wd)
            scatter[k] += wd.T @ d
    # The two triangles differ in round-off only; make them equal so the stored matrix is symmetric.
    scatter += np.swapaxes(scatter, 1, 2)
    scatter *= 0.5
    return scatter


def _diagonal_moments(X, weights, totals, current_means):
    """Centres (K, D), first and squared moments (K, D) about them, in one pass over ``X``.

    The moments of ``y = x - c`` about one centre ``c`` inside the data (the mean of the current
    means) come from two matrix products per block of rows, for every component at once. Any
    component so far from ``c`` that its variance ``E[(y - m)^2] = E[y^2] - m^2`` would lose more
    than about four digits to cancellation is recomputed about its own weighted mean.
    """
    D = X.shape[1]
    centre = current_means.mean(axis=0)
    moments = np.zeros((weights.shape[1], 2 * D))  # [sum w y, sum w y^2]
    squares = np.empty((min(X.shape[0], _BLOCK_ROWS), D))
    for block, y in _CentredBlocks(X, centre):
        y2 = squares[: len(y)]
        np.square(y, out=y2)
        w = weights[block].T
        moments[:, :D] += w @ y
        moments[:, D:] += w @ y2
    first, second = moments[:, :D].copy(), moments[:, D:].copy()
    centres = np.repeat(centre[None], weights.shape[1], axis=0)
    active = totals > 0
    safe = np.where(active, totals, 1.0)[:, None]
    offsets = first / safe
    variances = np.maximum(second / safe - offsets**2, np.finfo(np.float64).tiny)
    suspect = np.any(offsets**2 > _CANCELLATION_LIMIT * variances, axis=1) & active
    for k in np.flatnonzero(suspect):
        centres[k] = centre + offsets[k]
        deviations = X - centres[k]
        first[k] = weights[:, k] @ deviations
        second[k] = weights[:, k] @ np.square(deviations)
    return centres, first, second


class _CentredBlocks:
    """Iterate over blocks of rows of ``X`` (N, D) as ``(rows, X[rows] - centre)``.

    The centred block is a contiguous (n, D) array, reused from one block to the next. The
    subtraction runs on flat 1-D views against the centre repeated once per row: NumPy broadcasts
    over a short row slowly, along a long vector fast.
    """

    def __init__(self, X: np.ndarray, centre: np.ndarray):
        self.X = np.ascontiguousarray(X)
        rows = min(X.shape[0], _BLOCK_ROWS)
        self.tiled_centre = np.tile(centre, rows)
        self.buffer = np.empty((rows, X.shape[1]))

    def __iter__(self):
        n = self.X.shape[0]
        for start in range(0, n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n)
            y = self.buffer[: stop - start]
            np.subtract(self.X[start:stop].reshape(-1), self.tiled_centre[: y.size], out=y.reshape(-1))
            yield slice(start, stop), y


def _add_flat(block: np.ndarray, tiled: np.ndarray, sign: float = 1.0) -> None:
    """``block += sign * row`` for a C-contiguous (n, m) block, with ``tiled`` the row repeated."""
    if not block.flags.c_contiguous:  # reshape would copy, and the addition would be lost
        raise ValueError("_add_flat needs a C-contiguous block")
    flat = block.reshape(-1)
    if sign > 0:
        np.add(flat, tiled[: flat.size], out=flat)
    else:
        np.subtract(flat, tiled[: flat.size], out=flat)


def _cholesky(matrices: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factors of a stack of matrices (n, D, D), or None if one is not positive definite.

    "Not positive definite" includes numerically singular: a pivot ``L_ii^2`` (the variance of
    feature i left after regressing on the features before it) that is round-off compared with the
    variance ``A_ii`` itself.
    """
    try:
        factors = np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        return None
    pivots = np.square(np.diagonal(factors, axis1=-2, axis2=-1))
    if np.any(pivots <= _SINGULAR_RTOL * np.diagonal(matrices, axis1=-2, axis2=-1)):
        return None
    return factors


def _jittered_cholesky(matrix: np.ndarray, k: int, reg_covar: float) -> tuple[np.ndarray, np.ndarray]:
    """The smallest ``matrix + jitter I`` (jitter growing tenfold) with a Cholesky factor, and that factor."""
    D = matrix.shape[0]
    scale = max(np.trace(matrix) / D, 1.0)
    jitter = max(reg_covar, 1e-10 * scale)
    for _ in range(30):
        jittered = matrix + jitter * np.eye(D)
        factor = _cholesky(jittered[None])
        if factor is None:
            jitter *= 10.0
            continue
        warnings.warn(
            f"covariance of component {k} was singular; added {jitter:.3g} to its diagonal. "
            "Increase reg_covar to avoid this.",
            DegenerateComponentWarning,
            stacklevel=5,
        )
        return jittered, factor[0]
    raise FloatingPointError(f"covariance of component {k} could not be made positive definite")


def _jitter_variances(variances: np.ndarray, reg_covar: float) -> np.ndarray:
    """Replace non-positive variances (a component on a point, with ``reg_covar=0``) by a small one."""
    bad = variances <= 0
    positive = variances[~bad]
    jitter = max(reg_covar, 1e-10 * max(positive.mean() if positive.size else 1.0, 1.0))
    components = np.unique(np.nonzero(bad)[0]).tolist()
    warnings.warn(
        f"component(s) {components} have zero variance; set to {jitter:.3g}. Increase reg_covar "
        "to avoid this.",
        DegenerateComponentWarning,
        stacklevel=5,
    )
    variances = variances.copy()
    variances[bad] = jitter
    return variances
