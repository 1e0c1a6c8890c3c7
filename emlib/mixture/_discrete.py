"""Mixtures for discrete data: binary vectors (mixtures of Bernoullis) and counts (Poisson mixtures).

They differ from :class:`~emlib.GaussianMixture` only in their component family: the E-step
(responsibilities, reduced to weighted sums) and the M-step (mixing weights, then
``components.fit_statistics``) are :class:`emlib.mixture.BaseMixture`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from emlib._estimator import LEARNING_DECAY, LEARNING_OFFSET
from emlib._validation import BINARY, COUNTS, FINITE, as_numeric_array
from emlib.distributions.bernoulli import DEFAULT_MIN_PROB, Bernoulli
from emlib.distributions.poisson import Poisson
from emlib.initialization import kmeans_start
from emlib.mixture._base import BaseMixture

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, RandomState

__all__ = ["BernoulliMixture", "PoissonMixture", "bernoulli_start", "poisson_start"]


def bernoulli_start(X: ArrayLike, rng: np.random.Generator, n_components: int, init: str, min_prob: float,
                    sample_weight: ArrayLike | None = None) -> Bernoulli:
    """Starting Bernoulli components: the shared k-means start, each group's mean smoothed.

    One pseudo-sample at the overall mean joins every group, so that no starting probability is
    exactly 0 or 1 and no group is empty. (On binary data the squared distance of k-means is the
    Hamming distance.)
    """
    _, groups = kmeans_start(X, n_components, rng, init=init, sample_weight=sample_weight)
    return Bernoulli(_smoothed_group_means(X, groups, pseudo_samples=1.0), min_prob=min_prob)


def poisson_start(X: ArrayLike, rng: np.random.Generator, n_components: int, init: str,
                  sample_weight: ArrayLike | None = None, labelled_rows=None, labels=None) -> Poisson:
    """Starting Poisson components: the shared k-means start, each group's mean count smoothed.

    Half a pseudo-sample at the overall mean joins every group: no group is empty, and no starting
    rate is zero where the data have counts (a zero rate could never become positive again).
    """
    _, groups = kmeans_start(X, n_components, rng, init=init, sample_weight=sample_weight,
                             labelled_rows=labelled_rows, labels=labels)
    return Poisson(_smoothed_group_means(X, groups, pseudo_samples=0.5))


def _smoothed_group_means(X: np.ndarray, groups: np.ndarray, pseudo_samples: float) -> np.ndarray:
    """Each group's mean of ``X`` (N, D) with ``pseudo_samples`` samples at the overall mean added to
    the group, shape (K, D); ``groups`` (N, K) holds each sample's weight in each group."""
    overall = groups.sum(axis=1) @ X / groups.sum()
    return (groups.T @ X + pseudo_samples * overall) / (groups.sum(axis=0) + pseudo_samples)[:, None]


class _BernoulliStart(NamedTuple):
    n_components: int
    init: str
    min_prob: float
    weights: np.ndarray
    probabilities: np.ndarray | None = None

    def __call__(self, X, sample_weight, rng):
        if self.probabilities is not None:
            components = Bernoulli(self.probabilities, min_prob=self.min_prob)
        else:
            components = bernoulli_start(X, rng, self.n_components, self.init, self.min_prob, sample_weight)
        return components, self.weights.copy()


class _PoissonStart(NamedTuple):
    n_components: int
    init: str
    weights: np.ndarray
    rates: np.ndarray | None = None

    def __call__(self, X, sample_weight, rng):
        if self.rates is not None:
            components = Poisson(self.rates)
        else:
            components = poisson_start(X, rng, self.n_components, self.init, sample_weight)
        return components, self.weights.copy()


class BernoulliMixture(BaseMixture):
    """Mixture of multivariate Bernoulli distributions (latent class model) fitted by EM.

    Each sample is a binary vector of ``D`` features. Component ``k`` says that feature ``d`` is 1
    with probability ``probabilities_[k, d]``, independently of the other features *given the
    component*; the mixture captures the dependence between features. The classic example is
    binarised images of handwritten digits, where each component's probabilities look like a
    blurred prototype of one way of writing a digit.

    Parameters
    ----------
    n_components : int, default 1
        Number of mixture components ``K``.
    init : {"kmeans++", "random"}, default "kmeans++"
        How to seed ``K`` starting rows when ``probabilities_init`` is not given: k-means++ (on binary
        data squared distance is the Hamming distance) or distinct random rows, refined by at most ten
        k-means iterations (:func:`emlib.initialization.kmeans_start`). Each component then starts at
        the mean of its group, with one extra pseudo-sample at the overall mean so that no starting
        probability is exactly 0 or 1.
    weights_init : array-like of shape (K,), optional
        Starting mixing weights (must sum to one).
    probabilities_init : array-like of shape (K, D), optional
        Starting probabilities, in ``[0, 1]``.
    n_init : int, default 1
        Number of EM runs from different starts; the one with the highest log-likelihood is kept
        (the first of those that differ only by round-off: see :func:`emlib.em.fit`).
        Mixtures of Bernoullis have many local maxima: use several.
    min_prob : float, default 1e-10
        Every probability is kept in ``[min_prob, 1 - min_prob]``, so a feature never seen "on" in a
        component still gets a finite log-probability (see :class:`~emlib.distributions.Bernoulli`).
    max_iter : int, default 100
        Largest number of EM iterations per run.
    tol : float, default 1e-5
        Stop when the log-likelihood changes by at most ``tol`` per sample in one iteration.
    accelerate : {None, "squarem"}, default None
        ``"squarem"``: EM accelerated by SQUAREM (see :func:`emlib.em.fit`), which extrapolates
        along pairs of EM steps and keeps a point only if the objective does not go down: the same
        maximum, in far fewer E-steps when EM is slow (overlapping components). ``n_iter_`` then counts
        accelerated iterations and ``n_e_steps_`` the E-steps they cost. ``None``: plain EM.
        It applies to ``fit`` (on a dask array too) and so to the first :meth:`partial_fit` call,
        which is ``fit`` on its batch; a later ``partial_fit`` update is one E-step and one M-step,
        with nothing to extrapolate, and is the same either way.
    warm_start : bool, default False
        Start ``fit`` from the parameters of the previous fit, if there is one.
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
    probabilities_ : ndarray of shape (K, D)
        ``P(feature d = 1 | component k)``.
    components_ : Bernoulli
        The fitted components (they score data with ``log_prob`` and refit with ``fit``).
    converged_ : bool
        Whether EM converged within ``max_iter`` iterations.
    n_iter_ : int
        Iterations run by the kept start.
    n_e_steps_ : int
        E-steps run by the kept start: ``n_iter_ + 1`` for plain EM, fewer iterations' worth with
        ``accelerate="squarem"``.
    loglik_history_ : ndarray
        Total log-likelihood at the starting values and after each iteration (``n_iter_ + 1``
        values); never decreases.
    restart_logliks_ : ndarray of shape (n_init,)
        Final log-likelihood of every start.
    statistics_ : emlib.distributions.WeightedSums
        The running sufficient statistics per unit of sample weight, which :meth:`partial_fit`
        updates (totals (K,) and sums (K, D)); O(K D) numbers, whatever was seen.
    n_samples_seen_ : float
        The sample weight seen by the last ``fit`` and the ``partial_fit`` calls since.
    n_steps_ : int
        The number of ``partial_fit`` updates since the last ``fit`` (0 after ``fit``).

    Examples
    --------
    >>> import numpy as np
    >>> from emlib import BernoulliMixture
    >>> rng = np.random.default_rng(0)
    >>> truth = np.array([[0.9, 0.9, 0.1, 0.1], [0.1, 0.1, 0.9, 0.9]])
    >>> X = (rng.random((1000, 4)) < truth[rng.integers(0, 2, 1000)]).astype(int)
    >>> bm = BernoulliMixture(n_components=2, random_state=0).fit(X)
    >>> np.round(bm.probabilities_[np.argsort(bm.probabilities_[:, 0])], 1)
    array([[0.1, 0.1, 0.9, 0.9],
           [0.9, 0.9, 0.1, 0.1]])
    """

    def __init__(self, n_components: int = 1, *, init: str = "kmeans++", weights_init: ArrayLike | None = None,
                 probabilities_init: ArrayLike | None = None, n_init: int = 1, min_prob: float = DEFAULT_MIN_PROB,
                 max_iter: int = 100, tol: float = 1e-5, accelerate: str | None = None, warm_start: bool = False,
                 learning_decay: float = LEARNING_DECAY, learning_offset: float = LEARNING_OFFSET,
                 random_state: RandomState = None, verbose: bool = False):
        super().__init__(n_components, init=init, weights_init=weights_init, n_init=n_init,
                         max_iter=max_iter, tol=tol, accelerate=accelerate, warm_start=warm_start,
                         learning_decay=learning_decay, learning_offset=learning_offset,
                         random_state=random_state, verbose=verbose)
        self.probabilities_init = probabilities_init
        self.min_prob = min_prob

    def _check_parameters(self) -> None:
        super()._check_parameters()
        # Bernoulli validates min_prob with a message naming it.
        Bernoulli(np.full((1, 1), 0.5), min_prob=self.min_prob)

    def _update_tags(self, tags) -> None:
        tags.input_tags.positive_only = True

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        return Bernoulli.check_data(X)

    def _validated_facts(self, data) -> tuple:
        return (FINITE, BINARY)

    def _start(self, X) -> _BernoulliStart:
        start = None
        if self.probabilities_init is not None:
            start = _check_probabilities_init(self.probabilities_init, self.n_components, X.shape[1])
        return _BernoulliStart(self.n_components, self.init, self.min_prob, self._initial_weights(), start)

    @property
    def probabilities_(self) -> np.ndarray:
        """``P(feature d = 1 | component k)``, shape (K, D)."""
        self._check_is_fitted()
        return self.components_.probabilities


def _check_probabilities_init(probabilities_init, n_components: int, n_features: int) -> np.ndarray:
    try:
        start = np.array(as_numeric_array(probabilities_init, "probabilities_init"), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("probabilities_init must be an array of numbers of shape (n_components, "
                         "n_features)") from None
    if start.shape != (n_components, n_features):
        raise ValueError(
            f"probabilities_init must have shape {(n_components, n_features)}, got {start.shape}"
        )
    if not np.all(np.isfinite(start)) or np.any(start < 0) or np.any(start > 1):
        raise ValueError("probabilities_init must contain probabilities in [0, 1]")
    return start


class PoissonMixture(BaseMixture):
    """Mixture of Poisson distributions for counts, fitted by EM.

    Component ``k`` gives feature ``d`` of a sample a Poisson count with mean ``rates_[k, d]``,
    independently across features given the component. A mixture of Poissons is the simplest model
    for *overdispersed* counts (variance larger than the mean), such as yearly earthquake counts.

    Parameters
    ----------
    n_components : int, default 1
        Number of mixture components ``K``.
    init : {"kmeans++", "random"}, default "kmeans++"
        How to seed ``K`` starting rows when ``rates_init`` is not given: k-means++ or distinct random
        rows, refined by at most ten k-means iterations (:func:`emlib.initialization.kmeans_start`).
        Each component then starts at the mean of its group, with half a pseudo-sample at the overall
        mean so that no starting rate is exactly zero.
    weights_init : array-like of shape (K,), optional
        Starting mixing weights (must sum to one).
    rates_init : array-like of shape (K, D) or (K,), optional
        Starting rates (non-negative); a zero rate stays zero (the component then only emits zeros).
    n_init : int, default 1
        Number of EM runs from different starts; the one with the highest log-likelihood is kept
        (the first of those that differ only by round-off: see :func:`emlib.em.fit`).
    max_iter : int, default 100
        Largest number of EM iterations per run.
    tol : float, default 1e-5
        Stop when the log-likelihood changes by at most ``tol`` per sample in one iteration.
    accelerate : {None, "squarem"}, default None
        ``"squarem"``: EM accelerated by SQUAREM (see :func:`emlib.em.fit`), which extrapolates
        along pairs of EM steps and keeps a point only if the objective does not go down: the same
        maximum, in far fewer E-steps when EM is slow (overlapping components). ``n_iter_`` then counts
        accelerated iterations and ``n_e_steps_`` the E-steps they cost. ``None``: plain EM.
        It applies to ``fit`` (on a dask array too) and so to the first :meth:`partial_fit` call,
        which is ``fit`` on its batch; a later ``partial_fit`` update is one E-step and one M-step,
        with nothing to extrapolate, and is the same either way.
    warm_start : bool, default False
        Start ``fit`` from the parameters of the previous fit, if there is one.
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
    rates_ : ndarray of shape (K, D)
        Poisson means of each component and feature.
    components_ : Poisson
        The fitted components (they score data with ``log_prob`` and refit with ``fit``).
    converged_ : bool
        Whether EM converged within ``max_iter`` iterations.
    n_iter_ : int
        Iterations run by the kept start.
    n_e_steps_ : int
        E-steps run by the kept start: ``n_iter_ + 1`` for plain EM, fewer iterations' worth with
        ``accelerate="squarem"``.
    loglik_history_ : ndarray
        Total log-likelihood at the starting values and after each iteration (``n_iter_ + 1``
        values); never decreases.
    restart_logliks_ : ndarray of shape (n_init,)
        Final log-likelihood of every start.
    statistics_ : emlib.distributions.WeightedSums
        The running sufficient statistics per unit of sample weight, which :meth:`partial_fit`
        updates (totals (K,) and sums (K, D)); O(K D) numbers, whatever was seen.
    n_samples_seen_ : float
        The sample weight seen by the last ``fit`` and the ``partial_fit`` calls since.
    n_steps_ : int
        The number of ``partial_fit`` updates since the last ``fit`` (0 after ``fit``).

    Examples
    --------
    >>> import numpy as np
    >>> from emlib import PoissonMixture
    >>> rng = np.random.default_rng(0)
    >>> counts = np.concatenate([rng.poisson(3.0, 400), rng.poisson(15.0, 600)])
    >>> pm = PoissonMixture(n_components=2, random_state=0).fit(counts)
    >>> np.round(np.sort(pm.rates_.ravel()))
    array([ 3., 15.])
    """

    def __init__(self, n_components: int = 1, *, init: str = "kmeans++", weights_init: ArrayLike | None = None,
                 rates_init: ArrayLike | None = None, n_init: int = 1, max_iter: int = 100, tol: float = 1e-5,
                 accelerate: str | None = None, warm_start: bool = False, learning_decay: float = LEARNING_DECAY,
                 learning_offset: float = LEARNING_OFFSET, random_state: RandomState = None, verbose: bool = False):
        super().__init__(n_components, init=init, weights_init=weights_init, n_init=n_init,
                         max_iter=max_iter, tol=tol, accelerate=accelerate, warm_start=warm_start,
                         learning_decay=learning_decay, learning_offset=learning_offset,
                         random_state=random_state, verbose=verbose)
        self.rates_init = rates_init

    def _update_tags(self, tags) -> None:
        # Counts: scikit-learn's checks then feed rounded non-negative data ("categorical" makes
        # them integers).
        tags.input_tags.positive_only = True
        tags.input_tags.categorical = True

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        return Poisson.check_data(X)

    def _validated_facts(self, data) -> tuple:
        return (FINITE, COUNTS)

    def _start(self, X) -> _PoissonStart:
        start = None if self.rates_init is None else _check_rates_init(self.rates_init, self.n_components, X.shape[1])
        return _PoissonStart(self.n_components, self.init, self._initial_weights(), start)

    @property
    def rates_(self) -> np.ndarray:
        """Poisson means, shape (K, D)."""
        self._check_is_fitted()
        return self.components_.rates


def _check_rates_init(rates_init, n_components: int, n_features: int) -> np.ndarray:
    try:
        start = np.array(as_numeric_array(rates_init, "rates_init"), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("rates_init must be an array of numbers of shape (n_components, "
                         "n_features)") from None
    if start.ndim == 1 and n_features == 1:
        start = start[:, None]
    if start.shape != (n_components, n_features):
        raise ValueError(f"rates_init must have shape {(n_components, n_features)}, got {start.shape}")
    if not np.all(np.isfinite(start)) or np.any(start < 0):
        raise ValueError("rates_init must contain finite rates >= 0")
    return start
