"""What every mixture shares: the E-step, the M-step, and the scikit-learn surface.

E-step: responsibilities ``r[n, k] = p(z_n = k | x_n)`` from the components' ``log_prob`` and the
mixing weights (:func:`responsibilities`), reduced at once to the components' weighted sufficient
statistics (``components.statistics(X, r)``, :func:`mixture_statistics`). M-step:
``weights = totals / sum(totals)`` and ``components.fit_statistics(statistics)``. The statistics
are sums over the samples, so the same M-step takes them summed over the chunks of a dask array
(``fit``) or averaged over a stream (``partial_fit``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from emlib._estimator import LEARNING_DECAY, LEARNING_OFFSET, EMEstimator
from emlib._math import normalize_log_columns
from emlib._unconstrained import check_vector, simplex_from_vector, simplex_to_vector
from emlib._validation import (
    as_numeric_array,
    check_choice,
    check_n_features,
    check_positive_int,
    check_probability_vector,
    check_random_state,
    check_sample_weight,
)
from emlib.chunked import (
    ChunkedData,
    is_dask_array,
    local_part,
    sum_over_chunks,
    survey,
)
from emlib.initialization import INIT_METHODS

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, RandomState
    from emlib.elbo import Decomposition
    from emlib.protocols import Distribution, SufficientStatistics

__all__ = ["BaseMixture", "EStepWorkspace", "MixtureData", "MixtureEM", "mixture_statistics", "responsibilities"]

# Rows per block in the E-step: the (K, rows) working arrays stay in cache.
_E_STEP_ROWS = 2048


def responsibilities(components: Distribution, weights: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior probability of each component for each sample: the E-step of a mixture.

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
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    return posterior_from_log_prob(components.log_prob(X), log_weights)


class EStepWorkspace:
    """The large arrays of a mixture's E-step, kept from one iteration to the next.

    A fit scores the same rows at every iteration. Allocated afresh each time, arrays of a few
    megabytes (N x K floats) go back to the system when freed and come back one page fault per
    4 KiB page, which on a virtual machine can cost as much as the arithmetic on them.
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The float64 array called ``name``, of this shape (contents undefined)."""
        array = self._arrays.get(name)
        if array is None or array.shape != shape:
            array = self._arrays[name] = np.empty(shape)
        return array


def _empty(workspace: EStepWorkspace | None, name: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape) if workspace is None else workspace.array(name, shape)


def posterior_from_log_prob(log_prob: np.ndarray, log_weights: np.ndarray,
                            workspace: EStepWorkspace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities (N, K) and log-evidence (N,) from the components' log-densities (N, K).

    ``log_weights`` (K,) is added to every row: the log mixing weights, plus any per-component
    penalty of the objective being climbed. With a ``workspace`` the responsibilities are its
    array, overwritten by the next call.
    """
    n = log_prob.shape[0]
    K = log_weights.shape[0]
    log_weights = log_weights[:, None]
    resp_t = _empty(workspace, "responsibilities", (K, n))
    log_evidence = np.empty(n)
    work = _empty(workspace, "work", (K, min(n, _E_STEP_ROWS)))
    for start in range(0, n, _E_STEP_ROWS):
        stop = min(start + _E_STEP_ROWS, n)
        block = work[:, : stop - start]
        np.add(log_prob[start:stop].T, log_weights, out=block)
        normalize_log_columns(block, resp_t[:, start:stop], log_evidence[start:stop])
    return resp_t.T, log_evidence


def check_possible(log_evidence: np.ndarray, X: np.ndarray, fitting: bool) -> None:
    """A ValueError naming the first sample of ``X`` (N, D) that no component can produce
    (``log_evidence``, (N,), is -inf there): its responsibilities would be NaN.

    ``fitting``: raised by the E-step (``X`` holds the rows of positive weight, of one chunk for a
    dask array, and EM cannot leave the zero), else by predict and predict_proba (the fitted model).
    """
    impossible = np.flatnonzero(np.isneginf(log_evidence))
    if not impossible.size:
        return
    index = int(impossible[0])
    row = X[index]
    values = ", ".join(f"{value:g}" for value in row[:8]) + (", ..." if row.size > 8 else "")
    if fitting:
        where = " (counting the rows of positive weight, within its chunk for a dask array)"
        why = ("the current parameters, and no EM step can change that: zeros in the starting values (a "
               "rate of 0 emits only zeros) or, for partial_fit, components fitted to a column of zeros")
    else:
        where, why = "", "the fitted model"
    raise ValueError(
        f"sample {index} of X{where}, [{values}], has probability zero under every component of {why}"
    )


class MixtureData(NamedTuple):
    """The data :class:`MixtureEM` runs on."""

    X: np.ndarray  # (N, D), rows of positive weight only
    sample_weight: np.ndarray  # (N,), positive
    unit_weights: bool  # every sample weight is 1: skip the multiplications


def mixture_statistics(data: MixtureData, components: Distribution, weights: np.ndarray,
                       workspace: EStepWorkspace | None = None) -> tuple[SufficientStatistics, float]:
    """The E-step of a mixture on in-memory data: expected sufficient statistics and the objective.

    Parameters
    ----------
    data : emlib.mixture.MixtureData
        Rows ``X`` (N, D) and their positive weights (N,).
    components : object
        ``K`` components of any family of ``emlib.distributions``.
    weights : ndarray of shape (K,)
        Mixing weights.
    workspace : emlib.mixture.EStepWorkspace, optional
        Arrays to reuse for the log-densities and responsibilities (the fit's, for its data).

    Returns
    -------
    statistics
        ``components.statistics(X, r * sample_weight)`` for the responsibilities ``r`` (N, K).
    objective : float
        The (weighted) log-likelihood with each component's log-density shifted by its
        ``log_penalty()`` (zero but for a Gaussian with ``reg_covar``): exactly what the M-step
        maximises, so it never decreases. Both are sums over the rows.
    """
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights) + components.log_penalty()
    log_prob = components.log_prob(data.X, out=_empty(workspace, "log_prob", (data.X.shape[0], weights.shape[0])))
    resp, log_evidence = posterior_from_log_prob(log_prob, log_weights, workspace)
    check_possible(log_evidence, data.X, fitting=True)
    if data.unit_weights:
        return components.statistics(data.X, resp), float(log_evidence.sum())
    resp.T[...] *= data.sample_weight  # in place: the responsibilities are this call's own
    return components.statistics(data.X, resp), float(data.sample_weight @ log_evidence)


def pack_mixture_chunk(X: np.ndarray, sample_weight: np.ndarray | None, extra=None) -> MixtureData:
    """One chunk of a dask array (already validated) as :class:`MixtureData`: rows of weight zero
    dropped, as ``fit`` drops them from in-memory data."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if sample_weight is None:
        return MixtureData(X, np.ones(X.shape[0]), True)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    keep = sample_weight > 0
    if not keep.all():
        X, sample_weight = X[keep], sample_weight[keep]
    return MixtureData(X, sample_weight, bool(np.all(sample_weight == 1.0)))


class MixtureEM:
    """A finite mixture under :func:`emlib.em.fit`: the parameters being fitted and the two steps.

    The data are a :class:`~emlib.mixture.MixtureData`, or chunked data (a dask array) whose
    E-step is the sum of :func:`mixture_statistics` over its chunks.

    Parameters
    ----------
    start : callable
        ``start(X, sample_weight, rng) -> (components, weights)``: the starting component
        distributions (any family of ``emlib.distributions``) and mixing weights (K,).
        The estimator hands it over with its settings bound; the model reads nothing else.
    """

    #: The E-step on in-memory data, ``(data, components, weights) -> (statistics, objective)``.
    statistics_function = staticmethod(mixture_statistics)

    def __init__(self, start: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[Any, np.ndarray]]):
        self.start = start
        self.components = None
        self.weights = None
        self._workspace = EStepWorkspace()

    def initialize(self, data: MixtureData, rng: np.random.Generator) -> None:
        data = local_part(data)  # for a dask array, a random sample of its rows
        self.components, self.weights = self.start(data.X, data.sample_weight, rng)

    def e_step(self, data: MixtureData) -> tuple[SufficientStatistics, float]:
        """Expected sufficient statistics under the responsibilities, and the objective
        (see :func:`mixture_statistics`); summed over the chunks of chunked data."""
        # Chunks differ in size and may run elsewhere: only in-memory data reuse the workspace.
        workspace = None if isinstance(data, ChunkedData) else self._workspace
        return sum_over_chunks(self.statistics_function, data, self.components, self.weights, workspace)

    def m_step(self, data: MixtureData, statistics: SufficientStatistics) -> None:
        """Mixing weights from the totals; the components from their statistics."""
        self.weights = statistics.totals / statistics.totals.sum()
        self.components.fit_statistics(statistics)

    def get_vector(self) -> np.ndarray:
        """The parameters as one vector of unconstrained coordinates, for accelerated EM, shape (P,).

        The square roots of the mixing weights (K; mapped back by squaring and dividing by the
        sum), then the components' own ``get_vector()`` (see ``emlib._unconstrained``).
        """
        return np.concatenate([simplex_to_vector(self.weights), self.components.get_vector()])

    def set_vector(self, vector: np.ndarray) -> None:
        """Set the parameters from :meth:`get_vector`'s coordinates; ``ValueError`` if they are invalid
        (the parameters are then unchanged)."""
        K = self.weights.shape[0]
        vector = check_vector(vector, K + self.components.get_vector().size, "vector")
        weights = simplex_from_vector(vector[:K], np.ones(K, dtype=bool), "vector")
        self.components.set_vector(vector[K:])
        self.weights = weights


def _pack_unweighted(X: np.ndarray, extra=None) -> MixtureData:
    return pack_mixture_chunk(X, None)


class _FittedStart:
    """Start from given parameters (``warm_start``): copies, so the fitted ones are never changed."""

    def __init__(self, components, weights: ArrayLike):
        self.components, self.weights = components, weights

    def __call__(self, X, sample_weight, rng):
        return copy.deepcopy(self.components), self.weights.copy()


class BaseMixture(EMEstimator):
    """The estimator surface every mixture shares, in scikit-learn's terms.

    Subclasses provide ``_check_X(X)`` (validation for their data type, returning an (N, D)
    array) and ``_start(X)`` (a callable ``start(X, sample_weight, rng) -> (components,
    weights)`` with the settings bound, for :class:`MixtureEM`, whose user starting values it
    checks against the data, once per fit and before any work). They may override, for data the
    components cannot score directly (missing entries), ``_em_problem(X, sample_weight, start)``
    and ``_scoring_components(X)``. The fitted components are in ``components_``.
    """

    _fitted_attribute: ClassVar[str] = "components_"
    _sklearn_estimator_type: ClassVar[str] = "density_estimator"
    _estimator_type: ClassVar[str] = "DensityEstimator"  # what scikit-learn 1.4-1.5 read
    _init_choices: tuple[str, ...] = INIT_METHODS

    def __init__(self, n_components: int = 1, *, init: str = "kmeans++", weights_init: ArrayLike | None = None,
                 n_init: int = 1, max_iter: int = 100, tol: float = 1e-5, accelerate: str | None = None,
                 warm_start: bool = False, learning_decay: float = LEARNING_DECAY,
                 learning_offset: float = LEARNING_OFFSET, random_state: RandomState = None, verbose: bool = False):
        self.n_components = n_components
        self.init = init
        self.weights_init = weights_init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.accelerate = accelerate
        self.warm_start = warm_start
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: object = None, *, sample_weight: ArrayLike | None = None) -> BaseMixture:
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,), or dask.array.Array
            1-D data is one feature. A ``dask.array`` chunked along its rows (data larger than
            memory, or spread over a cluster) is fitted where it lives: each E-step sums the
            statistics and log-likelihoods of the chunks, computed by dask's current scheduler,
            and only these travel; the starting values come from a random sample of at most
            ``emlib.chunked.INITIAL_SAMPLE_SIZE`` (100,000) rows, gathered in one validating pass
            before EM starts (all rows, in order, when there are no more: the in-memory fit's
            start). From the same start the iterates are the in-memory fit's, up to round-off.
        y : None
            Ignored: mixtures are unsupervised. Accepted so that scikit-learn's pipelines and
            ``fit(X, y)`` habits work (it is never taken for ``sample_weight``).
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights: a weight of 2 counts a row exactly as if it appeared twice, a weight
            of 0 as if it were absent. Non-negative, not all zero. When ``X`` is a dask array,
            an array in memory or a dask array of any chunks (they are matched to ``X``'s).

        Returns
        -------
        self

        Warns
        -----
        emlib.exceptions.ConvergenceWarning
            If EM stopped at ``max_iter`` before the objective settled.
        emlib.exceptions.DegenerateComponentWarning
            If a component collapsed onto a point or received no weight.

        Notes
        -----
        ``fit`` also sets the running statistics that :meth:`partial_fit` continues from
        (``statistics_``, ``n_samples_seen_``, ``n_steps_ = 0``).
        """
        self._check_parameters()
        warm = bool(self.warm_start) and self.__sklearn_is_fitted__()
        if warm:
            self._check_continues_fit("a warm start", "Set warm_start=False to start afresh")
        if is_dask_array(X):
            model, data, n_features, weight = self._chunked_em_problem(X, sample_weight, warm)
        else:
            X = self._check_X(X, fitting=True)
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
            keep = sample_weight > 0
            self._check_enough_samples(np.count_nonzero(keep))
            if warm:
                check_n_features(X, self.n_features_in_, type(self).__name__)
            start = self._fitted_start() if warm else self._start(X)
            if not keep.all():  # a zero weight is an absent row
                X, sample_weight = X[keep], sample_weight[keep]
            model, data = self._em_problem(X, sample_weight, start)
            n_features, weight = X.shape[1], float(sample_weight.sum())
        result = self._run_em(model, data, tol_scale=weight, n_init=1 if warm else self.n_init)
        self.weights_ = result.model.weights
        self.n_features_in_ = n_features
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.n_e_steps_ = result.n_e_steps
        self.loglik_history_ = result.loglik_history
        self.restart_logliks_ = result.restart_logliks
        self._begin_stream(result.expected_statistics, weight)
        self.components_ = result.model.components  # last: its presence means "fitted"
        self._warn_if_degenerate()
        return self

    def partial_fit(self, X: ArrayLike, y: object = None, *,
                    sample_weight: ArrayLike | None = None) -> BaseMixture:
        """Update the fit with one batch of a stream: one step of stepwise (online) EM.

        The first call (on an unfitted estimator) is :meth:`fit` on its batch, ``n_init``
        restarts included; it needs at least ``n_components`` samples. Every later call runs the
        E-step on its batch at the current parameters, moves the running statistics (kept per
        unit of sample weight) towards the batch's, ``s <- (1 - g_t) s + g_t * batch / weight``
        with step ``g_t = (t + learning_offset) ** -learning_decay`` at update ``t = 1, 2, ...``,
        and sets the parameters by the M-step from them (Cappé & Moulines, 2009; Liang & Klein,
        2009). Batches may have any size (one sample, even). Memory holds the statistics alone,
        ``O(K D^2)`` for Gaussians, whatever the length of the stream. With a step of 1
        (``learning_offset=0`` at ``t = 1``) an update is exactly one EM iteration on the batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            One batch of the stream (in memory).
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights, as in :meth:`fit`: a batch with weights counts as the batch with
            each row repeated that many times.

        Returns
        -------
        self

        Notes
        -----
        After an update, ``statistics_`` holds the running statistics, ``n_steps_`` the number
        of updates since the last :meth:`fit` and ``n_samples_seen_`` the total sample weight
        seen since; ``converged_``, ``n_iter_``, ``n_e_steps_``, ``loglik_history_`` and
        ``restart_logliks_`` still describe the fit that started the stream. ``accelerate`` acts on
        that fit alone: an update is one E-step and one M-step, the same with or without it.
        """
        if not self.__sklearn_is_fitted__():
            return self.fit(X, sample_weight=sample_weight)
        if is_dask_array(X):
            raise TypeError("partial_fit takes a batch in memory; fit takes a dask array (or pass X.compute())")
        self._check_parameters()
        self._check_continues_fit("partial_fit", "Call fit to start afresh")
        X = self._checked_fitted_X(X)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        keep = sample_weight > 0
        if not keep.all():
            X, sample_weight = X[keep], sample_weight[keep]
        model, data = self._em_problem(X, sample_weight, None)
        model.components, model.weights = copy.deepcopy(self.components_), self.weights_.copy()
        self._stream_step(model, data, float(sample_weight.sum()))
        self.weights_ = model.weights
        self.components_ = model.components
        return self

    def fit_predict(self, X: ArrayLike, y: object = None, *, sample_weight: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return the most probable component of each sample, shape (n_samples,)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _check_enough_samples(self, n_positive: int) -> None:
        if n_positive < self.n_components:
            raise ValueError(
                f"X has {n_positive} sample(s) (with positive weight), fewer than "
                f"n_components={self.n_components}"
            )

    def _fitted_settings(self) -> dict[str, Any]:
        return {"n_components": self.components_.n_components}

    def _fitted_start(self) -> _FittedStart:
        return _FittedStart(self.components_, self.weights_)

    def _em_problem(self, X, sample_weight, start, found=None):
        """The model and data that :func:`emlib.em.fit` runs on (subclasses may substitute).

        ``start`` is None for a batch of a stream (the model then gets the fitted parameters);
        ``found`` is the :class:`~emlib.chunked.Survey` of a dask array whose random sample
        ``X`` is.
        """
        return MixtureEM(start), MixtureData(X, sample_weight, bool(np.all(sample_weight == 1.0)))

    def _check_chunk(self, X) -> np.ndarray:
        """Validation of one chunk of a dask array (as of in-memory data, without data-wide checks)."""
        return self._check_X(X, fitting=False)

    def _check_survey(self, found) -> None:
        """Data-wide checks of a dask array from its survey (subclasses extend)."""

    def _chunked_em_problem(self, X, sample_weight, warm: bool):
        """The model and chunked data for a dask array: one pass to validate and sample, then the
        in-memory problem on the sample, whose E-step maps over the chunks."""
        found = survey(X, sample_weight, self._check_chunk, self.random_state)
        self._check_enough_samples(found.n_positive)
        self._check_survey(found)
        sample = found.sample if found.sample.ndim == 2 else found.sample[:, None]
        if warm:
            check_n_features(sample, self.n_features_in_, type(self).__name__)
        start = self._fitted_start() if warm else self._start(sample)
        model, local = self._em_problem(sample, found.sample_weight_local, start, found)
        arrays = (found.X,) if found.sample_weight is None else (found.X, found.sample_weight)
        pack = pack_mixture_chunk if found.sample_weight is not None else _pack_unweighted
        data = ChunkedData(arrays, pack, (None,) * len(found.row_chunks), local, found.row_chunks)
        return model, data, sample.shape[1], found.weight_total

    def _warn_if_degenerate(self) -> None:
        """Warn about a degenerate final fit (subclasses whose components can collapse say how)."""

    def _check_parameters(self) -> None:
        check_positive_int(self.n_components, "n_components")
        self._check_run_parameters()
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

    def _initial_weights(self) -> np.ndarray:
        if self.weights_init is not None:
            return check_probability_vector(self.weights_init, "weights_init", size=self.n_components)
        return np.full(self.n_components, 1.0 / self.n_components)

    # -- inference --------------------------------------------------------------------------------
    def _checked_fitted_X(self, X) -> np.ndarray:
        self._check_is_fitted()
        X = as_numeric_array(X, "X")
        if X.ndim == 1 and self.n_features_in_ > 1:
            raise ValueError(
                f"X is 1-D, but {type(self).__name__} was fitted on {self.n_features_in_} features. "
                "Reshape your data: X.reshape(1, -1) for a single sample."
            )
        X = self._check_X(X, fitting=False)
        check_n_features(X, self.n_features_in_, type(self).__name__)
        return X

    def _scoring_components(self, X):
        """What scores ``X`` with ``log_prob``: the components (subclasses may wrap them)."""
        return self.components_

    def _posterior(self, X, possible: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Responsibilities (N, K) and log-evidence (N,) of ``X``; with ``possible``, a ValueError
        for a sample no component can produce."""
        X = self._checked_fitted_X(X)
        posterior, log_evidence = responsibilities(self._scoring_components(X), self.weights_, X)
        if possible:
            check_possible(log_evidence, X, fitting=False)
        return posterior, log_evidence

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Responsibilities ``p(z = k | x)`` of each sample, shape (n_samples, n_components).

        Raises ``ValueError`` for a sample that every component gives zero density.
        """
        return np.ascontiguousarray(self._posterior(X, possible=True)[0])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most probable component of each sample, shape (n_samples,).

        Raises ``ValueError`` for a sample that every component gives zero density.
        """
        return np.argmax(self._posterior(X, possible=True)[0].T, axis=0)

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Log-likelihood ``log p(x_n)`` of each sample, shape (n_samples,)."""
        return self._posterior(X)[1]

    def score(self, X: ArrayLike, y: object = None) -> float:
        """Mean log-likelihood per sample, ``sum_n log p(x_n) / n_samples`` (``y`` is ignored).

        Higher is better; this is what scikit-learn's ``GridSearchCV`` maximises by default.
        """
        return float(np.mean(self.score_samples(X)))

    def evidence_lower_bound(self, X: ArrayLike, q: ArrayLike) -> Decomposition:
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
        emlib.elbo.Decomposition
            The named pair ``(bound, kl)``: ``L(q)``, which equals the log-likelihood exactly when
            ``q`` is the posterior, and ``KL(q || p(Z | X))``, non-negative and zero at the posterior.
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
        return self.components_.n_components - 1 + self.components_.n_parameters

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion ``-2 log L + n_parameters log N`` on ``X``; lower is better."""
        X = self._checked_fitted_X(X)
        loglik = self.score_samples(X).sum()
        return float(-2.0 * loglik + self.n_parameters() * np.log(X.shape[0]))

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion ``-2 log L + 2 n_parameters`` on ``X``; lower is better."""
        loglik = self.score_samples(X).sum()
        return float(-2.0 * loglik + 2.0 * self.n_parameters())

    def sample(self, n_samples: int = 1, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default 1
        random_state : None, int or numpy.random.Generator
            Seed for the draws; ``None`` uses fresh entropy (not the estimator's ``random_state``).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,)
            The component each sample came from.
        """
        self._check_is_fitted()
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        labels = rng.choice(len(self.weights_), size=n_samples, p=self.weights_)
        return self.components_.sample(labels, rng), labels
