"""Gaussian components (full, diagonal, spherical or tied covariances) for mixtures and HMMs."""

from __future__ import annotations

import functools
import math
import warnings
from typing import TYPE_CHECKING

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
    output_array,
)
from emlib.distributions._empty import empty_components
from emlib.distributions._statistics import (
    WeightedMoments,
    WeightedSums,
    _check_fixed,
    _check_weighted,
    check_finite,
    check_rows,
    check_sampling,
    not_finite,
)
from emlib.exceptions import DegenerateComponentWarning

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, FixedNames, RandomState

__all__ = ["COVARIANCE_TYPES", "Gaussian", "covariance_shape"]

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")

_LOG_2PI = math.log(2.0 * math.pi)
_TINY = float(np.finfo(np.float64).tiny)
# Rows per block in log_prob and fit: memory stays flat however long the data. Matrix kernels
# (full and tied covariances) take at least this many rows at a time, which keeps BLAS efficient
# (more when their rows are narrow, see _matrix_rows) ...
_BLOCK_ROWS = 2048
# ... and the memory-bound diagonal kernels as many as keep a block's working array in a core's
# L2 cache, so that what is done to a block after it is read from memory runs from the cache.
_CACHE_BYTES = 1 << 19
# No block is longer than this, however narrow its rows: with a few features, shorter blocks
# would spend their time in Python's loop over them rather than in NumPy.
_MAX_BLOCK_ROWS = 1 << 15
# A call of up to this many rows that fits in one block has its centre subtracted, and rows added
# to its blocks (_add_flat), by broadcasting; beyond, the row is repeated once per row and the
# arithmetic runs on flat vectors (see _CentredBlocks). Broadcasting costs about 13 ns per row
# (NumPy's loop over short rows), repeating a few microseconds and a pass: for one block of D = 2
# to 32 features they cross between 512 and 1024 rows (measured December 2026, 2-core machine).
_BROADCAST_ROWS = 512
# From this many features on, full and tied covariances whiten with BLAS's triangular product
# (scipy.linalg.blas, imported on first use): half the operations of a general matrix product.
_TRIANGULAR_MIN_FEATURES = 16
# Diagonal covariances: calls on at least this many entries of X (8 MB, more than a core's L2
# cache holds) run the compiled one-pass kernels (emlib.distributions._gaussian_kernels), which
# read X once where NumPy's matrix products read each block of it three or four times; smaller
# calls stay in NumPy, so that a small fit never waits for numba's import and first load (about
# 1.5 s per process) or its first compilation (a few seconds, once per environment). The
# log-densities are compiled for any number of components. The moments are sums that BLAS's
# matrix products compute well for many components, so (as measured) they are compiled only:
# per feature (diag) for at most two components, or at most _COMPILED_MOMENTS_COMPONENTS from
# _COMPILED_MOMENTS_FEATURES features on; traced (spherical) for at most
# _COMPILED_MOMENTS_COMPONENTS components, or any number from _COMPILED_TRACED_FEATURES on.
_COMPILED_MIN_ENTRIES = 1 << 20
_COMPILED_MOMENTS_COMPONENTS = 8
_COMPILED_MOMENTS_FEATURES = 16
_COMPILED_TRACED_FEATURES = 64
# The diagonal kernels expand about the origin (the data need no shifting) when every mean lies
# within sqrt(_ORIGIN_LIMIT) standard deviations of it in every feature: at most two digits are
# then lost to cancellation; otherwise about the mean of the means.
_ORIGIN_LIMIT = 1e2
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

    def __init__(self, means: ArrayLike, covariances: ArrayLike, covariance_type: str = "full",
                 reg_covar: float = 1e-6):
        self._set_settings_and_means(means, covariance_type, reg_covar)
        self.covariances = covariances  # validates and factorises

    @classmethod
    def _with_checked_covariances(cls, means: ArrayLike, covariances: np.ndarray, covariance_type: str,
                                  reg_covar: float) -> Gaussian:
        """``Gaussian(means, covariances, ...)`` for covariances that :meth:`check_covariances`
        returned for these means' shape (a start from ``covariances_init``, which the estimators check
        once per fit): factorised without being checked again."""
        gaussian = cls.__new__(cls)
        gaussian._set_settings_and_means(means, covariance_type, reg_covar)
        gaussian._set_covariances(covariances, fitting=False)
        return gaussian

    def _set_settings_and_means(self, means: ArrayLike, covariance_type: str, reg_covar: float) -> None:
        self.covariance_type = check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
        self.reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
        try:
            means = np.array(as_numeric_array(means, "means"), dtype=np.float64, ndmin=2)
        except (TypeError, ValueError):
            raise ValueError("means must be an array of numbers of shape (K, D)") from None
        if means.ndim != 2 or 0 in means.shape or not np.isfinite(means).all():
            raise ValueError(f"means must be a finite, non-empty array of shape (K, D), got shape {means.shape}")
        self._means = means

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
    def means(self, value: ArrayLike) -> None:
        value = np.array(as_numeric_array(value, "means"), dtype=np.float64)
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
    def covariances(self, value: ArrayLike) -> None:
        value = self.check_covariances(
            value, self.covariance_type, self.n_components, self.n_features, name="covariances",
            context=f" to match means of shape {self._means.shape}",
        )
        self._set_covariances(value, fitting=False)

    @staticmethod
    def check_covariances(value: ArrayLike, covariance_type: str, n_components: int, n_features: int,
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
        if not np.isfinite(value).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if covariance_type in ("diag", "spherical"):
            if (value <= 0).any():
                raise ValueError(f"{name} must be positive for covariance_type={covariance_type!r}")
            return value
        matrices = value if covariance_type == "full" else value[None]
        # All at once first (allclose's test, without its wrapper, and one stacked factorisation);
        # only a stack that fails is examined matrix by matrix, for the error that names the first.
        transposed = np.swapaxes(matrices, 1, 2)
        tolerance = 1e-12 * np.abs(matrices).max(axis=(1, 2))[:, None, None] + 1e-8 * np.abs(transposed)
        if (np.abs(matrices - transposed) <= tolerance).all() and _cholesky(matrices) is not None:
            return value
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
            if fitting and (covariances <= 0).any():
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
    def get_vector(self, fixed: FixedNames = ()) -> np.ndarray:
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

    def set_vector(self, vector: ArrayLike, fixed: FixedNames = ()) -> Gaussian:
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
    def check_data(X: ArrayLike, name: str = "X", allow_nan: bool = False, nan_hint: str = "") -> np.ndarray:
        """Validate data for this family: a finite 1-D or 2-D numeric array (as (N, D) floats)."""
        return check_data(X, name, allow_nan=allow_nan, nan_hint=nan_hint)

    def log_prob(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Log-density of each row of ``X`` (N, D) under each component: array of shape (N, K),
        written into ``out`` if given."""
        X = np.ascontiguousarray(check_rows(X, self.n_features, finite=False))
        out = output_array(out, (X.shape[0], self.n_components))
        if self.covariance_type in ("diag", "spherical"):
            return self._log_prob_diagonal(X, out)  # checks that X is finite
        check_finite(X)
        if self.covariance_type == "tied":
            return self._log_prob_tied(X, out)
        return self._log_prob_full(X, out)

    def _log_prob_diagonal(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        n, D = X.shape
        K = self.n_components
        variances = self._diagonal_variances()
        precisions = 1.0 / variances  # (K, D)
        centre = _expansion_centre(self._means, variances)  # None: the origin
        # With y = x - c, m = mu_k - c and v the variances of component k:
        # -sum((y - m)^2 / v) / 2 = y^2 @ (-1 / 2v) + y @ (m / v) - sum(m^2 / v) / 2.
        m = self._means if centre is None else self._means - centre
        log_norm = self._log_norm_const()
        spread = m * m * precisions  # squared offsets from the centre in standard deviations (K, D)
        constant = log_norm - 0.5 * spread.sum(axis=1)
        kernels = _compiled_kernels(n * D, K)
        if kernels is None:
            check_finite(X)
            _diagonal_log_prob(X, centre, m * precisions, precisions, constant,
                               self.covariance_type == "spherical", out)
        else:  # the kernels check that X is finite as they read it: 0.0 if so, else NaN
            kernel = kernels.spherical_log_prob if self.covariance_type == "spherical" else (
                kernels.diagonal_log_prob)
            quadratic = -0.5 * (precisions[:, 0] if self.covariance_type == "spherical" else precisions)
            if kernel(X, _origin_if_none(centre, D), m * precisions, quadratic, constant, out) != 0.0:
                raise not_finite("X")
        # The expansion cancels about eps * m^2 / v in absolute terms: for a component far from
        # the centre with a tiny variance (a collapse held by reg_covar) that is visible in the
        # log-likelihood. Such components are scored directly.
        far = np.flatnonzero(spread.max(axis=1) > _EXPANSION_LIMIT) if spread.max() > _EXPANSION_LIMIT else ()
        for k in far:
            for start in range(0, n, _BLOCK_ROWS):
                d = X[start:start + _BLOCK_ROWS] - self._means[k]
                out[start:start + _BLOCK_ROWS, k] = (d * d) @ (-0.5 * precisions[k]) + log_norm[k]
        return out

    def _log_prob_tied(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        # One covariance: whiten each row once, z = (x - c) P, then
        # |(x - mu_k) P|^2 = |z|^2 - 2 z.w_k + |w_k|^2 with w_k = (mu_k - c) P: one product for every
        # component. Centred on c, the mean of the means, the expansion cancels little.
        D = X.shape[1]
        K = self.n_components
        P = self._precision_cholesky[0]  # (D, D), upper triangular
        centre = self._means.mean(axis=0)
        whitened_means = (self._means - centre) @ P  # (K, D)
        offsets = np.sum(whitened_means**2, axis=1)
        log_norm = self._log_norm_const()
        blocks = _CentredBlocks(X, centre, _matrix_rows(2 * D + K))
        whiten = _Whitening(P, blocks.rows)
        constant = blocks.repeated(log_norm - 0.5 * offsets)
        norms = np.empty(blocks.rows)
        # As for diagonal covariances: a mean far from c (in its own standard deviations) is scored
        # directly, since the expansion would cancel about eps * |w_k|^2.
        far = np.flatnonzero(offsets > _EXPANSION_LIMIT)
        for block, y in blocks:
            z, o, r = whiten(y), out[block], norms[: len(y)]
            np.einsum("ij,ij->i", z, z, out=r)
            np.matmul(z, whitened_means.T, out=o)
            o -= 0.5 * r[:, None]
            _add_flat(o, constant)
            for k in far:
                d = z - whitened_means[k]
                np.einsum("ij,ij->i", d, d, out=r)
                np.multiply(r, -0.5, out=o[:, k])
                o[:, k] += log_norm[k]
        return out

    def _log_prob_full(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        D = X.shape[1]
        K = self.n_components
        P = self._precision_cholesky  # (K, D, D), P_k = L_k^{-T}
        log_norm = self._log_norm_const()
        if D >= _TRIANGULAR_MIN_FEATURES:
            # (x - mu_k) P_k by a triangular product per component: D^2 operations per row and
            # component, the least there is; the squares summed along each row.
            blocks = _CentredBlocks(X, None, _cache_rows(D))
            centred = np.empty((blocks.rows, D))
            whitenings = [_Whitening(P[k], blocks.rows) for k in range(K)]
            for block, x in blocks:
                y = centred[: len(x)]
                for k in range(K):
                    np.subtract(x, self._means[k], out=y)
                    z = whitenings[k](y)
                    np.einsum("ij,ij->i", z, z, out=out[block, k])
            out *= -0.5
            out += log_norm
            return out
        # Few features: y @ P_k - (mu_k - c) @ P_k = (x - mu_k) P_k for all k side by side, shape
        # (n, K D), from one matrix product about the mean of the means c; the squared coordinates
        # of each component summed by a matrix product with a block of ones (for few components)
        # or along each group of D columns.
        centre = np.add.reduce(self._means, axis=0) / K  # the mean of the means (np.mean's arithmetic)
        blocks = _CentredBlocks(X, centre, _matrix_rows((K + 1) * D))
        rows = blocks.rows
        stacked = P.transpose(1, 0, 2).reshape(D, K * D)
        shift = blocks.repeated(np.einsum("kd,kde->ke", self._means - centre, P).reshape(K * D))
        constant = blocks.repeated(log_norm)
        summing = _summing_matrix(K, D) if K <= 4 else None  # (K D, K)
        whitened = np.empty((rows, K * D))
        for block, y in blocks:
            w, o = whitened[: len(y)], out[block]
            np.matmul(y, stacked, out=w)
            _add_flat(w, shift, sign=-1.0)
            if summing is not None:
                np.square(w, out=w)
                np.matmul(w, summing, out=o)
            else:
                w3 = w.reshape(len(y), K, D)
                np.einsum("nkd,nkd->nk", w3, w3, out=o)
                o *= -0.5
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
            if self.covariance_type == "tied":  # one matrix for every component
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
            (K, D, D) second moments for full covariances, their sum over the components (D, D,
            ``pooled``) for tied ones, their diagonals (K, D) for diag ones and their traces
            (K,; ``traced``) for spherical ones.
            Statistics of disjoint sets of rows add up (``a + b``) to those of their union,
            whatever centres each was taken about.

        Notes
        -----
        Full: the centres are the weighted means, found first, and the second moments are taken
        about them block by block (no cancellation between large moments), by a symmetric rank-n
        update of the rows scaled by the square roots of their weights. Tied: the second moments
        pooled over the components (all a tied covariance needs) about one centre, the weighted
        mean of the data, from one rank-n update of the rows scaled by the square roots of their
        total weights. Diagonal and spherical: the moments of all components come from two matrix
        products per block about one centre (the origin, or the mean of the current means when
        the data lie far from the origin), the second a matrix-vector product of the squared norms
        of the rows for spherical ones; compiled kernels that read ``X`` once take large calls. In
        both cases a component so far from the common centre that its variance would lose more
        than about four digits is recomputed about its own mean.
        """
        diagonal = self.covariance_type in ("diag", "spherical")
        # The diagonal moments check that X is finite themselves (in their pass over it).
        X, weights, totals = _check_weighted(X, weights, self.n_features, self.n_components,
                                             finite_rows=not diagonal)
        if diagonal:
            centres, first, second = _diagonal_moments(X, weights, totals, self._means,
                                                       self._diagonal_variances(),
                                                       traced=self.covariance_type == "spherical")
            return WeightedMoments(totals, centres, first, second)
        if self.covariance_type == "tied":
            return _pooled_moments(X, weights, totals, self._means)
        active = totals > 0
        means = (weights.T @ X) / np.where(active, totals, 1.0)[:, None]
        means[~active] = self._means[~active]
        second = _weighted_scatter(X, weights, means, active)
        return WeightedMoments(totals, means, np.zeros_like(means), second)

    def fit_statistics(self, statistics: WeightedMoments, fixed: FixedNames = ()) -> Gaussian:
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
            diag and spherical covariances only; pooled ones tied covariances only.
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

    def fit(self, X: np.ndarray, weights: np.ndarray, fixed: FixedNames = ()) -> Gaussian:
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
            X, weights, totals = _check_weighted(X, weights, self.n_features, self.n_components)
            if "means" not in fixed:
                empty = empty_components(totals)
                self._means = WeightedSums(totals, weights.T @ X).means(empty, self._means)
            return self
        return self.fit_statistics(self.statistics(X, weights), fixed)

    def _check_fixed(self, fixed) -> frozenset:
        return _check_fixed(fixed, self.parameter_names)

    def _check_statistics(self, statistics) -> WeightedMoments:
        if not isinstance(statistics, WeightedMoments):
            raise TypeError(
                "statistics must be the WeightedMoments that Gaussian.statistics returns, got "
                f"{type(statistics).__name__}"
            )
        K, D = self.n_components, self.n_features
        diagonal = statistics.diagonal_only
        expected = ((K, D) if diagonal else (K,) if statistics.traced else (D, D) if statistics.pooled
                    else (K, D, D))
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
        if statistics.traced and self.covariance_type != "spherical":
            raise ValueError(
                f"covariance_type={self.covariance_type!r} needs more than the traces of the second "
                "moments that these hold (as a spherical covariance needs them)"
            )
        if statistics.pooled and self.covariance_type != "tied":
            raise ValueError(
                f"covariance_type={self.covariance_type!r} needs the second moments of each "
                "component; these are pooled over the components (as a tied covariance needs them)"
            )
        return statistics

    def _covariances_from_scatter(self, scatter, totals, empty) -> np.ndarray:
        """Covariances of this type from the scatter (K, D, D), its diagonals (K, D), (spherical) its
        traces (K,) or (tied) its sum over the components (D, D), and totals (K,)."""
        D = self.n_features
        ctype = self.covariance_type
        if ctype == "tied":
            pooled = scatter if scatter.ndim == 2 else scatter[~empty].sum(axis=0)
            covariance = pooled / totals[~empty].sum()
            covariance.flat[:: D + 1] += self.reg_covar
            return covariance
        if ctype in ("diag", "spherical"):
            diagonal = scatter if scatter.ndim < 3 else np.diagonal(scatter, axis1=1, axis2=2)
            if ctype == "spherical":  # the mean variance: the trace over D
                traces = diagonal if diagonal.ndim == 1 else diagonal.sum(axis=1)
                variances = np.maximum(traces / totals, 0.0) / D + self.reg_covar
            else:
                variances = np.maximum(diagonal / totals[:, None], 0.0) + self.reg_covar
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
    def sample(self, components: ArrayLike, rng: RandomState = None) -> np.ndarray:
        """One draw from component ``components[i]`` for each i: array of shape (len(components), D).

        ``components`` holds integer labels; ``rng`` is None, an int seed or a Generator."""
        components, rng = check_sampling(components, rng, self.n_components)
        components = components.reshape(-1)
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
    """``sum_n weights[n, k] (x_n - mu_k)(x_n - mu_k)^T`` for each active k, shape (K, D, D).

    Per block of rows and component, a symmetric rank-n update ``Y^T Y`` (NumPy hands it to
    BLAS's ``syrk``: half the operations of a general product, and an exactly symmetric result) of
    the rows of ``Y = sqrt(w) (x - mu_k)``. With fewer than ``_TRIANGULAR_MIN_FEATURES`` features
    the subtraction dominates and runs faster along the whole block than row by row (see
    :class:`_CentredBlocks`): one component at a time, over all the blocks; with more, the products
    dominate, and each block is used for every component while it is in the cache.
    """
    K, D = means.shape
    scatter = np.zeros((K, D, D))
    components = np.flatnonzero(active)
    if D < _TRIANGULAR_MIN_FEATURES:
        rows = _matrix_rows(D)
        for k in components:
            roots = np.sqrt(weights[:, k])
            for block, y in _CentredBlocks(X, means[k], rows):
                y *= roots[block, None]
                scatter[k] += y.T @ y
        return scatter
    blocks = _CentredBlocks(X, None, _matrix_rows(D + K))
    centred, roots = np.empty((blocks.rows, D)), np.empty((blocks.rows, K))
    for block, x in blocks:
        y, r = centred[: len(x)], roots[: len(x)]
        np.sqrt(weights[block], out=r)
        for k in components:
            np.subtract(x, means[k], out=y)
            y *= r[:, k, None]
            scatter[k] += y.T @ y
    return scatter


def _pooled_moments(X: np.ndarray, weights: np.ndarray, totals: np.ndarray,
                    current_means: np.ndarray) -> WeightedMoments:
    """Moments for a tied covariance: the second moments summed over the components, (D, D).

    About the weighted mean ``c`` of all the data, ``sum_k sum_n w[n, k] (x_n - c)(x_n - c)^T`` is
    ``sum_n s_n (x_n - c)(x_n - c)^T`` with ``s_n = sum_k w[n, k]``: one symmetric rank-n update
    whatever the number of components (with the first moments ``sum_n w[n, k] (x_n - c)`` from the
    same centred rows). The scatter about each component's mean follows by removing
    ``sum_k N_k (mu_k - c)(mu_k - c)^T``, which cancels when the components lie far apart compared
    with their spread: a component that would cost more than about four digits of a variance is
    taken about its own mean instead (one more pass over the data).
    """
    K, D = current_means.shape
    row_totals = weights.sum(axis=1)
    total = totals.sum()
    centre = row_totals @ X / total if total > 0 else current_means.mean(axis=0)
    centres = np.repeat(centre[None], K, axis=0)
    first, second = np.zeros((K, D)), np.zeros((D, D))
    blocks = _CentredBlocks(X, centre, _matrix_rows(D + K))
    roots = np.empty(blocks.rows)
    for block, y in blocks:
        first += weights[block].T @ y
        r = roots[: len(y)]
        np.sqrt(row_totals[block], out=r)
        y *= r[:, None]
        second += y.T @ y
    # Per feature, second = pooled scatter + sum_k N_k (mu_k - c)^2: keep every component's part
    # within _CANCELLATION_LIMIT / K of the scatter, and so the sum within _CANCELLATION_LIMIT.
    active = totals > 0
    between = first**2 / np.where(active, totals, 1.0)[:, None]  # N_k (mu_k - c)^2, (K, D)
    within = np.diagonal(second) - between.sum(axis=0)
    far = np.any(K * between > _CANCELLATION_LIMIT * within, axis=1) & active
    if far.any():
        second = _weighted_second_moment(X, weights[:, ~far].sum(axis=1), centre)
        for k in np.flatnonzero(far):
            centres[k] = centre + first[k] / totals[k]
            first[k], moment = _weighted_second_moment(X, weights[:, k], centres[k], positive_only=True)
            second += moment
    return WeightedMoments(totals, centres, first, second, pooled=True)


def _weighted_second_moment(X: np.ndarray, weights: np.ndarray, centre: np.ndarray,
                            positive_only: bool = False):
    """``sum_n w_n (x_n - c)(x_n - c)^T`` (D, D) for weights (N,), by rank-n updates of blocks of rows
    scaled by ``sqrt(w)``.

    With ``positive_only``, only the rows of positive weight are visited (few, for a component
    that collapsed or lies far away), and ``(sum_n w_n (x_n - c), the matrix)`` is returned.
    """
    D = X.shape[1]
    second = np.zeros((D, D))
    if positive_only:
        first = np.zeros(D)
        rows = np.flatnonzero(weights > 0)
        for start in range(0, rows.size, _BLOCK_ROWS):
            chosen = rows[start:start + _BLOCK_ROWS]
            y, w = X[chosen] - centre, weights[chosen]
            first += w @ y
            y *= np.sqrt(w)[:, None]
            second += y.T @ y
        return first, second
    blocks = _CentredBlocks(X, centre, _matrix_rows(D))
    roots = np.empty(blocks.rows)
    for block, y in blocks:
        r = roots[: len(y)]
        np.sqrt(weights[block], out=r)
        y *= r[:, None]
        second += y.T @ y
    return second


@functools.lru_cache(maxsize=64)
def _summing_matrix(K: int, D: int) -> np.ndarray:
    """``-1/2`` times the (K D, K) matrix that sums each group of ``D`` columns (read-only, shared)."""
    summing = -0.5 * np.repeat(np.eye(K), D, axis=0)
    summing.flags.writeable = False
    return summing


def _diagonal_log_prob(X, centre, linear, precisions, constant, spherical, out) -> None:
    """``out[n, k] = sum_d (y_d linear[k, d] - y_d^2 precisions[k, d] / 2) + constant[k]``, ``y = x - c``.

    By two matrix products per block of rows (``centre`` None: the origin); for spherical
    components (equal precisions along each row) the squares are summed once per row.
    """
    D = X.shape[1]
    linear = linear.T  # (D, K)
    quadratic = -0.5 * (precisions[:, 0] if spherical else precisions.T)  # (K,) or (D, K)
    # A block's working arrays, the centred rows, their squares and the term (rows, K), stay in
    # cache; a term as large as the output would also be a fresh allocation of megabytes per call.
    blocks = _CentredBlocks(X, centre, _cache_rows(2 * D + linear.shape[1]))
    constant = blocks.repeated(constant)
    squares = np.empty(blocks.rows if spherical else (blocks.rows, D))
    term = np.empty((blocks.rows, linear.shape[1]))
    for block, y in blocks:
        o, t = out[block], term[: len(y)]
        if spherical:
            norms = squares[: len(y)]
            np.einsum("ij,ij->i", y, y, out=norms)
            np.multiply(norms[:, None], quadratic, out=t)
        else:
            y2 = squares[: len(y)]
            np.square(y, out=y2)
            np.matmul(y2, quadratic, out=t)
        np.matmul(y, linear, out=o)
        o += t
        _add_flat(o, constant)


def _diagonal_moments(X, weights, totals, current_means, current_variances, traced=False):
    """Centres (K, D), first moments (K, D) and squared moments about them, in one pass over ``X``.

    The squared moments are those of each feature (K, D), or with ``traced`` their sums over the
    features (K,), all a spherical covariance needs. The moments of ``y = x - c`` about one
    centre ``c`` (the origin when the current means lie near it compared with their spread, else
    the mean of the current means) come from two matrix products per block of rows (a product
    and a matrix-vector product of the squared norms of the rows when ``traced``), or a compiled
    kernel for large calls, for every component at once. Any component so far from ``c`` that its
    variance ``E[(y - m)^2] = E[y^2] - m^2`` (or their sum) would lose more than about four digits
    to cancellation is recomputed about its own weighted mean, from its rows of positive weight.
    Raises the ValueError about ``X`` if it is not finite.
    """
    N, D = X.shape
    K = weights.shape[1]
    centre = _expansion_centre(current_means, current_variances)
    first, second = np.zeros((K, D)), np.zeros(K if traced else (K, D))
    kernels = _compiled_kernels(N * D, K, D, moments="traced" if traced else "diagonal")
    if kernels is not None:  # checks that X is finite as it reads it: 0.0 if so, else NaN
        kernel = kernels.traced_moments if traced else kernels.diagonal_moments
        if kernel(np.ascontiguousarray(X), np.ascontiguousarray(weights.T), _origin_if_none(centre, D),
                  first, second) != 0.0:
            raise not_finite("X")
    else:
        check_finite(X)
        blocks = _CentredBlocks(X, centre, _cache_rows(2 * D))
        squares = np.empty(blocks.rows if traced else (blocks.rows, D))
        for block, y in blocks:
            y2 = squares[: len(y)]
            if traced:
                np.einsum("ij,ij->i", y, y, out=y2)
            else:
                np.square(y, out=y2)
            w = weights[block].T
            first += w @ y
            second += w @ y2
    centre = _origin_if_none(centre, D)
    centres = np.empty((K, D))
    centres[:] = centre
    active = totals > 0
    safe = np.where(active, totals, 1.0)[:, None]
    offsets = first / safe
    squared_offsets = offsets**2
    if traced:
        squared_offsets = squared_offsets.sum(axis=1)
        spread = np.maximum(second / safe[:, 0] - squared_offsets, _TINY)
        suspect = (squared_offsets > _CANCELLATION_LIMIT * spread) & active
    else:
        variances = np.maximum(second / safe - squared_offsets, _TINY)
        suspect = (squared_offsets > _CANCELLATION_LIMIT * variances).any(axis=1) & active
    for k in np.flatnonzero(suspect) if suspect.any() else ():
        centres[k] = centre + offsets[k]
        first[k], second[k] = 0.0, 0.0
        rows = np.flatnonzero(weights[:, k] > 0)
        for start in range(0, rows.size, _BLOCK_ROWS):
            chosen = rows[start:start + _BLOCK_ROWS]
            deviations, w = X[chosen] - centres[k], weights[chosen, k]
            first[k] += w @ deviations
            squares = np.square(deviations)
            second[k] += w @ (squares.sum(axis=1) if traced else squares)
    return centres, first, second


def _compiled_kernels(entries: int, n_components: int, n_features: int = 0, moments: str | None = None):
    """The compiled diagonal kernels (importing numba on first use) when a call on ``entries``
    entries of X repays them, else None (NumPy's turn). ``moments``: None for the log-densities,
    ``"diagonal"`` or ``"traced"`` for those moments of ``n_components`` components of
    ``n_features`` features (see _COMPILED_MIN_ENTRIES)."""
    if entries < _COMPILED_MIN_ENTRIES:
        return None
    K, D = n_components, n_features
    if moments == "diagonal" and not (K <= 2 or (K <= _COMPILED_MOMENTS_COMPONENTS
                                                 and D >= _COMPILED_MOMENTS_FEATURES)):
        return None
    if moments == "traced" and not (K <= _COMPILED_MOMENTS_COMPONENTS or D >= _COMPILED_TRACED_FEATURES):
        return None
    from emlib.distributions import _gaussian_kernels

    return _gaussian_kernels


def _origin_if_none(centre: np.ndarray | None, n_features: int) -> np.ndarray:
    """The expansion centre as an array: zeros (D,) for None (the origin)."""
    return np.zeros(n_features) if centre is None else centre


def _expansion_centre(means: np.ndarray, variances: np.ndarray) -> np.ndarray | None:
    """Where the diagonal kernels expand ``(x - mu)^2``: None for the origin, when every mean (K, D)
    lies within ``sqrt(_ORIGIN_LIMIT)`` standard deviations (``variances`` (K, D)) of it in every
    feature, so that the data need no shifting; otherwise the mean of the means."""
    if (means * means <= _ORIGIN_LIMIT * variances).all():
        return None
    return np.add.reduce(means, axis=0) / len(means)  # np.mean's arithmetic, without its Python


def _cache_rows(width: int) -> int:
    """Rows per block for a working array of ``width`` floats per row that should stay in cache."""
    rows = _CACHE_BYTES // (8 * width)  # one comparison for max: called once per small call
    return 64 if rows < 64 else min(rows, _MAX_BLOCK_ROWS)


def _matrix_rows(width: int) -> int:
    """Rows per block for matrix products on ``width`` floats per row: at least ``_BLOCK_ROWS``."""
    return max(_BLOCK_ROWS, _cache_rows(width))


class _CentredBlocks:
    """Iterate over blocks of at most ``rows`` rows of ``X`` (N, D) as ``(rows, X[rows] - centre)``.

    The centred block is a contiguous (n, D) array that the caller may overwrite; with
    ``centre=None`` the blocks are read-only views of ``X`` itself. NumPy broadcasts over short
    rows slowly (a loop per row), along a long vector fast, so the centre is repeated once per row
    and subtracted on flat 1-D views into one buffer, reused from block to block; but in a call of
    at most ``_BROADCAST_ROWS`` rows that fits in one block, one broadcast subtraction costs less
    than repeating the centre. A call that fits in one block (a small one) is one iteration, so
    that callers need no path of their own for it; :meth:`repeated` gives them the operands of
    :func:`_add_flat` by the same rule.
    """

    __slots__ = ("X", "_broadcast", "_buffer", "_tiled_centre", "centre", "rows")

    def __init__(self, X: np.ndarray, centre: np.ndarray | None, rows: int):
        X = np.ascontiguousarray(X)
        if centre is None:  # the blocks are views of X: read-only, so that no caller overwrites it
            X = X.view()
            X.flags.writeable = False
        self.X = X
        n = len(X)
        self.rows = rows if rows < n else max(n, 1)
        self.centre = centre
        # The one rule for broadcasting (see _BROADCAST_ROWS): one block, of few rows.
        self._broadcast = n <= rows and n <= _BROADCAST_ROWS
        if centre is not None and not self._broadcast:
            self._tiled_centre = _tiled(centre, self.rows)
            self._buffer = np.empty((self.rows, X.shape[1]))

    def __iter__(self):
        if self._broadcast:  # one block (a small call), handed out with the least Python there can be
            return iter(((slice(0, len(self.X)), self.X if self.centre is None else self.X - self.centre),))
        return map(self._block, range(0, len(self.X), self.rows))

    def _block(self, start: int) -> tuple[slice, np.ndarray]:
        stop = min(start + self.rows, len(self.X))
        if self.centre is None:
            return slice(start, stop), self.X[start:stop]
        y = self._buffer[: stop - start]
        np.subtract(self.X[start:stop].reshape(-1), self._tiled_centre[: y.size], out=y.reshape(-1))
        return slice(start, stop), y

    def repeated(self, row: np.ndarray) -> np.ndarray:
        """``row`` (m,) as the operand of :func:`_add_flat` on these blocks (n, m): repeated once
        per row, flat (rows * m,), or where the one block is broadcast, the row itself (1, m)."""
        return row[None] if self._broadcast else _tiled(row, self.rows)


class _Whitening:
    """``y -> y P`` for an upper-triangular ``P`` (D, D), on C-contiguous blocks ``y`` (n, D) of at
    most ``rows`` rows that it may overwrite.

    From ``_TRIANGULAR_MIN_FEATURES`` features on, BLAS's triangular product works in place
    (``D^2`` operations per row); below that, a matrix product into a buffer of its own.
    """

    def __init__(self, P: np.ndarray, rows: int):
        D = P.shape[0]
        if D >= _TRIANGULAR_MIN_FEATURES:
            # Imported here (about 0.2 s, once): only fits with this many features need it.
            from scipy.linalg import blas

            self._trmm = blas.dtrmm
            self._lower = np.asfortranarray(P.T)  # L^{-1}, lower triangular, column-major
        else:
            self._trmm = None
            self._P = P
            self._buffer = np.empty((max(1, rows), D))

    def __call__(self, y: np.ndarray) -> np.ndarray:
        if self._trmm is None:
            return np.matmul(y, self._P, out=self._buffer[: len(y)])
        # The row-major y (n, D) is the column-major y^T (D, n): y^T <- L^{-1} y^T is y <- y P.
        return self._trmm(1.0, self._lower, y.T, side=0, lower=1, overwrite_b=1).T


def _tiled(row: np.ndarray, rows: int) -> np.ndarray:
    """``row`` (m,) repeated ``rows`` times, flat (rows * m,): the operand of :func:`_add_flat`.
    (``np.repeat`` on a new axis: one call into C, where ``np.tile`` takes several in Python.)"""
    return np.repeat(row[None], rows, axis=0).reshape(-1)


def _add_flat(block: np.ndarray, tiled: np.ndarray, sign: float = 1.0) -> None:
    """``block += sign * row`` for a C-contiguous (n, m) block, with ``tiled`` the row repeated
    (flat), or the row itself (1, m), broadcast (see :meth:`_CentredBlocks.repeated`)."""
    if tiled.ndim == 2:
        (np.add if sign > 0 else np.subtract)(block, tiled, out=block)
        return
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
    if (pivots <= _SINGULAR_RTOL * np.diagonal(matrices, axis1=-2, axis2=-1)).any():
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
