"""Gaussian components (full, diagonal, spherical or tied covariances) for mixtures and HMMs."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.linalg import cholesky, solve_triangular

from emlib._validation import check_choice, check_data
from emlib.exceptions import DegenerateComponentWarning

__all__ = ["COVARIANCE_TYPES", "Gaussian"]

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")

_LOG_2PI = math.log(2.0 * math.pi)
# Rows per block in log_prob: keeps temporaries in cache and memory flat for long data.
_BLOCK_ROWS = 8192


def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple[int, ...]:
    """Shape of the ``covariances`` array for a covariance type (the scikit-learn convention)."""
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
    covariance_type : {"full", "diag", "spherical", "tied"}
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance that :meth:`fit` estimates, keeping it positive
        definite when a component collapses onto a point.

    Notes
    -----
    Densities are evaluated through the Cholesky factor ``L`` of each covariance: with
    ``P = L^{-T}`` (a triangular solve, never an explicit inverse of a covariance) the squared
    Mahalanobis distance is ``|(x - mu) P|^2`` and ``log det(cov) = 2 sum(log diag(L))``.
    """

    parameter_names = ("means", "covariances")

    def __init__(self, means, covariances, covariance_type: str = "full", reg_covar: float = 1e-6):
        self.covariance_type = check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
        self.reg_covar = float(reg_covar)
        means = np.array(means, dtype=np.float64, ndmin=2)
        if means.ndim != 2 or not np.all(np.isfinite(means)):
            raise ValueError(f"means must be a finite array of shape (K, D), got shape {means.shape}")
        self._means = means
        self.covariances = covariances  # validates and factorises

    # -- parameters -------------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self._means.shape[0]

    @property
    def n_features(self) -> int:
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
        """Covariances in the shape that ``covariance_type`` implies."""
        return self._covariances

    @covariances.setter
    def covariances(self, value) -> None:
        expected = covariance_shape(self.covariance_type, self.n_components, self.n_features)
        value = np.array(value, dtype=np.float64)
        if value.shape != expected:
            raise ValueError(
                f"covariances for covariance_type={self.covariance_type!r} must have shape {expected}, "
                f"got {value.shape}"
            )
        if not np.all(np.isfinite(value)):
            raise ValueError("covariances contain NaN or infinite values")
        self._covariances = value
        self._cholesky = _cholesky_factors(value, self.covariance_type, name="covariances")

    def full_covariances(self) -> np.ndarray:
        """Covariances expanded to full matrices, shape (K, D, D)."""
        K, D = self.n_components, self.n_features
        cov = self._covariances
        if self.covariance_type == "full":
            return cov.copy()
        if self.covariance_type == "tied":
            return np.broadcast_to(cov, (K, D, D)).copy()
        variances = cov if self.covariance_type == "diag" else np.repeat(cov[:, None], D, axis=1)
        return variances[:, :, None] * np.eye(D)

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

    # -- E-step side ------------------------------------------------------------------------------
    @staticmethod
    def check_data(X, name: str = "X", allow_nan: bool = False) -> np.ndarray:
        """Validate data for this family: a finite 1-D or 2-D numeric array (as (N, D) floats)."""
        return check_data(X, name, allow_nan=allow_nan)

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log-density of each row of ``X`` (N, D) under each component: array of shape (N, K)."""
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        out = np.empty((n, self.n_components))
        if self.covariance_type in ("diag", "spherical"):
            block = self._log_prob_diagonal
        else:
            block = self._log_prob_cholesky
        for start in range(0, n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n)
            block(X[start:stop], out[start:stop])
        return out

    def _log_prob_cholesky(self, X: np.ndarray, out: np.ndarray) -> None:
        # full and tied: whiten with P = L^{-T}, all components in one matrix product.
        K, D = self.n_components, self.n_features
        precision_chol = self._precision_cholesky()  # (K, D, D)
        stacked = precision_chol.transpose(1, 0, 2).reshape(D, K * D)
        shift = np.einsum("kd,kde->ke", self._means, precision_chol).reshape(K * D)
        whitened = X @ stacked
        whitened -= shift
        np.square(whitened, out=whitened)
        mahalanobis = whitened.reshape(-1, K, D).sum(axis=2)
        out[:] = self._log_norm_const() - 0.5 * mahalanobis

    def _log_prob_diagonal(self, X: np.ndarray, out: np.ndarray) -> None:
        # Expand |x - mu|^2 / var around a centre inside the data, so the expansion cancels little.
        precisions = 1.0 / self._diagonal_variances()  # (K, D)
        centre = self._means.mean(axis=0)
        Xc = X - centre
        mc = self._means - centre
        mahalanobis = (Xc * Xc) @ precisions.T
        mahalanobis -= 2.0 * (Xc @ (mc * precisions).T)
        mahalanobis += np.sum(mc * mc * precisions, axis=1)
        np.maximum(mahalanobis, 0.0, out=mahalanobis)
        out[:] = self._log_norm_const() - 0.5 * mahalanobis

    def _diagonal_variances(self) -> np.ndarray:
        if self.covariance_type == "diag":
            return self._covariances
        return np.repeat(self._covariances[:, None], self.n_features, axis=1)

    def _precision_cholesky(self) -> np.ndarray:
        if not hasattr(self, "_precision_chol_cache") or self._precision_chol_cache[0] is not self._cholesky:
            K, D = self.n_components, self.n_features
            factors = self._cholesky if self.covariance_type == "full" else self._cholesky[None]
            eye = np.eye(D)
            prec = np.stack([solve_triangular(L, eye, lower=True).T for L in factors])
            if self.covariance_type == "tied":
                prec = np.broadcast_to(prec, (K, D, D))
            self._precision_chol_cache = (self._cholesky, np.ascontiguousarray(prec))
        return self._precision_chol_cache[1]

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

    # -- M-step side ------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, weights: np.ndarray, fixed=()) -> Gaussian:
        """Weighted maximum-likelihood update of every component, in place.

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
        """
        X = np.asarray(X, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        totals = weights.sum(axis=0)  # (K,)
        empty = ~(totals > 1e3 * np.finfo(np.float64).tiny)
        if empty.any():
            warnings.warn(
                f"component(s) {np.flatnonzero(empty).tolist()} received no weight; their parameters "
                "are left unchanged. Consider fewer components.",
                DegenerateComponentWarning,
                stacklevel=2,
            )
        safe_totals = np.where(empty, 1.0, totals)

        if "means" in fixed:
            means = self._means
        else:
            means = (weights.T @ X) / safe_totals[:, None]
            means[empty] = self._means[empty]

        if "covariances" not in fixed:
            covariances = self._weighted_covariances(X, weights, means, safe_totals, empty)
            self._means = means
            self._covariances = covariances
            self._cholesky = _cholesky_factors(
                covariances, self.covariance_type, name="covariances", reg_covar=self.reg_covar
            )
            self._warn_if_collapsed()
        else:
            self._means = means
        return self

    def _weighted_covariances(self, X, weights, means, totals, empty) -> np.ndarray:
        ctype, reg = self.covariance_type, self.reg_covar
        K, D = means.shape
        if ctype == "full":
            covariances = np.empty((K, D, D))
            for k in range(K):
                if empty[k]:
                    covariances[k] = self._covariances[k]
                    continue
                diff = X - means[k]
                covariances[k] = (weights[:, k, None] * diff).T @ diff / totals[k]
                covariances[k].flat[:: D + 1] += reg
            return covariances
        if ctype == "tied":
            # Pooled within-component scatter, centred on the overall mean to limit cancellation.
            centre = (totals @ means) / totals.sum()
            Xc = X - centre
            mc = means - centre
            w = weights.sum(axis=1)
            scatter = (Xc * w[:, None]).T @ Xc - (mc * totals[:, None]).T @ mc
            covariance = scatter / totals.sum()
            covariance = 0.5 * (covariance + covariance.T)
            covariance.flat[:: D + 1] += reg
            return covariance
        # diag and spherical: second moments about a centre inside the data, then shift.
        centre = (totals @ means) / totals.sum()
        Xc = X - centre
        mc = means - centre
        variances = (weights.T @ (Xc * Xc)) / totals[:, None] - mc * mc
        np.maximum(variances, 0.0, out=variances)
        variances += reg
        if ctype == "spherical":
            variances = variances.mean(axis=1)
            variances[empty] = self._covariances[empty]
        else:
            variances[empty] = self._covariances[empty]
        return variances

    def _warn_if_collapsed(self) -> None:
        if self.covariance_type in ("full", "tied"):
            L = self._cholesky if self.covariance_type == "full" else self._cholesky[None]
            smallest = np.min(np.diagonal(L, axis1=-2, axis2=-1) ** 2, axis=-1)
        else:
            smallest = self._diagonal_variances().min(axis=1)
        collapsed = np.flatnonzero(smallest < 2.0 * self.reg_covar)
        if collapsed.size:
            warnings.warn(
                f"component(s) {collapsed.tolist()} collapsed onto (nearly) a single point or a "
                f"lower-dimensional set; their covariance is kept positive definite only by "
                f"reg_covar={self.reg_covar:g}. Consider fewer components, a larger reg_covar, or "
                "removing duplicate rows.",
                DegenerateComponentWarning,
                stacklevel=3,
            )

    # -- generation -------------------------------------------------------------------------------
    def sample(self, components: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One draw from component ``components[i]`` for each i: array of shape (len(components), D)."""
        components = np.asarray(components, dtype=np.intp)
        z = rng.standard_normal((components.size, self.n_features))
        if self.covariance_type in ("diag", "spherical"):
            scale = np.sqrt(self._diagonal_variances())[components]
            return self._means[components] + z * scale
        L = self._cholesky if self.covariance_type == "full" else self._cholesky[None]
        L = L[components] if self.covariance_type == "full" else np.broadcast_to(L, (components.size,) + L.shape[1:])
        return self._means[components] + np.einsum("nij,nj->ni", L, z)


def _cholesky_factors(covariances: np.ndarray, covariance_type: str, name: str,
                      reg_covar: float | None = None) -> np.ndarray | None:
    """Lower Cholesky factors for full/tied covariances; checks positivity for diag/spherical.

    With ``reg_covar`` given (during fitting) a factorisation that fails for round-off is retried
    with growing diagonal jitter and a warning instead of an error.
    """
    if covariance_type in ("diag", "spherical"):
        if np.any(covariances <= 0):
            raise ValueError(f"{name} must be positive for covariance_type={covariance_type!r}")
        return None
    matrices = covariances if covariance_type == "full" else covariances[None]
    factors = np.empty_like(matrices)
    for k, matrix in enumerate(matrices):
        if not np.allclose(matrix, matrix.T, rtol=1e-8, atol=1e-12 * np.abs(matrix).max()):
            raise ValueError(f"{name}[{k}] is not symmetric" if covariance_type == "full"
                             else f"{name} is not symmetric")
        try:
            factors[k] = cholesky(matrix, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            if reg_covar is None:
                where = f"{name}[{k}]" if covariance_type == "full" else name
                raise ValueError(f"{where} is not positive definite") from None
            factors[k] = _jittered_cholesky(matrix, k, reg_covar)
    return factors if covariance_type == "full" else factors[0]


def _jittered_cholesky(matrix: np.ndarray, k: int, reg_covar: float) -> np.ndarray:
    scale = max(np.trace(matrix) / matrix.shape[0], 1.0)
    jitter = max(reg_covar, 1e-10 * scale)
    for _ in range(20):
        try:
            factor = cholesky(matrix + jitter * np.eye(matrix.shape[0]), lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            jitter *= 10.0
            continue
        warnings.warn(
            f"covariance of component {k} was singular; added {jitter:.3g} to its diagonal. "
            "Increase reg_covar to avoid this.",
            DegenerateComponentWarning,
            stacklevel=4,
        )
        return factor
    raise FloatingPointError(f"covariance of component {k} could not be made positive definite")
