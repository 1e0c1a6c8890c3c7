"""Factor analysis fitted by EM: a few hidden continuous factors explain the correlations of many variables.

The model, for a sample ``x`` of ``D`` features and ``k`` hidden factors ``z``::

    z ~ N(0, I_k),        x | z ~ N(mu + W z, Psi),        Psi = diag(psi_1, ..., psi_D),

so that ``x ~ N(mu, W W^T + Psi)``. The loadings ``W`` (D, k) say how strongly each feature depends on
each factor; the noise variances ``psi`` are what the factors leave unexplained in each feature.

E-step: the posterior of the factors is Gaussian, with the same covariance for every sample,
``Sigma = (I + W^T Psi^{-1} W)^{-1}`` (k, k), and mean ``m_n = Sigma W^T Psi^{-1} (x_n - mu)``.

M-step: weighted least squares of the features on the (uncertain) factors,
``W = [sum_n (x_n - mu) m_n^T] [sum_n (m_n m_n^T + Sigma)]^{-1}`` and
``psi_d = (1/N) sum_n (x_nd - mu_d) (x_nd - mu_d - W_d m_n)``.

Every step works with ``k x k`` matrices and products of the ``N x D`` data with ``D x k`` matrices
(the Woodbury identity and the matrix determinant lemma), so an iteration costs ``O(N D k)``; the
``D x D`` covariance is never formed or inverted.

The E-step's statistics (:class:`FactorStatistics`) are sums over the samples, so ``fit`` also takes
a dask array chunked along its rows: each chunk computes its own (:func:`factor_statistics`), and
only these travel.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import numpy as np
from scipy.linalg import cholesky, lapack

from emlib._estimator import EMEstimator, user_stacklevel
from emlib._unconstrained import (
    check_vector,
    nonnegative_from_vector,
    nonnegative_to_vector,
)
from emlib._validation import (
    as_numeric_array,
    check_choice,
    check_column_ranges,
    check_data,
    check_n_features,
    check_nonnegative_float,
    check_positive_int,
    check_random_state,
    check_spread,
)
from emlib.chunked import (
    ChunkedData,
    is_dask_array,
    local_part,
    sum_over_chunks,
    survey,
)
from emlib.distributions._statistics import _check_factor
from emlib.exceptions import (
    DegenerateComponentWarning,
)

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, RandomState

__all__ = ["FactorAnalysis", "FactorData", "FactorStatistics", "factor_log_likelihood", "factor_posterior", "factor_statistics",
           "varimax"]

_LOG_2PI = math.log(2.0 * math.pi)


# -- inference: pure functions on arrays ----------------------------------------------------------
def _posterior_system(loadings: np.ndarray, noise_variance: np.ndarray):
    """The small matrices of the E-step.

    Returns ``Psi^{-1} W`` (D, k), the lower Cholesky factor ``L`` of ``M = I + W^T Psi^{-1} W``
    (k, k), and ``L^{-1}`` (k, k). ``M``'s eigenvalues are at least 1, so its factor is well
    conditioned; the k x k inverse is formed once so that the N-row work is plain matrix products.
    """
    scaled = loadings / noise_variance[:, None]
    M = loadings.T @ scaled
    M.flat[:: M.shape[0] + 1] += 1.0
    L = cholesky(M, lower=True, check_finite=False)
    L_inv = _triangular_inverse(L)
    return scaled, L, L_inv


def _triangular_inverse(L: np.ndarray) -> np.ndarray:
    """Inverse of a small lower-triangular matrix (LAPACK ``dtrtri``; cheaper than a general solve)."""
    inverse, info = lapack.dtrtri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return inverse


def _check_factor_arguments(X_centred, loadings, noise_variance):
    """The three arguments as float arrays of matching shapes, or a ValueError naming the culprit."""
    loadings = as_numeric_array(loadings, "loadings").astype(np.float64, copy=False)
    if loadings.ndim != 2 or 0 in loadings.shape:
        raise ValueError(f"loadings must have shape (n_features, n_components), got {loadings.shape}")
    if not np.all(np.isfinite(loadings)):
        raise ValueError("loadings contain NaN or infinite values")
    D = loadings.shape[0]
    noise_variance = as_numeric_array(noise_variance, "noise_variance").astype(np.float64, copy=False)
    if noise_variance.shape != (D,):
        raise ValueError(f"noise_variance must have shape ({D},), one variance per feature of loadings, "
                         f"got {noise_variance.shape}")
    if not np.all(np.isfinite(noise_variance)) or np.any(noise_variance <= 0):
        raise ValueError(f"noise_variance must be finite and positive, got a minimum of {noise_variance.min():.3g}")
    X_centred = as_numeric_array(X_centred, "X_centred").astype(np.float64, copy=False)
    if X_centred.ndim != 2 or X_centred.shape[1] != D:
        raise ValueError(f"X_centred must have shape (n_samples, {D}) to match loadings, got {X_centred.shape}")
    if not np.all(np.isfinite(X_centred)):
        raise ValueError("X_centred contains NaN or infinite values")
    return X_centred, loadings, noise_variance


def factor_posterior(X_centred: ArrayLike, loadings: ArrayLike,
                     noise_variance: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Posterior of the factors given the data: the E-step of factor analysis.

    Parameters
    ----------
    X_centred : ndarray of shape (n_samples, n_features)
        Data minus the mean ``mu``.
    loadings : ndarray of shape (n_features, n_components)
        ``W``.
    noise_variance : ndarray of shape (n_features,)
        Diagonal of ``Psi``; positive.

    Returns
    -------
    means : ndarray of shape (n_samples, n_components)
        ``E[z_n | x_n] = Sigma W^T Psi^{-1} (x_n - mu)``.
    covariance : ndarray of shape (n_components, n_components)
        ``Cov[z_n | x_n] = Sigma = (I + W^T Psi^{-1} W)^{-1}``, the same for every sample.
    """
    X_centred, loadings, noise_variance = _check_factor_arguments(X_centred, loadings, noise_variance)
    scaled, _, L_inv = _posterior_system(loadings, noise_variance)
    whitened = X_centred @ scaled @ L_inv.T  # rows L^{-1} W^T Psi^{-1} r_n
    # M^{-1} = L^{-T} L^{-1}
    return whitened @ L_inv, L_inv.T @ L_inv


def factor_log_likelihood(X_centred: ArrayLike, loadings: ArrayLike, noise_variance: ArrayLike) -> np.ndarray:
    """Log-density of each sample under ``N(0, W W^T + Psi)``, shape (N,).

    Uses ``log det(W W^T + Psi) = log det(M) + sum(log psi)`` and
    ``r^T (W W^T + Psi)^{-1} r = r^T Psi^{-1} r - |L^{-1} W^T Psi^{-1} r|^2`` with ``M = L L^T``, so the
    cost is ``O(N D k)``.

    Parameters
    ----------
    X_centred : ndarray of shape (n_samples, n_features)
        Data minus the mean ``mu``.
    loadings : ndarray of shape (n_features, n_components)
    noise_variance : ndarray of shape (n_features,)
    """
    X_centred, loadings, noise_variance = _check_factor_arguments(X_centred, loadings, noise_variance)
    scaled, L, L_inv = _posterior_system(loadings, noise_variance)
    whitened = X_centred @ scaled @ L_inv.T  # (N, k)
    quadratic = (X_centred**2) @ (1.0 / noise_variance) - np.sum(whitened**2, axis=1)
    return -0.5 * (quadratic + _log_det_plus_const(L, noise_variance))


def _log_det_plus_const(L: np.ndarray, noise_variance: np.ndarray) -> float:
    """``D log(2 pi) + log det(W W^T + Psi)``."""
    return (noise_variance.size * _LOG_2PI + 2.0 * np.sum(np.log(np.diag(L)))
            + np.sum(np.log(noise_variance)))


def varimax(loadings: ArrayLike, *, max_iter: int = 500, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Rotate loadings to Kaiser's varimax criterion (each factor loads strongly on few features).

    The likelihood of a factor model does not change when ``W`` is replaced by ``W R`` for any
    orthogonal ``R`` (the factors ``R^T z`` are again standard normal). Varimax picks the ``R`` that
    maximises the variance of the squared loadings within each column, which makes the loadings easier
    to read.

    Parameters
    ----------
    loadings : array-like of shape (n_features, n_components)
    max_iter : int, default 500
    tol : float, default 1e-10
        Stop when the criterion grows by less than this fraction.

    Returns
    -------
    rotated : ndarray of shape (n_features, n_components)
        ``loadings @ rotation``.
    rotation : ndarray of shape (n_components, n_components)
        The orthogonal matrix ``R``.
    """
    W = check_data(loadings, "loadings")  # (D, k), finite, of the data's magnitudes (1-D: one factor)
    check_positive_int(max_iter, "max_iter", minimum=0)
    check_nonnegative_float(tol, "tol")
    D, k = W.shape
    # The rotation does not depend on the loadings' scale: iterate on them scaled by a power of two
    # (exactly) to a largest magnitude in [0.5, 1), where their fourth powers cannot overflow.
    unit = np.ldexp(W, -int(np.frexp(np.max(np.abs(W)))[1]))
    R = np.eye(k)
    criterion = 0.0
    for _ in range(max_iter):
        rotated = unit @ R
        # Gradient of the varimax criterion; its polar factor (from the SVD) is the next rotation.
        gradient = unit.T @ (rotated**3 - rotated * (np.sum(rotated**2, axis=0) / D))
        u, s, vt = np.linalg.svd(gradient)
        R = u @ vt
        previous, criterion = criterion, np.sum(s)
        if criterion <= previous * (1.0 + tol):
            break
    return W @ R, R


# -- EM model ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FactorStatistics:
    """Expected sufficient statistics of factor analysis: sums over the samples.

    With ``r_n = x_n - mu`` and the posterior of the factors ``z_n`` given ``x_n``, they are all the
    M-step needs besides the column sums of ``r_n**2`` (which do not change from one iteration to
    the next). Statistics of disjoint sets of samples add up (``a + b``); ``factor * a`` rescales.

    Attributes
    ----------
    n_samples : float
        The number of samples summed.
    cross : ndarray of shape (n_features, n_components)
        ``sum_n r_n E[z_n | x_n]^T``.
    second_moment : ndarray of shape (n_components, n_components)
        ``sum_n E[z_n z_n^T | x_n]``.
    """

    n_samples: float
    cross: np.ndarray
    second_moment: np.ndarray

    def __add__(self, other: FactorStatistics) -> FactorStatistics:
        if not isinstance(other, FactorStatistics):
            return NotImplemented
        if self.cross.shape != other.cross.shape:
            raise ValueError(f"cannot add statistics of different shapes: {self.cross.shape} and {other.cross.shape}")
        return FactorStatistics(self.n_samples + other.n_samples, self.cross + other.cross,
                                self.second_moment + other.second_moment)

    def __mul__(self, factor) -> FactorStatistics:
        factor = _check_factor(factor)
        if factor is NotImplemented:
            return NotImplemented
        return FactorStatistics(self.n_samples * factor, self.cross * factor, self.second_moment * factor)

    __rmul__ = __mul__


class FactorData(NamedTuple):
    """The data factor analysis runs on: centred rows and what does not change between iterations.

    Attributes
    ----------
    X_centred : ndarray of shape (N, D) or None
        The rows minus their mean; None for a dask array, whose chunks are centred where they are.
    sum_squares : ndarray of shape (D,)
        Column sums of ``X_centred**2``.
    noise_floor : ndarray of shape (D,) or None
        The smallest noise variance allowed per feature.
    n_samples : int
    covariance : ndarray of shape (D, D) or None
        The covariance of the data, when known beforehand (computed from ``X_centred`` otherwise).
    """

    X_centred: np.ndarray | None
    sum_squares: np.ndarray
    noise_floor: np.ndarray | None
    n_samples: int
    covariance: np.ndarray | None = None


def factor_statistics(data: FactorData, loadings: np.ndarray,
                      noise_variance: np.ndarray) -> tuple[FactorStatistics, float]:
    """The E-step of factor analysis on in-memory data: statistics and log-likelihood.

    Parameters
    ----------
    data : emlib.factor_analysis.FactorData
        The centred rows ``X_centred`` (N, D) and their column sums of squares ``sum_squares`` (D,).
    loadings : ndarray of shape (n_features, n_components)
    noise_variance : ndarray of shape (n_features,)

    Returns
    -------
    statistics : FactorStatistics
    loglik : float
        ``sum_n log N(x_n | mu, W W^T + Psi)``.
    """
    R = data.X_centred
    N = R.shape[0]
    scaled, L, L_inv = _posterior_system(loadings, noise_variance)
    whitened = R @ scaled @ L_inv.T  # rows L^{-1} W^T Psi^{-1} r_n, (N, k)
    means = whitened @ L_inv  # rows M^{-1} W^T Psi^{-1} r_n = E[z_n | x_n]
    covariance = L_inv.T @ L_inv  # M^{-1} = Cov[z_n | x_n]
    statistics = FactorStatistics(float(N), R.T @ means, means.T @ means + N * covariance)
    quadratic = data.sum_squares @ (1.0 / noise_variance) - np.sum(whitened**2)
    return statistics, float(-0.5 * (quadratic + N * _log_det_plus_const(L, noise_variance)))


def _pack_factor_chunk(X: np.ndarray, extra=None, *, mean: np.ndarray) -> FactorData:
    """One chunk of a dask array (already validated), centred on the data's mean."""
    R = np.asarray(X, dtype=np.float64) - mean
    return FactorData(R, np.sum(R**2, axis=0), None, R.shape[0])


def _initial_parameters(data: FactorData, rng: np.random.Generator, *, n_components: int, init: str):
    """Starting loadings (D, k) and noise variances (D,): probabilistic PCA's solution, or random."""
    N, D = data.n_samples, data.sum_squares.shape[0]
    k = n_components
    variance = data.sum_squares / N
    if init == "random":
        loadings = rng.standard_normal((D, k)) * np.sqrt(variance / (2.0 * k))[:, None]
        return loadings, np.maximum(0.5 * variance, data.noise_floor)
    # Probabilistic PCA's maximum-likelihood solution (Tipping & Bishop, 1999): the top-k
    # eigenvectors of the covariance, scaled by sqrt(eigenvalue - sigma^2), sigma^2 the mean of the
    # discarded eigenvalues. A small share of every eigenvalue is kept so no column starts at zero
    # (W = 0 is a fixed point of EM).
    covariance = data.covariance if data.covariance is not None else data.X_centred.T @ data.X_centred / N
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    sigma2 = eigenvalues[k:].mean() if k < D else 0.5 * eigenvalues[-1]
    sigma2 = max(sigma2, 0.0)
    top = eigenvalues[:k]
    loadings = eigenvectors[:, :k] * np.sqrt(np.maximum(top - sigma2, 1e-3 * top.clip(0)))
    return loadings, np.maximum(np.full(D, sigma2), data.noise_floor)


class _FactorEM:
    """Factor analysis under :func:`emlib.em.fit`; holds the parameters being fitted.

    ``start(data, rng) -> (loadings, noise_variance)`` gives the starting values, with the
    estimator's settings bound (:func:`_initial_parameters`).
    """

    def __init__(self, start):
        self.start = start
        self.loadings = None  # W, (D, k)
        self.noise_variance = None  # psi, (D,)
        self.noise_floor = None  # (D,), from the data

    def initialize(self, data: FactorData, rng: np.random.Generator) -> None:
        local = local_part(data)
        self.loadings, self.noise_variance = self.start(local, rng)
        self.noise_floor = local.noise_floor

    def get_vector(self) -> np.ndarray:
        """The parameters as one vector of unconstrained coordinates, for accelerated EM.

        The loadings as they are (D k, row by row), then the square roots of the noise variances
        (D): near a Heywood case a noise variance tends to zero, which its square root reaches at a
        finite coordinate (see ``emlib._unconstrained``). Shape (D k + D,).
        """
        return np.concatenate([self.loadings.ravel(), nonnegative_to_vector(self.noise_variance)])

    def set_vector(self, vector: np.ndarray) -> None:
        """Set the parameters from :meth:`get_vector`'s coordinates, the noise variances held at
        their floor as the M-step holds them; ``ValueError`` (nothing changed) if invalid."""
        D, k = self.loadings.shape
        vector = check_vector(vector, D * k + D, "vector")
        noise = nonnegative_from_vector(vector[D * k:], "vector")
        self.loadings = vector[: D * k].reshape(D, k).copy()
        self.noise_variance = np.maximum(noise, self.noise_floor)

    def e_step(self, data: FactorData):
        """Posterior means ``m`` (N, k) and covariance ``Sigma``, reduced to :class:`FactorStatistics`
        (summed over the chunks of chunked data)."""
        return sum_over_chunks(factor_statistics, data, self.loadings, self.noise_variance)

    def m_step(self, data: FactorData, stats: FactorStatistics) -> None:
        data = local_part(data)
        # W = cross @ second_moment^{-1}, through the k x k Cholesky factor of second_moment (SPD).
        factor = cholesky(stats.second_moment, lower=True, check_finite=False)
        factor_inv = _triangular_inverse(factor)
        self.loadings = (stats.cross @ factor_inv.T) @ factor_inv
        # Expected residual variance; the clip is the exact M-step under the constraint psi >= floor.
        noise = (data.sum_squares - np.sum(self.loadings * stats.cross, axis=1)) / stats.n_samples
        self.noise_variance = np.maximum(noise, data.noise_floor)


class FactorAnalysis(EMEstimator):
    """Factor analysis (a linear-Gaussian latent variable model) fitted by EM.

    Each sample ``x`` (``D`` features) is explained by ``k`` hidden factors ``z ~ N(0, I)``:
    ``x = mu + W z + noise``, with independent noise of variance ``psi_d`` in feature ``d``. The factors
    carry all the correlation between features; the noise is each feature's own part.

    Parameters
    ----------
    n_components : int, default 1
        Number of factors ``k``; at most the number of features.
    init : {"pca", "random"}, default "pca"
        Starting values. ``"pca"``: the closed-form maximum-likelihood probabilistic PCA solution
        (loadings along the top ``k`` principal axes, equal noise variances), a good start that makes
        the fit deterministic. ``"random"``: random loadings, noise variances half of each feature's
        variance.
    rotation : {None, "varimax"}, default None
        Rotate the fitted loadings with :func:`~emlib.factor_analysis.varimax` to make them easier
        to interpret. The likelihood does not change.
    min_noise_variance : float, default 1e-6
        Each noise variance is kept at least this fraction of its feature's variance. When the floor is
        reached (a "Heywood case": a factor explains a feature completely) a
        :class:`~emlib.exceptions.DegenerateComponentWarning` says so.
    max_iter : int, default 1000
        Largest number of EM iterations. EM for factor analysis can be slow when a noise variance is
        near zero.
    tol : float, default 1e-7
        Convergence threshold: EM stops when the log-likelihood changes by at most ``tol`` per
        sample in one iteration. That change does not depend on the data's units, so the same data
        in other units give the same fit. (scikit-learn's ``tol`` is an absolute change of the
        total.)
    accelerate : {None, "squarem"}, default None
        ``"squarem"``: EM accelerated by SQUAREM (see :func:`emlib.em.fit`), which extrapolates
        along pairs of EM steps and keeps a point only if the objective does not go down: the same
        maximum, in far fewer E-steps when EM is slow (a noise variance near zero). ``n_iter_`` then counts
        accelerated iterations and ``n_e_steps_`` the E-steps they cost. ``None``: plain EM.
    random_state : None, int or numpy.random.Generator
        Seed for ``init="random"``.
    verbose : bool, default False
        Print the log-likelihood at every iteration.

    Attributes
    ----------
    loadings_ : ndarray of shape (n_features, n_components)
        ``W``: how strongly each feature depends on each factor.
    components_ : ndarray of shape (n_components, n_features)
        ``W^T``, scikit-learn's name and layout.
    noise_variance_ : ndarray of shape (n_features,)
        ``psi``: the variance the factors leave unexplained in each feature.
    mean_ : ndarray of shape (n_features,)
        ``mu``, the sample mean (its maximum-likelihood estimate).
    loglik_history_ : ndarray
        Total log-likelihood at the starting values and after each iteration (``n_iter_ + 1``
        values); never decreases.
    n_iter_ : int
        Number of EM iterations run.
    n_e_steps_ : int
        E-steps run by the kept start: ``n_iter_ + 1`` for plain EM, fewer iterations' worth with
        ``accelerate="squarem"``.
    converged_ : bool
        Whether EM converged within ``max_iter`` iterations.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from emlib import FactorAnalysis
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((5000, 1))  # one hidden factor, four observed features
    >>> X = z @ [[2.0, 1.0, 1.0, 0.0]] + rng.standard_normal((5000, 4)) * [0.5, 0.5, 0.5, 1.0]
    >>> fa = FactorAnalysis(n_components=1).fit(X)
    >>> np.round(np.abs(fa.loadings_.ravel()), 1)  # the sign of a factor is arbitrary
    array([2., 1., 1., 0.])
    >>> np.round(fa.noise_variance_, 2)
    array([0.24, 0.25, 0.24, 0.98])
    """

    _fitted_attribute: ClassVar[str] = "loadings_"

    def __init__(self, n_components: int = 1, *, init: str = "pca", rotation: str | None = None,
                 min_noise_variance: float = 1e-6, max_iter: int = 1000, tol: float = 1e-7,
                 accelerate: str | None = None, random_state: RandomState = None, verbose: bool = False):
        self.n_components = n_components
        self.init = init
        self.rotation = rotation
        self.min_noise_variance = min_noise_variance
        self.max_iter = max_iter
        self.tol = tol
        self.accelerate = accelerate
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: object = None) -> FactorAnalysis:
        """Estimate loadings and noise variances by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or dask.array.Array
            A ``dask.array`` chunked along its rows is fitted where it lives: one pass first
            validates it and sums its moments (mean and covariance: the start), then each E-step
            sums the :class:`~emlib.factor_analysis.FactorStatistics` and log-likelihoods of the chunks, and only these
            travel. From the same start the iterates are the in-memory fit's, up to round-off.
        y : None
            Ignored; accepted for scikit-learn pipelines.

        Returns
        -------
        self
        """
        self._check_parameters()
        if is_dask_array(X):
            found = survey(X, None, _check_X, self.random_state, moments=True)
            check_column_ranges(found.minimum, found.maximum)
            N, D = found.n_rows, found.moments.centres.shape[1]
            mean = found.moments.means[0]
            covariance = found.moments.scatter()[0] / N
            sum_squares = np.diagonal(covariance) * N
        else:
            X = _check_X(X)
            N, D = X.shape
            mean = X.mean(axis=0)
            X_centred = X - mean
            sum_squares = np.sum(X_centred**2, axis=0)
        if N < 2:
            raise ValueError(f"X has {N} sample; factor analysis needs at least 2 samples to estimate a covariance")
        if self.n_components > D:
            raise ValueError(
                f"n_components={self.n_components} must be at most the number of features, {D}"
            )
        variance = sum_squares / N
        if not np.any(variance > 0):
            raise ValueError("X has the same value in every row; there is no variation to explain")
        # A constant feature gets the floor of the typical feature, so its noise variance stays positive.
        scale = np.where(variance > 0, variance, np.mean(variance[variance > 0]))
        floor = np.maximum(self.min_noise_variance * scale, 1e-300)

        if is_dask_array(X):
            local = FactorData(None, sum_squares, floor, N, covariance)
            data = ChunkedData((found.X,), partial(_pack_factor_chunk, mean=mean), (None,) * len(found.row_chunks),
                               local, found.row_chunks)
        else:
            data = FactorData(X_centred, sum_squares, floor, N)
        start = partial(_initial_parameters, n_components=self.n_components, init=self.init)
        result = self._run_em(_FactorEM(start), data, tol_scale=float(N))
        loadings = result.model.loadings
        if self.rotation == "varimax":
            loadings = varimax(loadings)[0]
        self.noise_variance_ = result.model.noise_variance
        self.mean_ = mean
        self.n_features_in_ = D
        self.loglik_history_ = result.loglik_history
        self.n_iter_ = result.n_iter
        self.n_e_steps_ = result.n_e_steps
        self.converged_ = result.converged
        self.loadings_ = loadings  # last: its presence means "fitted"
        at_floor = np.flatnonzero(self.noise_variance_ <= floor * (1.0 + 1e-9))
        if at_floor.size:
            warnings.warn(
                f"the noise variance of feature(s) {at_floor.tolist()} reached its floor "
                f"(min_noise_variance={self.min_noise_variance:g} of the feature's variance): the "
                "factors explain these features (almost) exactly, a Heywood case. Consider fewer "
                "factors, or check for constant or duplicated features.",
                DegenerateComponentWarning,
                stacklevel=user_stacklevel(),
            )
        return self

    def fit_transform(self, X: ArrayLike, y: object = None) -> np.ndarray:
        """Fit, then return the posterior factor means of ``X``, shape (n_samples, n_components)."""
        return self.fit(X).transform(X)

    def _check_parameters(self) -> None:
        check_positive_int(self.n_components, "n_components")
        check_choice(self.init, "init", ("pca", "random"))
        check_choice(self.rotation, "rotation", (None, "varimax"))
        min_noise = check_nonnegative_float(self.min_noise_variance, "min_noise_variance")
        if not 0 < min_noise < 1:
            raise ValueError(f"min_noise_variance must be in (0, 1), got {self.min_noise_variance!r}")
        self._check_run_parameters()

    # -- inference --------------------------------------------------------------------------------
    def _checked_fitted_X(self, X) -> np.ndarray:
        self._check_is_fitted()
        X = _check_X(X, fitted_features=self.n_features_in_)
        check_n_features(X, self.n_features_in_, type(self).__name__)
        return X

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Posterior means of the factors, ``E[z | x]``, shape (n_samples, n_components)."""
        X = self._checked_fitted_X(X)
        return factor_posterior(X - self.mean_, self.loadings_, self.noise_variance_)[0]

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log-likelihood ``log p(x_n)`` of each sample, shape (n_samples,)."""
        X = self._checked_fitted_X(X)
        return factor_log_likelihood(X - self.mean_, self.loadings_, self.noise_variance_)

    def score(self, X: ArrayLike, y: object = None) -> float:
        """Mean log-likelihood per sample (scikit-learn's convention)."""
        return float(np.mean(self.score_samples(X)))

    def get_covariance(self) -> np.ndarray:
        """Model covariance of the data, ``W W^T + Psi``, shape (n_features, n_features)."""
        self._check_is_fitted()
        covariance = self.loadings_ @ self.loadings_.T
        covariance.flat[:: covariance.shape[0] + 1] += self.noise_variance_
        return covariance

    def get_precision(self) -> np.ndarray:
        """Inverse of :meth:`get_covariance` by the Woodbury identity, shape (n_features, n_features)."""
        self._check_is_fitted()
        scaled, _, L_inv = _posterior_system(self.loadings_, self.noise_variance_)
        half = L_inv @ scaled.T  # (k, D)
        precision = -half.T @ half
        precision.flat[:: precision.shape[0] + 1] += 1.0 / self.noise_variance_
        return precision

    # -- model selection and generation ----------------------------------------------------------
    def n_parameters(self) -> int:
        """Free parameters: mean (D), loadings (D k, less k (k - 1) / 2 for rotations), noise (D)."""
        self._check_is_fitted()
        D, k = self.loadings_.shape
        return 2 * D + D * k - k * (k - 1) // 2

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion ``-2 log L + p log N``; lower is better."""
        X = self._checked_fitted_X(X)
        return float(-2.0 * self.score_samples(X).sum() + self.n_parameters() * np.log(X.shape[0]))

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion ``-2 log L + 2 p``; lower is better."""
        X = self._checked_fitted_X(X)
        return float(-2.0 * self.score_samples(X).sum() + 2.0 * self.n_parameters())

    def sample(self, n_samples: int = 1, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw from the fitted model.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        factors : ndarray of shape (n_samples, n_components)
            The hidden factors ``z`` each sample was generated from.
        """
        self._check_is_fitted()
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        factors = rng.standard_normal((n_samples, self.n_components))
        noise = rng.standard_normal((n_samples, self.n_features_in_)) * np.sqrt(self.noise_variance_)
        return self.mean_ + factors @ self.loadings_.T + noise, factors

    @property
    def components_(self) -> np.ndarray:
        """``W^T``, shape (n_components, n_features): scikit-learn's name and layout."""
        self._check_is_fitted()
        return self.loadings_.T



def _check_X(X, fitted_features: int | None = None) -> np.ndarray:
    """(N, D) float data without NaN; 1-D input is refused (one feature has no factors to find)."""
    X = as_numeric_array(X, "X")
    if X.ndim == 1:
        if fitted_features is not None and fitted_features > 1:
            raise ValueError(
                f"X is 1-D, but FactorAnalysis was fitted on {fitted_features} features. Reshape your "
                "data: X.reshape(1, -1) for a single sample."
            )
        raise ValueError(
            "X must be 2-D (n_samples, n_features); got a 1-D array. Factor analysis explains the "
            "correlations between features: reshape with X.reshape(-1, 1) only if you really mean one feature"
        )
    # Own NaN message: factor analysis has no missing-data mode to point to.
    X = check_data(X, "X", allow_nan=True)
    if np.isnan(X).any():
        raise ValueError("X contains NaN; factor analysis needs complete data (remove or impute them)")
    check_spread(X)
    return X
