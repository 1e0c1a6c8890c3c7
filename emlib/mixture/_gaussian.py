"""Gaussian mixture models fitted by EM, with complete data or with missing entries."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from emlib._estimator import LEARNING_DECAY, LEARNING_OFFSET, user_stacklevel
from emlib._validation import (
    FINITE,
    MAX_MAGNITUDE,
    as_numeric_array,
    check_choice,
    check_column_ranges,
    check_n_features,
    check_nonnegative_float,
    check_spread,
)
from emlib.chunked import local_part
from emlib.distributions import COVARIANCE_TYPES, Gaussian
from emlib.exceptions import DegenerateComponentWarning
from emlib.initialization import kmeans_start, overall_covariance
from emlib.mixture import missing
from emlib.mixture._base import BaseMixture, MixtureEM

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, RandomState

__all__ = ["GaussianMixture"]

_MISSING_CHOICES = ("error", "em")


class GaussianStart(NamedTuple):
    """The starting Gaussian components, with the settings that shape them bound.

    Called as ``start(X, sample_weight, rng)``: the shared k-means start
    (:func:`emlib.initialization.kmeans_start`) or the user's means, then the group covariances
    (or the user's covariances), and the mixing weights.
    """

    n_components: int
    covariance_type: str
    reg_covar: float
    init: str
    weights: np.ndarray  # (K,)
    means: np.ndarray | None = None  # (K, D), given by the user
    covariances: np.ndarray | None = None  # given by the user

    def __call__(self, X, sample_weight, rng):
        return gaussian_start(X, rng, self.n_components, self.covariance_type, self.reg_covar, self.init,
                              sample_weight, self.means, self.covariances), self.weights.copy()


def gaussian_start(X: ArrayLike, rng: np.random.Generator, n_components: int, covariance_type: str,
                   reg_covar: float, init: str, sample_weight: ArrayLike | None = None, means: ArrayLike = None,
                   covariances: ArrayLike = None, labelled_rows=None, labels=None) -> Gaussian:
    """Starting Gaussian components: the shared default start of mixtures and HMMs.

    The centres are ``means`` if given, else those of :func:`~emlib.initialization.kmeans_start`;
    the covariances are ``covariances`` if given (what :meth:`Gaussian.check_covariances` returned
    for them: the estimators check their ``covariances_init`` once per fit), else those of the groups
    of samples nearest each centre (the covariance of all the data for a group left empty).
    """
    if means is not None and covariances is not None:  # given: nothing to learn from the data
        return Gaussian._with_checked_covariances(means, covariances, covariance_type, reg_covar)
    centres, groups = kmeans_start(X, n_components, rng, init=init, sample_weight=sample_weight,
                                   centres=means, labelled_rows=labelled_rows, labels=labels)
    if covariances is not None:
        return Gaussian._with_checked_covariances(centres, covariances, covariance_type, reg_covar)
    overall = overall_covariance(X, sample_weight, covariance_type, n_components, reg_covar)
    components = Gaussian(centres, overall, covariance_type, reg_covar=reg_covar)
    return components.fit(X, groups, fixed=("means",) if means is not None else ())


class _MissingData(NamedTuple):
    X: np.ndarray  # (N, D) with NaN, rows of positive weight only
    sample_weight: np.ndarray  # (N,), positive
    unit_weights: bool
    patterns: missing.MissingPatterns  # the rows of X grouped by pattern of missingness
    mean_imputed: np.ndarray | None  # X with each NaN replaced by its column's weighted mean: for starting


def missing_mixture_statistics(data: Any, components: Gaussian, weights: np.ndarray, workspace=None):
    """The E-step of a Gaussian mixture on rows with missing entries: statistics and objective.

    ``data`` is a ``_MissingData`` (rows grouped once) or a ``MixtureData`` (one chunk of a dask
    array, grouped here). Diagonal and spherical components get diagonal-only moments, as from
    complete data, so that statistics of batches with and without missing entries add up.
    ``workspace`` is not used: the rows are scored pattern by pattern.
    """
    patterns = data.patterns if isinstance(data, _MissingData) else missing.MissingPatterns(data.X)
    log_evidence, statistics = missing.expected_statistics(
        patterns, weights, components.means, missing.ObservedGaussian(components).covariance_stack(),
        None if data.unit_weights else data.sample_weight, log_penalty=components.log_penalty())
    if components.covariance_type in ("diag", "spherical"):
        statistics = statistics.diagonal()
    loglik = log_evidence.sum() if data.unit_weights else data.sample_weight @ log_evidence
    return statistics, float(loglik)


class _MissingGaussianEM(MixtureEM):
    """EM for a Gaussian mixture on data with missing entries (``_MissingData``).

    E-step: responsibilities from the density of each row's observed entries, and under each
    component the conditional distribution of the missing entries, summed straight into the
    expected sufficient statistics (:func:`emlib.mixture.missing.expected_statistics`). The M-step
    is the mixture's: the same ``fit_statistics`` as with complete data.
    """

    statistics_function = staticmethod(missing_mixture_statistics)

    def initialize(self, data: _MissingData, rng: np.random.Generator) -> None:
        # Any start will do for EM: the shared start on the mean-imputed data.
        data = local_part(data)
        self.components, self.weights = self.start(data.mean_imputed, data.sample_weight, rng)


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
        How to seed the starting centres when ``means_init`` is not given: k-means++ or distinct
        random rows. At most ten k-means iterations refine them, and the components start at the
        means and covariances of the groups so formed (:func:`emlib.initialization.kmeans_start`,
        the start every emlib estimator shares); the weights start equal unless ``weights_init`` is
        given. With ``means_init``, the groups are the samples nearest each given mean.
    weights_init : array-like of shape (K,), optional
        Starting mixing weights: positive, summing to one.
    means_init : array-like of shape (K, D), optional
        Starting means.
    covariances_init : array-like, optional
        Starting covariances, shaped as ``covariances_`` (see ``covariance_type``): symmetric positive
        definite matrices, or positive variances.
    n_init : int, default 1
        Number of EM runs from different starts; the one with the highest log-likelihood is kept
        (the first of those that differ only by round-off: see :func:`emlib.em.fit`).
    reg_covar : float, default 1e-6
        Added to the diagonal of every estimated covariance, so a component that collapses onto one
        point stays positive definite (a :class:`~emlib.exceptions.DegenerateComponentWarning` says so).
        It is the exact M-step of a penalised objective, which EM climbs (see ``loglik_history_``).
    missing : {"error", "em"}, default "error"
        What to do with NaN entries in ``X``. ``"error"``: refuse them. ``"em"``: treat them as
        missing values and integrate them out exactly, in ``fit``, ``predict``, ``predict_proba``,
        ``score_samples``, ``score``, ``bic`` and ``aic`` alike (see Notes). Every covariance type
        supports it; a row with no observed entry is an error.
    max_iter : int, default 100
        Largest number of EM iterations per run.
    tol : float, default 1e-5
        Convergence threshold: a run stops when the objective changes by at most ``tol`` per sample
        (per unit of sample weight) in one iteration. The change does not depend on the data's units.
        scikit-learn's ``tol`` means the same (on its lower bound), with a default of 1e-3.
    accelerate : {None, "squarem"}, default None
        ``"squarem"``: EM accelerated by SQUAREM (see :func:`emlib.em.fit`), which extrapolates
        along pairs of EM steps and keeps a point only if the objective does not go down: the same
        maximum, in far fewer E-steps when EM is slow (overlapping components). ``n_iter_`` then counts
        accelerated iterations and ``n_e_steps_`` the E-steps they cost. ``None``: plain EM.
        It applies to ``fit`` (on a dask array too) and so to the first :meth:`partial_fit` call,
        which is ``fit`` on its batch; a later ``partial_fit`` update is one E-step and one M-step,
        with nothing to extrapolate, and is the same either way.
    warm_start : bool, default False
        Start ``fit`` from the parameters of the previous fit, if there is one (``n_init`` is then 1
        and the ``*_init`` arguments are not used).
    learning_decay : float, default 0.7
        ``kappa``, in (0.5, 1], of the step ``(t + learning_offset) ** -kappa`` by which
        :meth:`partial_fit` moves the running statistics at update ``t``: near 0.5 the fit follows
        recent batches closely, 1 averages every batch alike. (0.7 and 10 are also scikit-learn's
        defaults for its online LDA.)
    learning_offset : float, default 10
        ``t0`` >= 0 of the same step: larger values make the first updates smaller, which small
        batches need so as not to overwrite what the first fit learnt.
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
    precisions_ : ndarray
        Inverse covariances, shaped as ``covariances_`` (scikit-learn's shapes).
    precisions_cholesky_ : ndarray
        ``P_k = L_k^{-T}`` for the lower Cholesky factor ``L_k`` of each covariance, so that
        ``P_k P_k^T`` is the precision: (K, D, D) full, (D, D) tied, (K, D) diag (``1/sqrt(var)``),
        (K,) spherical, as in scikit-learn.
    components_ : emlib.distributions.Gaussian
        The fitted components (they score data with ``log_prob`` and refit with ``fit``).
    n_features_in_ : int
        Number of features ``D`` seen in ``fit``.
    converged_ : bool
        Whether EM converged within ``max_iter`` iterations.
    n_iter_ : int
        Iterations run by the kept start.
    n_e_steps_ : int
        E-steps run by the kept start: ``n_iter_ + 1`` for plain EM, fewer iterations' worth with
        ``accelerate="squarem"``.
    loglik_history_ : ndarray
        The objective EM climbs, at the starting values (entry 0) and after each iteration:
        ``n_iter_ + 1`` values, sample weights included. It never decreases. It is the
        log-likelihood with each component's log-density lowered by ``reg_covar * tr(inv(Sigma_k)) / 2``
        (:meth:`emlib.distributions.Gaussian.log_penalty`), the objective whose exact maximiser the
        regularised M-step is; with ``reg_covar=0`` it is the log-likelihood itself, and otherwise
        it lies just below ``score(X) * n_samples``.
    restart_logliks_ : ndarray of shape (n_init,)
        Final objective of every start.
    statistics_ : emlib.distributions.WeightedMoments
        The running sufficient statistics per unit of sample weight, which :meth:`partial_fit`
        updates (totals (K,), first moments (K, D), second moments (K, D, D), or (K, D) for diag
        and spherical); O(K D^2) numbers, whatever was seen.
    n_samples_seen_ : float
        The sample weight seen by the last ``fit`` and the ``partial_fit`` calls since.
    n_steps_ : int
        The number of ``partial_fit`` updates since the last ``fit`` (0 after ``fit``).

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

    ``fit(X, y)`` ignores ``y``; the estimator works in scikit-learn's ``Pipeline``,
    ``GridSearchCV`` (``score`` is the mean log-likelihood per sample; pass
    ``scoring=lambda est, X, y=None: -est.bic(X)`` to select by BIC), ``clone`` and pickling.

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

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full", init: str = "kmeans++",
                 weights_init: ArrayLike | None = None, means_init: ArrayLike | None = None,
                 covariances_init: ArrayLike | None = None, n_init: int = 1, reg_covar: float = 1e-6,
                 missing: str = "error", max_iter: int = 100, tol: float = 1e-5, accelerate: str | None = None,
                 warm_start: bool = False, learning_decay: float = LEARNING_DECAY,
                 learning_offset: float = LEARNING_OFFSET, random_state: RandomState = None, verbose: bool = False):
        super().__init__(n_components, init=init, weights_init=weights_init, n_init=n_init,
                         max_iter=max_iter, tol=tol, accelerate=accelerate, warm_start=warm_start,
                         learning_decay=learning_decay, learning_offset=learning_offset,
                         random_state=random_state, verbose=verbose)
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

    def _update_tags(self, tags) -> None:
        tags.input_tags.allow_nan = self.missing == "em"

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        if check_choice(self.missing, "missing", _MISSING_CHOICES) == "em":
            X = missing.check_missing_data(X, fitting=fitting)
        else:
            X = Gaussian.check_data(X, nan_hint=" (or pass missing='em' to fit them)")
        if fitting:
            check_spread(X)
        return X

    def _validated_facts(self, data) -> tuple:
        return () if isinstance(data, _MissingData) else (FINITE,)  # missing entries are NaN

    def _fitted_settings(self) -> dict[str, Any]:
        return {**super()._fitted_settings(), "covariance_type": self.components_.covariance_type}

    def _start(self, X) -> GaussianStart:
        K, D = self.n_components, X.shape[1]
        means = None if self.means_init is None else check_means_init(self.means_init, K, D)
        covariances = None if self.covariances_init is None else Gaussian.check_covariances(
            self.covariances_init, self.covariance_type, K, D, name="covariances_init")
        return GaussianStart(K, self.covariance_type, float(self.reg_covar), self.init, self._initial_weights(),
                             means, covariances)

    def _check_survey(self, found) -> None:
        check_column_ranges(found.minimum, found.maximum)

    def _em_problem(self, X, sample_weight, start, found=None):
        if self.missing == "error":
            return super()._em_problem(X, sample_weight, start)
        observed = ~np.isnan(X)
        incomplete = found.n_incomplete if found is not None else np.count_nonzero(~observed.all(axis=1))
        if not incomplete:  # nothing missing: the ordinary (fast) path
            return super()._em_problem(X, sample_weight, start)
        unit_weights = bool(np.all(sample_weight == 1.0))
        if start is None:  # a batch of a stream: no starting values to prepare
            return _MissingGaussianEM(None), _MissingData(X, sample_weight, unit_weights,
                                                          missing.MissingPatterns(X), None)
        if found is None:
            counts, sums = sample_weight @ observed, sample_weight @ np.where(observed, X, 0.0)
        else:  # a sample of a dask array: the columns' counts and sums are over all its rows
            counts, sums = found.observed, found.column_sums
        if not np.all(counts > 0):
            raise ValueError(
                f"column {int(np.argmin(counts > 0))} of X is observed only in rows of sample_weight 0; "
                "its mean cannot be estimated"
            )
        column_means = sums / counts
        if found is None:
            with np.errstate(invalid="ignore"):
                constant = np.flatnonzero(np.nanmax(X, axis=0) == np.nanmin(X, axis=0))
        else:
            constant = np.flatnonzero(found.maximum == found.minimum)
        if constant.size:  # e.g. observed once: with complete data the final fit would show a collapse
            warnings.warn(
                f"column(s) {constant.tolist()} of X take a single observed value, so their variance "
                "cannot be estimated and only reg_covar sets it. Remove such columns, or set reg_covar "
                "to a variance that means something for them.",
                DegenerateComponentWarning,
                stacklevel=user_stacklevel(),
            )
        data = _MissingData(X, sample_weight, unit_weights, missing.MissingPatterns(X),
                            np.where(observed, X, column_means))
        return _MissingGaussianEM(start), data

    def _scoring_components(self, X):
        if np.isnan(X).any():  # only reachable with missing="em" (_check_X refuses NaN otherwise)
            return missing.ObservedGaussian(self.components_)
        return self.components_

    def impute(self, X: ArrayLike) -> np.ndarray:
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
        check_n_features(X, self.n_features_in_, type(self).__name__)
        covariances = missing.ObservedGaussian(self.components_).covariance_stack()
        return missing.conditional_means(missing.MissingPatterns(X), self.weights_, self.means_,
                                         covariances)

    def _warn_if_degenerate(self) -> None:
        # Judged on the final fit only: EM may pass through a collapse and leave it again.
        self.components_.warn_if_collapsed(stacklevel=user_stacklevel())

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
        """``L^{-T}`` for the lower Cholesky factor ``L`` of each covariance, in scikit-learn's shapes.

        (K, D, D) full, (D, D) tied, (K, D) diag and (K,) spherical (``1 / sqrt(variance)``).
        """
        self._check_is_fitted()
        components = self.components_
        if components.covariance_type in ("diag", "spherical"):
            return 1.0 / np.sqrt(components.covariances)
        factors = components.precisions_cholesky
        return factors[0].copy() if components.covariance_type == "tied" else np.array(factors)

    @property
    def precisions_(self) -> np.ndarray:
        """Inverse covariances, in the shape of ``covariances_`` (scikit-learn's shapes)."""
        self._check_is_fitted()
        if self.components_.covariance_type in ("diag", "spherical"):
            return 1.0 / self.components_.covariances
        P = self.precisions_cholesky_
        return P @ np.swapaxes(P, -1, -2)


def check_means_init(means_init, n_components: int, n_features: int) -> np.ndarray:
    """``means_init`` as a finite (K, D) float array (a 1-D array for one feature), of the data's magnitudes."""
    try:
        means = np.array(as_numeric_array(means_init, "means_init"), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("means_init must be an array of numbers of shape (n_components, n_features)") from None
    if means.ndim == 1 and n_features == 1:
        means = means[:, None]
    if means.shape != (n_components, n_features):
        raise ValueError(f"means_init must have shape {(n_components, n_features)}, got {means.shape}")
    if not np.all(np.isfinite(means)):
        raise ValueError("means_init contains NaN or infinite values")
    largest = np.max(np.abs(means))
    if largest > MAX_MAGNITUDE:  # squared distances to such a mean overflow
        raise ValueError(
            f"means_init has values as large as {largest:.3g} in absolute value, beyond what emlib fits "
            f"({MAX_MAGNITUDE:.0e}, as for the data)"
        )
    return means
