"""Finite mixture models fitted by EM.

E-step: responsibilities ``r[n, k] = p(z_n = k | x_n)`` from the components' ``log_prob`` and the
mixing weights. M-step: weighted maximum likelihood, i.e. ``weights = mean of r`` and each component
refitted to the data with sample ``n`` counted ``r[n, k]`` times (``components.fit(X, r)``).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from emlib import em
from emlib._math import kmeans_plusplus, normalize_log_rows
from emlib._validation import (
    check_choice,
    check_n_features,
    check_nonnegative_float,
    check_positive_int,
    check_probability_vector,
    check_random_state,
)
from emlib.distributions import COVARIANCE_TYPES, Gaussian, covariance_shape
from emlib.exceptions import ConvergenceWarning

__all__ = ["BaseMixture", "GaussianMixture"]


class _FitData(NamedTuple):
    X: np.ndarray  # (N, D)
    sample_weight: np.ndarray  # (N,)


class _MixtureEM:
    """Runs a mixture estimator under :func:`emlib.em.fit`; the data are ``_FitData``."""

    def __init__(self, estimator: BaseMixture):
        self.estimator = estimator

    def initialize(self, data: _FitData, rng: np.random.Generator) -> None:
        est = self.estimator
        est.components_, est.weights_ = est._initial_parameters(data.X, data.sample_weight, rng)

    def e_step(self, data: _FitData):
        responsibilities, log_evidence = normalize_log_rows(self.estimator._log_joint(data.X))
        return responsibilities, float(data.sample_weight @ log_evidence)

    def m_step(self, data: _FitData, responsibilities: np.ndarray) -> None:
        est = self.estimator
        weighted = responsibilities * data.sample_weight[:, None]
        totals = weighted.sum(axis=0)
        est.weights_ = totals / totals.sum()
        est.components_.fit(data.X, weighted)


class BaseMixture:
    """What every mixture shares: EM via :mod:`emlib.em` and the scikit-learn-like surface.

    Subclasses provide ``_check_X`` (validation for their data type) and ``_initial_components``
    (starting component parameters), and hold their components in ``components_``.
    """

    _init_choices: tuple[str, ...] = ("kmeans++", "random")

    def __init__(self, n_components=1, *, init="kmeans++", weights_init=None, n_init=1,
                 max_iter=100, tol=1e-6, random_state=None, verbose=False):
        self.n_components = n_components
        self.init = init
        self.weights_init = weights_init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X, sample_weight=None):
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights: a weight of 2 counts a row exactly as if it appeared twice.

        Returns
        -------
        self
        """
        self._check_parameters()
        X = self._check_X(X, fitting=True)
        sample_weight = _check_sample_weight(sample_weight, X.shape[0])
        if np.count_nonzero(sample_weight) < self.n_components:
            raise ValueError(
                f"n_components={self.n_components} needs at least as many samples, got "
                f"{np.count_nonzero(sample_weight)} (with non-zero weight)"
            )
        self.n_features_in_ = X.shape[1]
        result = em.fit(
            _MixtureEM(self),
            _FitData(X, sample_weight),
            max_iter=self.max_iter,
            tol=self.tol,
            n_init=self.n_init,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.loglik_history_ = result.loglik_history
        self.restart_logliks_ = result.restart_logliks
        self._n_fit_samples = float(sample_weight.sum())
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations (tol={self.tol:g}); "
                "increase max_iter or tol, or check the data's scale.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def fit_predict(self, X, sample_weight=None) -> np.ndarray:
        """Fit, then return the most probable component of each sample, shape (n_samples,)."""
        return self.fit(X, sample_weight).predict(X)

    def _check_parameters(self) -> None:
        check_positive_int(self.n_components, "n_components")
        check_positive_int(self.n_init, "n_init")
        check_positive_int(self.max_iter, "max_iter", minimum=0)
        check_nonnegative_float(self.tol, "tol")
        if isinstance(self.init, str):
            check_choice(self.init, "init", self._init_choices)
        else:
            raise TypeError(f"init must be one of {self._init_choices}, got {self.init!r}")
        if self.weights_init is not None:
            check_probability_vector(self.weights_init, "weights_init", size=self.n_components)

    def _initial_parameters(self, X, sample_weight, rng):
        components = self._initial_components(X, sample_weight, rng)
        if self.weights_init is not None:
            weights = check_probability_vector(self.weights_init, "weights_init", size=self.n_components)
        else:
            weights = np.full(self.n_components, 1.0 / self.n_components)
        return components, weights

    def _initial_centres(self, X, sample_weight, rng) -> np.ndarray:
        """Row indices of starting centres, by ``init``."""
        if self.init == "kmeans++":
            return kmeans_plusplus(X, self.n_components, rng, sample_weight)
        candidates = np.flatnonzero(sample_weight > 0)
        return rng.choice(candidates, size=self.n_components, replace=False)

    # -- inference --------------------------------------------------------------------------------
    def _log_joint(self, X: np.ndarray) -> np.ndarray:
        """``log p(x_n, z_n = k)``, shape (N, K)."""
        with np.errstate(divide="ignore"):
            return self.components_.log_prob(X) + np.log(self.weights_)

    def _checked_fitted_X(self, X) -> np.ndarray:
        if not hasattr(self, "components_"):
            raise AttributeError(
                f"this {type(self).__name__} is not fitted yet; call fit first"
            )
        X = self._check_X(X, fitting=False)
        check_n_features(X, self.components_.n_features)
        return X

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities ``p(z = k | x)`` of each sample, shape (n_samples, n_components)."""
        posterior, log_evidence = normalize_log_rows(self._log_joint(self._checked_fitted_X(X)))
        impossible = np.flatnonzero(~np.isfinite(log_evidence))
        if impossible.size:
            raise ValueError(
                f"sample {impossible[0]} has zero probability under every component"
            )
        return posterior

    def predict(self, X) -> np.ndarray:
        """Most probable component of each sample, shape (n_samples,)."""
        return np.argmax(self._log_joint(self._checked_fitted_X(X)), axis=1)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood ``log p(x_n)`` of each sample, shape (n_samples,)."""
        return normalize_log_rows(self._log_joint(self._checked_fitted_X(X)))[1]

    def score(self, X) -> float:
        """Mean log-likelihood per sample."""
        return float(np.mean(self.score_samples(X)))

    def evidence_lower_bound(self, X, q) -> tuple[float, float]:
        """Split the log-likelihood into the evidence lower bound and a KL divergence.

        For any distribution ``q`` over the hidden components,
        ``log p(X) = L(q) + KL(q || p(Z | X))`` with
        ``L(q) = sum_n sum_k q[n, k] (log p(x_n, z_n = k) - log q[n, k])``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        q : array-like of shape (n_samples, n_components)
            Rows are probability vectors.

        Returns
        -------
        bound : float
            ``L(q)``; equals the log-likelihood exactly when ``q`` is the posterior.
        kl : float
            ``KL(q || p(Z | X))``, non-negative; zero at the posterior.
        """
        from emlib.elbo import mixture_decomposition

        return mixture_decomposition(self._log_joint(self._checked_fitted_X(X)), q)

    # -- model selection and generation ----------------------------------------------------------
    def n_parameters(self) -> int:
        """Number of free parameters: mixing weights (K - 1) plus the components'."""
        return self.n_components - 1 + self.components_.n_parameters

    def bic(self, X) -> float:
        """Bayesian information criterion ``-2 log L + p log N``; lower is better."""
        X = self._checked_fitted_X(X)
        return float(-2.0 * self.score(X) * X.shape[0] + self.n_parameters() * np.log(X.shape[0]))

    def aic(self, X) -> float:
        """Akaike information criterion ``-2 log L + 2 p``; lower is better."""
        X = self._checked_fitted_X(X)
        return float(-2.0 * self.score(X) * X.shape[0] + 2.0 * self.n_parameters())

    def sample(self, n_samples=1, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw from the fitted mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,)
            The component each sample came from.
        """
        if not hasattr(self, "components_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        labels = rng.choice(self.n_components, size=n_samples, p=self.weights_)
        return self.components_.sample(labels, rng), labels

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components!r})"


class GaussianMixture(BaseMixture):
    """Gaussian mixture model fitted by EM.

    Parameters
    ----------
    n_components : int, default 1
        Number of mixture components ``K``.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"
        ``full``: each component its own covariance matrix; ``diag``: its own diagonal covariance;
        ``spherical``: its own single variance; ``tied``: one full matrix shared by all components.
    init : {"kmeans++", "random"}, default "kmeans++"
        How to choose starting centres when ``means_init`` is not given: k-means++ seeding or distinct
        random rows. Each sample is then assigned to its nearest centre and one M-step gives the
        starting weights and covariances.
    weights_init : array-like of shape (K,), optional
        Starting mixing weights (must sum to one).
    means_init : array-like of shape (K, D), optional
        Starting means.
    covariances_init : array-like, optional
        Starting covariances, shaped as ``covariances_`` (see ``covariance_type``).
    n_init : int, default 1
        Number of EM runs from different starts; the one with the highest log-likelihood is kept.
    reg_covar : float, default 1e-6
        Added to the diagonal of every estimated covariance, so a component that collapses onto one
        point stays positive definite (a :class:`~emlib.exceptions.DegenerateComponentWarning` says so).
    max_iter : int, default 100
        Largest number of EM iterations per run.
    tol : float, default 1e-6
        Stop when the log-likelihood changes by less than ``tol`` times its magnitude.
    random_state : None, int or numpy.random.Generator
        Seed for the starting values.
    verbose : bool, default False
        Print the log-likelihood at every iteration.

    Attributes
    ----------
    weights_ : ndarray of shape (K,)
        Mixing weights.
    means_ : ndarray of shape (K, D)
        Component means.
    covariances_ : ndarray
        Component covariances: (K, D, D) full, (K, D) diag, (K,) spherical, (D, D) tied.
    components_ : Gaussian
        The fitted components (they score data with ``log_prob`` and refit with ``fit``).
    converged_ : bool
        Whether EM converged within ``max_iter`` iterations.
    n_iter_ : int
        Iterations run by the kept start.
    loglik_history_ : ndarray
        Total log-likelihood at the starting values and after each iteration (``n_iter_ + 1``
        values); never decreases.
    restart_logliks_ : ndarray of shape (n_init,)
        Final log-likelihood of every start.

    Examples
    --------
    >>> import numpy as np
    >>> from emlib import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-2, 1, 300), rng.normal(3, 0.5, 200)])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.means_.ravel()), 1)
    array([-2.,  3.])
    """

    def __init__(self, n_components=1, *, covariance_type="full", init="kmeans++", weights_init=None,
                 means_init=None, covariances_init=None, n_init=1, reg_covar=1e-6, max_iter=100,
                 tol=1e-6, random_state=None, verbose=False):
        super().__init__(n_components, init=init, weights_init=weights_init, n_init=n_init,
                         max_iter=max_iter, tol=tol, random_state=random_state, verbose=verbose)
        self.covariance_type = covariance_type
        self.means_init = means_init
        self.covariances_init = covariances_init
        self.reg_covar = reg_covar

    def _check_parameters(self) -> None:
        super()._check_parameters()
        check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_nonnegative_float(self.reg_covar, "reg_covar")

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        return Gaussian.check_data(X)

    def _initial_components(self, X, sample_weight, rng) -> Gaussian:
        K, D = self.n_components, X.shape[1]
        if self.means_init is not None:
            centres = np.array(self.means_init, dtype=np.float64)
            if centres.shape != (K, D):
                raise ValueError(f"means_init must have shape {(K, D)}, got {centres.shape}")
            if not np.all(np.isfinite(centres)):
                raise ValueError("means_init contains NaN or infinite values")
        else:
            centres = X[self._initial_centres(X, sample_weight, rng)]
        user_covariances = None
        if self.covariances_init is not None:
            # Validate shape and positive definiteness before any work.
            user_covariances = Gaussian(centres, self.covariances_init, self.covariance_type).covariances
        if user_covariances is not None:
            return Gaussian(centres, user_covariances, self.covariance_type, reg_covar=self.reg_covar)

        # Start every component at the overall covariance, then refit to the nearest-centre groups.
        overall = _overall_covariance(X, sample_weight, self.covariance_type, K, self.reg_covar)
        components = Gaussian(centres, overall, self.covariance_type, reg_covar=self.reg_covar)
        nearest = np.argmin(
            np.sum(X * X, axis=1)[:, None] - 2.0 * X @ centres.T + np.sum(centres**2, axis=1), axis=1
        )
        hard = np.zeros((X.shape[0], K))
        hard[np.arange(X.shape[0]), nearest] = sample_weight
        components.fit(X, hard)
        if self.means_init is not None:
            components.means = centres
        return components

    # Fitted parameters live in the components; these are views for the familiar names.
    @property
    def means_(self) -> np.ndarray:
        return self.components_.means

    @property
    def covariances_(self) -> np.ndarray:
        return self.components_.covariances


def _overall_covariance(X, sample_weight, covariance_type, n_components, reg_covar):
    mean = sample_weight @ X / sample_weight.sum()
    diff = X - mean
    cov = (diff * sample_weight[:, None]).T @ diff / sample_weight.sum()
    cov.flat[:: X.shape[1] + 1] += max(reg_covar, 1e-12)
    shape = covariance_shape(covariance_type, n_components, X.shape[1])
    if covariance_type == "full":
        return np.broadcast_to(cov, shape).copy()
    if covariance_type == "tied":
        return cov
    if covariance_type == "diag":
        return np.broadcast_to(np.diag(cov), shape).copy()
    return np.full(shape, np.mean(np.diag(cov)))


def _check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n_samples)
    try:
        weight = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("sample_weight must be an array of numbers") from None
    if weight.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {weight.shape}")
    if not np.all(np.isfinite(weight)):
        raise ValueError("sample_weight contains NaN or infinite values")
    if np.any(weight < 0):
        raise ValueError("sample_weight must be non-negative")
    if not np.any(weight > 0):
        raise ValueError("sample_weight is zero everywhere; at least one sample needs positive weight")
    return weight
