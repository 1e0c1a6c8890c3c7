"""Finite mixture models fitted by EM.

E-step: responsibilities ``r[n, k] = p(z_n = k | x_n)`` from the components' ``log_prob`` and the
mixing weights (:func:`responsibilities`). M-step: weighted maximum likelihood, i.e.
``weights = mean of r`` and each component refitted to the data with sample ``n`` counted ``r[n, k]``
times (``components.fit(X, r)``).

With missing entries (``GaussianMixture(missing="em")``) the E-step scores each row by its observed
entries and the M-step uses the expected sufficient statistics of the missing ones
(:mod:`emlib.missing`).
"""

from __future__ import annotations

import copy
import warnings
from typing import NamedTuple

import numpy as np

from emlib import em, missing
from emlib._math import kmeans_plusplus, normalize_log_columns
from emlib._validation import (
    check_choice,
    check_n_features,
    check_nonnegative_float,
    check_positive_int,
    check_probability_vector,
    check_random_state,
)
from emlib.distributions import COVARIANCE_TYPES, Gaussian, covariance_shape
from emlib.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    NotFittedError,
)

__all__ = ["BaseMixture", "GaussianMixture", "responsibilities"]

_MISSING_CHOICES = ("error", "em")

# Rows per block in the E-step: the (K, rows) working arrays stay in cache.
_E_STEP_ROWS = 2048


def responsibilities(components, weights: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The E-step of a mixture: posterior probability of each component for each sample.

    ``r[n, k] = w_k p_k(x_n) / sum_j w_j p_j(x_n)``, computed from ``components.log_prob`` with the
    log-sum-exp trick, block by block over the rows.

    Parameters
    ----------
    components : object with ``log_prob(X) -> (n, K)``
        The component distributions, e.g. a :class:`~emlib.distributions.Gaussian`.
    weights : ndarray of shape (K,)
        Mixing weights.
    X : ndarray of shape (N, D)
        Data, already validated.

    Returns
    -------
    responsibilities : ndarray of shape (N, K)
        Rows sum to one (a row of NaN for a sample that every component gives zero density). The
        array is the transpose of a C-contiguous (K, N) array.
    log_evidence : ndarray of shape (N,)
        ``log p(x_n) = log sum_k w_k p_k(x_n)``.
    """
    return _posterior_from_log_prob(components.log_prob(X), weights)


def _posterior_from_log_prob(log_prob: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`responsibilities` from the components' log-densities ``log_prob`` (N, K)."""
    n = log_prob.shape[0]
    K = weights.shape[0]
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)[:, None]
    resp_t = np.empty((K, n))
    log_evidence = np.empty(n)
    work = np.empty((K, min(n, _E_STEP_ROWS)))
    for start in range(0, n, _E_STEP_ROWS):
        stop = min(start + _E_STEP_ROWS, n)
        block = work[:, : stop - start]
        np.add(log_prob[start:stop].T, log_weights, out=block)
        normalize_log_columns(block, resp_t[:, start:stop], log_evidence[start:stop])
    return resp_t.T, log_evidence


class _FitData(NamedTuple):
    X: np.ndarray  # (N, D), rows of positive weight only
    sample_weight: np.ndarray  # (N,), positive
    unit_weights: bool  # every sample weight is 1: skip the multiplications


class _MixtureEM:
    """Runs a mixture estimator under :func:`emlib.em.fit`; the data are ``_FitData``.

    Holds the parameters being fitted (``components``, ``weights``); the estimator only supplies the
    settings and the starting values, so that restarts (deep copies of this object) never copy it.
    """

    def __init__(self, estimator: BaseMixture):
        self.estimator = estimator
        self.components = None
        self.weights = None

    def __deepcopy__(self, memo):
        # The estimator is shared, not copied: restarts differ only in components and weights.
        twin = type(self)(self.estimator)
        twin.components = copy.deepcopy(self.components, memo)
        twin.weights = copy.deepcopy(self.weights, memo)
        return twin

    def initialize(self, data: _FitData, rng: np.random.Generator) -> None:
        self.components, self.weights = self.estimator._initial_parameters(data.X, data.sample_weight, rng)

    def e_step(self, data: _FitData):
        resp, log_evidence = responsibilities(self.components, self.weights, data.X)
        loglik = log_evidence.sum() if data.unit_weights else data.sample_weight @ log_evidence
        return resp, float(loglik)

    def m_step(self, data: _FitData, resp: np.ndarray) -> None:
        weighted = resp if data.unit_weights else (resp.T * data.sample_weight).T
        totals = weighted.sum(axis=0)
        self.weights = totals / totals.sum()
        self.components.fit(data.X, weighted)


class _MissingFitData(NamedTuple):
    X: np.ndarray  # (N, D) with NaN, rows of positive weight only
    sample_weight: np.ndarray  # (N,), positive
    unit_weights: bool
    patterns: missing.MissingPatterns  # the rows of X grouped by pattern of missingness
    mean_imputed: np.ndarray  # X with each NaN replaced by its column's weighted mean: for starting


class _MissingGaussianEM(_MixtureEM):
    """EM for a Gaussian mixture on data with missing entries (``_MissingFitData``).

    E-step: responsibilities from the density of each row's observed entries, and under each
    component the conditional distribution of the missing entries, summed straight into the
    expected sufficient statistics (:func:`emlib.missing.expected_statistics`). M-step: mixing
    weights as usual, components by :meth:`emlib.distributions.Gaussian.fit_statistics`.
    """

    def initialize(self, data: _MissingFitData, rng: np.random.Generator) -> None:
        # Any start will do for EM: k-means++ and the group covariances of the mean-imputed data.
        self.components, self.weights = self.estimator._initial_parameters(
            data.mean_imputed, data.sample_weight, rng)

    def e_step(self, data: _MissingFitData):
        log_evidence, *statistics = missing.expected_statistics(
            data.patterns, self.weights, self.components.means,
            missing.ObservedGaussian(self.components).covariance_stack(),
            None if data.unit_weights else data.sample_weight)
        loglik = log_evidence.sum() if data.unit_weights else data.sample_weight @ log_evidence
        return statistics, float(loglik)

    def m_step(self, data: _MissingFitData, statistics) -> None:
        totals, means, scatter = statistics
        self.weights = totals / totals.sum()
        self.components.fit_statistics(totals, means, scatter)


class BaseMixture:
    """What every mixture shares: EM via :mod:`emlib.em` and the scikit-learn-like surface.

    Subclasses provide ``_check_X(X, fitting)`` (validation for their data type, returning an
    (N, D) array) and ``_initial_components(X, sample_weight, rng)`` (starting component
    distributions, an object with ``log_prob``, ``fit``, ``sample`` and ``n_parameters``). They may
    override ``_check_initial_values(X)`` to validate user starting values before fitting, and, for
    data the components cannot score directly (missing entries), ``_em_problem(X, sample_weight)``
    (the model and data handed to :func:`emlib.em.fit`) and ``_scoring_components(X)`` (what scores
    ``X`` in ``predict`` and the like). The fitted components are in ``components_``.
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
            1-D data is one feature.
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights: a weight of 2 counts a row exactly as if it appeared twice, a weight
            of 0 as if it were absent. Non-negative, not all zero.

        Returns
        -------
        self

        Warns
        -----
        emlib.exceptions.ConvergenceWarning
            If EM stopped at ``max_iter`` before the log-likelihood settled.
        emlib.exceptions.DegenerateComponentWarning
            If a component collapsed onto a point or received no weight.
        """
        self._check_parameters()
        X = self._check_X(X, fitting=True)
        sample_weight = _check_sample_weight(sample_weight, X.shape[0])
        keep = sample_weight > 0
        if np.count_nonzero(keep) < self.n_components:
            raise ValueError(
                f"X has {np.count_nonzero(keep)} samples (with positive weight), fewer than "
                f"n_components={self.n_components}"
            )
        self._check_initial_values(X)
        if not keep.all():  # a zero weight is an absent row
            X, sample_weight = X[keep], sample_weight[keep]
        model, data = self._em_problem(X, sample_weight)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = em.fit(
                model,
                data,
                max_iter=self.max_iter,
                tol=self.tol,
                n_init=self.n_init,
                random_state=self.random_state,
                verbose=self.verbose,
            )
        self._reissue_warnings(caught)
        self.components_ = result.model.components
        self._warn_if_degenerate()
        self.weights_ = result.model.weights
        self.n_features_in_ = X.shape[1]
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.loglik_history_ = result.loglik_history
        self.restart_logliks_ = result.restart_logliks
        # tol=0 asks for exactly max_iter iterations: nothing to warn about.
        if not result.converged and self.max_iter > 0 and self.tol > 0:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations: the last change of the "
                f"log-likelihood was more than tol={self.tol:g} times its size. Increase max_iter or "
                "tol, or check the data's scale.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _em_problem(self, X, sample_weight):
        """The model and data that :func:`emlib.em.fit` runs on (subclasses may substitute)."""
        return _MixtureEM(self), _FitData(X, sample_weight, bool(np.all(sample_weight == 1.0)))

    def _reissue_warnings(self, caught) -> None:
        """Pass on the warnings of a fit once each, from the caller's line.

        EM would warn at every iteration in which, say, a component stays empty. A fall of the
        log-likelihood is reported by :func:`emlib.em.fit` as a likely bug; when the subclass's
        M-step is not an exact maximisation (``_inexact_m_step``) it is explained instead.
        """
        seen = set()
        decreases = []
        for record in caught:
            message = str(record.message)
            if (issubclass(record.category, RuntimeWarning)
                    and message.startswith("log-likelihood decreased")
                    and self._inexact_m_step(caught)):
                decreases.append(message)
                continue
            if (record.category, message) not in seen:
                seen.add((record.category, message))
                warnings.warn(record.message, stacklevel=3)
        if decreases:
            warnings.warn(
                f"the log-likelihood decreased in {len(decreases)} iteration(s) (first: "
                f"{decreases[0].split(' EM cannot')[0].rstrip('.')}). {self._inexact_m_step_reason()}",
                DegenerateComponentWarning,
                stacklevel=3,
            )

    def _warn_if_degenerate(self) -> None:
        """Warn about a degenerate final fit (subclasses whose components can collapse say how)."""

    def _inexact_m_step(self, caught) -> bool:
        """Whether the M-step may not maximise exactly (subclasses that regularise say so)."""
        return False

    def _inexact_m_step_reason(self) -> str:
        return ""

    def fit_predict(self, X, sample_weight=None) -> np.ndarray:
        """Fit, then return the most probable component of each sample, shape (n_samples,)."""
        return self.fit(X, sample_weight).predict(X)

    def _check_parameters(self) -> None:
        check_positive_int(self.n_components, "n_components")
        check_positive_int(self.n_init, "n_init")
        check_positive_int(self.max_iter, "max_iter", minimum=0)
        check_nonnegative_float(self.tol, "tol")
        if not isinstance(self.init, str):
            raise TypeError(
                f"init must be one of {', '.join(map(repr, self._init_choices))}, got a "
                f"{type(self.init).__name__}; "
                "give starting values through weights_init and the other *_init arguments"
            )
        check_choice(self.init, "init", self._init_choices)
        if self.weights_init is not None:
            weights = check_probability_vector(self.weights_init, "weights_init", size=self.n_components)
            if np.any(weights == 0):
                raise ValueError(
                    "weights_init must be positive: a component that starts with zero weight never "
                    f"gets any (weights_init[{int(np.argmin(weights))}] is 0)"
                )

    def _check_initial_values(self, X: np.ndarray) -> None:
        """Validate user starting values against the data before fitting (subclasses extend)."""

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
    def _check_is_fitted(self) -> None:
        if "components_" not in self.__dict__:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) before using it"
            )

    def _checked_fitted_X(self, X) -> np.ndarray:
        self._check_is_fitted()
        X = self._check_X(X, fitting=False)
        check_n_features(X, self.n_features_in_)
        return X

    def _scoring_components(self, X):
        """What scores ``X`` with ``log_prob``: the components (subclasses may wrap them)."""
        return self.components_

    def _posterior(self, X) -> tuple[np.ndarray, np.ndarray]:
        X = self._checked_fitted_X(X)
        return responsibilities(self._scoring_components(X), self.weights_, X)

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities ``p(z = k | x)`` of each sample, shape (n_samples, n_components).

        Raises ``ValueError`` for a sample that every component gives zero density.
        """
        posterior, log_evidence = self._posterior(X)
        impossible = np.flatnonzero(np.isneginf(log_evidence))
        if impossible.size:
            raise ValueError(f"sample {impossible[0]} of X has zero probability under every component")
        return np.ascontiguousarray(posterior)

    def predict(self, X) -> np.ndarray:
        """Most probable component of each sample, shape (n_samples,)."""
        posterior, _ = self._posterior(X)
        return np.argmax(posterior.T, axis=0)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood ``log p(x_n)`` of each sample, shape (n_samples,)."""
        return self._posterior(X)[1]

    def score(self, X) -> float:
        """Mean log-likelihood per sample, ``sum_n log p(x_n) / n_samples``."""
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

        X = self._checked_fitted_X(X)
        with np.errstate(divide="ignore"):
            log_joint = self._scoring_components(X).log_prob(X) + np.log(self.weights_)
        return mixture_decomposition(log_joint, q)

    # -- model selection and generation ----------------------------------------------------------
    def n_parameters(self) -> int:
        """Number of free parameters: mixing weights (K - 1) plus the components'."""
        self._check_is_fitted()
        return self.n_components - 1 + self.components_.n_parameters

    def bic(self, X) -> float:
        """Bayesian information criterion ``-2 log L + p log N`` on ``X``; lower is better."""
        X = self._checked_fitted_X(X)
        loglik = self.score_samples(X).sum()
        return float(-2.0 * loglik + self.n_parameters() * np.log(X.shape[0]))

    def aic(self, X) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` on ``X``; lower is better."""
        loglik = self.score_samples(X).sum()
        return float(-2.0 * loglik + 2.0 * self.n_parameters())

    def sample(self, n_samples=1, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default 1
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,)
            The component each sample came from.
        """
        self._check_is_fitted()
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
        random rows. Each sample is then assigned to its nearest centre and the covariances start as
        those of the groups so formed; the weights start equal unless ``weights_init`` is given.
    weights_init : array-like of shape (K,), optional
        Starting mixing weights: positive, summing to one.
    means_init : array-like of shape (K, D), optional
        Starting means.
    covariances_init : array-like, optional
        Starting covariances, shaped as ``covariances_`` (see ``covariance_type``): symmetric positive
        definite matrices, or positive variances.
    n_init : int, default 1
        Number of EM runs from different starts; the one with the highest log-likelihood is kept.
    reg_covar : float, default 1e-6
        Added to the diagonal of every estimated covariance, so a component that collapses onto one
        point stays positive definite (a :class:`~emlib.exceptions.DegenerateComponentWarning` says so).
    missing : {"error", "em"}, default "error"
        What to do with NaN entries in ``X``. ``"error"``: refuse them. ``"em"``: treat them as
        missing values and integrate them out exactly, in ``fit``, ``predict``, ``predict_proba``,
        ``score_samples``, ``score``, ``bic`` and ``aic`` alike (see Notes). Every covariance type
        supports it; a row with no observed entry is an error.
    max_iter : int, default 100
        Largest number of EM iterations per run.
    tol : float, default 1e-6
        Convergence threshold, relative: a run stops when the total log-likelihood changes by at most
        ``tol * max(1, abs(log-likelihood))`` in one iteration (see :func:`emlib.em.fit`).
        scikit-learn's ``tol`` is instead an absolute change of the mean log-likelihood per sample.
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
    precisions_cholesky_ : ndarray of shape (K, D, D)
        ``P_k = L_k^{-T}`` for the lower Cholesky factor ``L_k`` of each covariance (scikit-learn's
        attribute of this name has the compact shape of ``covariances_``).
    components_ : emlib.distributions.Gaussian
        The fitted components (they score data with ``log_prob`` and refit with ``fit``).
    n_features_in_ : int
        Number of features ``D`` seen in ``fit``.
    converged_ : bool
        Whether EM converged within ``max_iter`` iterations.
    n_iter_ : int
        Iterations run by the kept start.
    loglik_history_ : ndarray
        Total log-likelihood (sample weights included) at the starting values (entry 0) and after
        each iteration: ``n_iter_ + 1`` values. EM never decreases it; only ``reg_covar``, when it is not negligible against a
        component's variance, can (a :class:`~emlib.exceptions.DegenerateComponentWarning` says so).
    restart_logliks_ : ndarray of shape (n_init,)
        Final log-likelihood of every start.

    Notes
    -----
    With ``missing="em"`` a row with observed entries ``x_o`` and missing entries ``x_m`` counts
    through the density of what was observed, ``p(x_o) = sum_k w_k N(x_o | mu_{k,o}, Sigma_{k,oo})``,
    and the log-likelihood that EM climbs (``loglik_history_``) is the sum of these. The E-step also
    gives, under each component, the conditional distribution of ``x_m`` given ``x_o`` (mean
    ``mu_m + Sigma_mo Sigma_oo^{-1} (x_o - mu_o)``, covariance ``Sigma_mm - Sigma_mo Sigma_oo^{-1}
    Sigma_om``); the M-step uses the expected sufficient statistics, conditional covariance
    included. Rows are grouped by pattern of missingness, so an iteration costs one Cholesky
    factorisation per pattern and component. Starting values come from the data with each missing
    entry replaced by its column's mean. The estimates are maximum-likelihood estimates when
    entries are missing at random (whether an entry is missing may depend on the observed entries,
    not on the missing value itself). With one component this is the classic EM for a multivariate
    normal distribution with missing data; :meth:`impute` gives the conditional means.

    Examples
    --------
    >>> import numpy as np
    >>> from emlib import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-2, 1, 300), rng.normal(3, 0.5, 200)])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.means_.ravel()), 1)
    array([-2.,  3.])
    >>> order = np.argsort(gm.means_.ravel())
    >>> np.round(gm.weights_[order], 2)
    array([0.6, 0.4])
    >>> gm.predict([[-2.5], [2.8]]).tolist() == order.tolist()
    True
    """

    def __init__(self, n_components=1, *, covariance_type="full", init="kmeans++", weights_init=None,
                 means_init=None, covariances_init=None, n_init=1, reg_covar=1e-6, missing="error",
                 max_iter=100, tol=1e-6, random_state=None, verbose=False):
        super().__init__(n_components, init=init, weights_init=weights_init, n_init=n_init,
                         max_iter=max_iter, tol=tol, random_state=random_state, verbose=verbose)
        self.covariance_type = covariance_type
        self.means_init = means_init
        self.covariances_init = covariances_init
        self.reg_covar = reg_covar
        self.missing = missing

    def _check_parameters(self) -> None:
        super()._check_parameters()
        check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_nonnegative_float(self.reg_covar, "reg_covar")
        check_choice(self.missing, "missing", _MISSING_CHOICES)

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        if check_choice(self.missing, "missing", _MISSING_CHOICES) == "em":
            return missing.check_missing_data(X, fitting=fitting)
        return Gaussian.check_data(X, nan_hint=" (or pass missing='em' to fit them)")

    def _em_problem(self, X, sample_weight):
        observed = None if self.missing == "error" else ~np.isnan(X)
        if observed is None or observed.all():  # nothing missing: the ordinary (fast) path
            return super()._em_problem(X, sample_weight)
        counts = sample_weight @ observed
        column_means = (sample_weight @ np.where(observed, X, 0.0)) / np.where(counts > 0, counts, 1.0)
        if not np.all(counts > 0):
            raise ValueError(
                f"column {int(np.argmin(counts > 0))} of X is observed only in rows of sample_weight 0; "
                "its mean cannot be estimated"
            )
        with np.errstate(invalid="ignore"):
            constant = np.flatnonzero(np.nanmax(X, axis=0) == np.nanmin(X, axis=0))
        if constant.size:  # e.g. observed once: with complete data the final fit would show a collapse
            warnings.warn(
                f"column(s) {constant.tolist()} of X take a single observed value, so their variance "
                "cannot be estimated and only reg_covar sets it. Remove such columns, or set reg_covar "
                "to a variance that means something for them.",
                DegenerateComponentWarning,
                stacklevel=3,
            )
        data = _MissingFitData(X, sample_weight, bool(np.all(sample_weight == 1.0)),
                               missing.MissingPatterns(X), np.where(observed, X, column_means))
        return _MissingGaussianEM(self), data

    def _scoring_components(self, X):
        if np.isnan(X).any():  # only reachable with missing="em" (_check_X refuses NaN otherwise)
            return missing.ObservedGaussian(self.components_)
        return self.components_

    def impute(self, X) -> np.ndarray:
        """Fill in each missing (NaN) entry with its conditional mean given the row's observed entries.

        ``E[x_m | x_o] = sum_k p(k | x_o) (mu_{k,m} + Sigma_{k,mo} Sigma_{k,oo}^{-1} (x_o - mu_{k,o}))``:
        under each component the regression of the missing entries on the observed ones, averaged
        with the responsibilities computed from the observed entries. Works whatever ``missing`` was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN marks a missing entry; every row needs at least one observed entry.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            A copy of ``X`` with the missing entries filled in.

        Examples
        --------
        >>> import numpy as np
        >>> from emlib import GaussianMixture
        >>> rng = np.random.default_rng(1)
        >>> X = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=5000)
        >>> X[rng.random(5000) < 0.3, 1] = np.nan  # 30% of the second column missing
        >>> gm = GaussianMixture(missing="em").fit(X)
        >>> np.round(gm.covariances_, 1)
        array([[[1. , 0.8],
                [0.8, 1. ]]])
        >>> np.round(gm.impute([[1.0, np.nan], [np.nan, -2.0]]), 1)
        array([[ 1. ,  0.8],
               [-1.6, -2. ]])
        """
        self._check_is_fitted()
        X = missing.check_missing_data(X)
        check_n_features(X, self.n_features_in_)
        covariances = missing.ObservedGaussian(self.components_).covariance_stack()
        return missing.conditional_means(missing.MissingPatterns(X), self.weights_, self.means_,
                                         covariances)

    def _check_initial_values(self, X: np.ndarray) -> None:
        K, D = self.n_components, X.shape[1]
        if self.means_init is not None:
            _check_means_init(self.means_init, K, D)
        if self.covariances_init is not None:
            Gaussian.check_covariances(self.covariances_init, self.covariance_type, K, D,
                                       name="covariances_init")

    def _initial_components(self, X, sample_weight, rng) -> Gaussian:
        K, D = self.n_components, X.shape[1]
        if self.means_init is not None:
            centres = _check_means_init(self.means_init, K, D)
        else:
            centres = X[self._initial_centres(X, sample_weight, rng)]
        if self.covariances_init is not None:
            covariances = Gaussian.check_covariances(self.covariances_init, self.covariance_type, K, D,
                                                     name="covariances_init")
            return Gaussian(centres, covariances, self.covariance_type, reg_covar=self.reg_covar)

        # Assign each sample to its nearest centre; start from the covariances of those groups
        # (about the given means, if there are any).
        overall = _overall_covariance(X, sample_weight, self.covariance_type, K, self.reg_covar)
        components = Gaussian(centres, overall, self.covariance_type, reg_covar=self.reg_covar)
        offset = X.mean(axis=0)  # distances about a centre inside the data cancel less
        Xc, cc = X - offset, centres - offset
        nearest = np.argmin(np.sum(cc**2, axis=1) - 2.0 * Xc @ cc.T, axis=1)
        groups = np.zeros((X.shape[0], K))
        groups[np.arange(X.shape[0]), nearest] = sample_weight
        fixed = ("means",) if self.means_init is not None else ()
        components.fit(X, groups, fixed=fixed)
        return components

    def _warn_if_degenerate(self) -> None:
        # Judged on the final fit only: EM may pass through a collapse and leave it again.
        self.components_.warn_if_collapsed(stacklevel=3)

    def _inexact_m_step(self, caught) -> bool:
        # reg_covar, or the jitter added to a singular covariance, moves the covariance away from
        # the weighted maximum-likelihood estimate, so EM's guarantee no longer holds exactly.
        return self.reg_covar > 0 or any(issubclass(r.category, DegenerateComponentWarning) for r in caught)

    def _inexact_m_step_reason(self) -> str:
        if self.reg_covar == 0:
            return ("Not a bug: a covariance became singular and a jitter was added to its diagonal, "
                    "so that M-step did not maximise exactly. Set reg_covar > 0 or use fewer components.")
        return (
            f"Not a bug: reg_covar={self.reg_covar:g} added to the covariances is not negligible "
            "against some component's variance, so the M-step no longer maximises exactly. Expected "
            "when reg_covar is a deliberate floor (the data's rounding, say) or holds a component "
            "that is thin along some direction; otherwise standardise the data, lower reg_covar, or "
            "use fewer components."
        )

    # Fitted parameters live in the components; these are views for the familiar names.
    @property
    def means_(self) -> np.ndarray:
        """Component means, shape (K, D)."""
        self._check_is_fitted()
        return self.components_.means

    @property
    def covariances_(self) -> np.ndarray:
        """Component covariances in the shape that ``covariance_type`` implies."""
        self._check_is_fitted()
        return self.components_.covariances

    @property
    def precisions_cholesky_(self) -> np.ndarray:
        """``L^{-T}`` for the lower Cholesky factor ``L`` of each covariance, shape (K, D, D)."""
        self._check_is_fitted()
        return self.components_.precisions_cholesky

    def __repr__(self) -> str:
        extra = "" if self.missing == "error" else f", missing={self.missing!r}"
        return (f"GaussianMixture(n_components={self.n_components!r}, "
                f"covariance_type={self.covariance_type!r}{extra})")


def _check_means_init(means_init, n_components: int, n_features: int) -> np.ndarray:
    try:
        means = np.array(means_init, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("means_init must be an array of numbers of shape (n_components, n_features)") from None
    if means.ndim == 1 and n_features == 1:
        means = means[:, None]
    if means.shape != (n_components, n_features):
        raise ValueError(f"means_init must have shape {(n_components, n_features)}, got {means.shape}")
    if not np.all(np.isfinite(means)):
        raise ValueError("means_init contains NaN or infinite values")
    return means


def _overall_covariance(X, sample_weight, covariance_type, n_components, reg_covar):
    """The weighted covariance of all of ``X``, in the shape ``covariance_type`` needs."""
    mean = sample_weight @ X / sample_weight.sum()
    diff = X - mean
    cov = (diff * sample_weight[:, None]).T @ diff / sample_weight.sum()
    cov = 0.5 * (cov + cov.T)
    # A constant feature has variance 0; keep the starting values positive definite regardless.
    scale = np.trace(cov) / X.shape[1]
    cov.flat[:: X.shape[1] + 1] += reg_covar if reg_covar > 0 else 1e-10 * (scale if scale > 0 else 1.0)
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
        raise ValueError(f"sample_weight must have shape ({n_samples},) to match X, got {weight.shape}")
    if not np.all(np.isfinite(weight)):
        raise ValueError("sample_weight contains NaN or infinite values")
    if np.any(weight < 0):
        raise ValueError("sample_weight must be non-negative")
    if not np.any(weight > 0):
        raise ValueError("sample_weight is zero everywhere; at least one sample needs positive weight")
    return weight
