"""HMM estimators: Gaussian, categorical and Poisson emissions on one shared base."""

from __future__ import annotations

import copy
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from emlib._estimator import LEARNING_DECAY, LEARNING_OFFSET, user_stacklevel
from emlib._validation import (
    COUNTS,
    FINITE,
    as_numeric_array,
    check_choice,
    check_column_ranges,
    check_n_features,
    check_nonnegative_float,
    check_positive_int,
    check_spread,
    symbols_below,
)
from emlib.distributions import (
    COVARIANCE_TYPES,
    Categorical,
    Gaussian,
    Poisson,
)
from emlib.distributions.categorical import check_symbols
from emlib.distributions.poisson import check_counts
from emlib.hmm._base import MAX_TABLE_ENTRIES, BaseHMM, HMMSettings
from emlib.mixture._discrete import poisson_start
from emlib.mixture._gaussian import check_means_init, gaussian_start

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, FixedNames, RandomState

__all__ = ["CategoricalHMM", "GaussianHMM", "PoissonHMM"]

_COMMON_PARAMETERS = """
    startprob_init : array-like of shape (K,), optional
        Starting start probabilities (default uniform). Zeros stay zero.
    transmat_init : array-like of shape (K, K), optional
        Starting transition matrix (default uniform); rows sum to one. Zeros stay zero: they are
        structural, e.g. a left-to-right model.
    startprob_prior, transmat_prior : float or array-like, default 0
        Dirichlet pseudo-counts added to the expected start and transition counts in every M-step
        (maximum a posteriori estimation; ``0`` is maximum likelihood). The prior's log-density
        then enters ``loglik_history_``.
    fixed : collection of str, default ()
        Names of parameters that training leaves at their starting values, e.g.
        ``{"transmat", "means"}``."""

_COMMON_TRAINING = """
    n_init : int, default 1
        Number of EM runs from different starting values; the best is kept (the first of those
        that differ only by round-off: see :func:`emlib.em.fit`).
    max_iter : int, default 100
        Largest number of EM iterations per run.
    tol : float, default 1e-6
        Stop when the objective changes by at most ``tol`` per step of the sequences in one
        iteration (a change that does not depend on the data's units).
    accelerate : {None, "squarem"}, default None
        ``"squarem"``: EM accelerated by SQUAREM (see :func:`emlib.em.fit`), which extrapolates
        along pairs of EM steps and keeps a point only if the objective does not go down: the same
        maximum, in far fewer E-steps when EM is slow (states that are hard to tell apart). ``n_iter_`` then counts
        accelerated iterations and ``n_e_steps_`` the E-steps they cost. ``None``: plain EM.
        It applies to ``fit`` (on a dask array too) and so to the first :meth:`partial_fit` call,
        which is ``fit`` on its batch; a later ``partial_fit`` update is one E-step and one M-step,
        with nothing to extrapolate, and is the same either way.
    learning_decay : float, default 0.7
        ``kappa``, in (0.5, 1], of the step ``(t + learning_offset) ** -kappa`` by which
        :meth:`partial_fit` moves the running statistics at update ``t``: near 0.5 the fit follows
        recent sequences closely, 1 averages every batch alike. (0.7 and 10 are also
        scikit-learn's defaults for its online LDA.)
    learning_offset : float, default 10
        ``t0`` >= 0 of the same step: larger values make the first updates smaller, which small
        batches need so as not to overwrite what the first fit learnt.
    random_state : None, int or numpy.random.Generator
        Seed for the starting values.
    verbose : bool, default False
        Print the objective at every iteration."""

_COMMON_ATTRIBUTES = """
    startprob_ : ndarray of shape (K,)
        Start probabilities.
    transmat_ : ndarray of shape (K, K)
        Transition probabilities, ``transmat_[i, j] = p(z_t+1 = j | z_t = i)``.
    loglik_history_ : ndarray
        The objective at the starting values and after every iteration (``n_iter_ + 1`` values):
        the log-likelihood, of the data and the known states when some are given, plus the
        log-prior when pseudo-counts are used. It never decreases.
    converged_ : bool
        Whether EM converged (always True for supervised fitting).
    n_iter_ : int
        Iterations run by the kept start (0 for supervised fitting).
    n_e_steps_ : int
        E-steps run by the kept start: ``n_iter_ + 1`` for plain EM, fewer iterations' worth with
        ``accelerate="squarem"``.
    restart_logliks_ : ndarray of shape (n_init,)
        Final objective of every start.
    statistics_ : emlib.hmm.HMMStatistics
        The running sufficient statistics per step of the sequences, which :meth:`partial_fit`
        updates: start counts (K,), transition counts (K, K) and the emission's statistics.
    n_samples_seen_ : float
        The steps seen by the last ``fit`` and the ``partial_fit`` calls since.
    n_steps_ : int
        The number of ``partial_fit`` updates since the last ``fit`` (0 after ``fit``)."""


class GaussianHMM(BaseHMM):
    __doc__ = f"""Hidden Markov model with Gaussian emissions, fitted by Baum–Welch (EM).

    Parameters
    ----------
    n_components : int, default 1
        Number of hidden states ``K``.
    covariance_type : {{"full", "diag", "spherical", "tied"}}, default "full"
        Covariance structure of the states' Gaussians (as in
        :class:`~emlib.distributions.Gaussian`).
{_COMMON_PARAMETERS}
        Names: ``"startprob"``, ``"transmat"``, ``"means"``, ``"covariances"``.
    means_init : array-like of shape (K, D), optional
        Starting means.
    covariances_init : array-like, optional
        Starting covariances, shaped as ``covariances_``.
    init : {{"kmeans++", "random"}}, default "kmeans++"
        How to seed the starting means when ``means_init`` is not given (states with labelled steps
        start at the mean of those steps). At most ten k-means iterations then refine the means,
        and the resulting groups give the starting covariances: the start
        :class:`~emlib.GaussianMixture` uses too (:func:`emlib.initialization.kmeans_start`).
    reg_covar : float, default 1e-6
        Added to the diagonal of every estimated covariance.
{_COMMON_TRAINING}

    Attributes
    ----------{_COMMON_ATTRIBUTES}
    means_ : ndarray of shape (K, D)
    covariances_ : ndarray
        (K, D, D) full, (K, D) diag, (K,) spherical, (D, D) tied.
    emission_ : emlib.distributions.Gaussian
        The fitted emission distribution.

    Examples
    --------
    >>> import numpy as np
    >>> from emlib import GaussianHMM
    >>> truth = GaussianHMM(2).set_parameters(
    ...     startprob=[1, 0], transmat=[[0.95, 0.05], [0.1, 0.9]],
    ...     means=[[0.0], [4.0]], covariances=[[[1.0]], [[1.0]]])
    >>> X, states = truth.sample(500, random_state=0)
    >>> model = GaussianHMM(2, random_state=0).fit(X)
    >>> print(np.sort(model.means_.ravel()).round(1))  # true means 0 and 4
    [-0.1  4. ]
    >>> path = model.predict(X)  # unsupervised: which state is called 0 is arbitrary
    >>> bool(max(np.mean(path == states), np.mean(path == 1 - states)) > 0.95)
    True
    """

    _emission_names = ("means", "covariances")
    _init_choices = ("kmeans++", "random")

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full",
                 startprob_init: ArrayLike | None = None, transmat_init: ArrayLike | None = None,
                 means_init: ArrayLike | None = None, covariances_init: ArrayLike | None = None,
                 startprob_prior: float | ArrayLike = 0.0, transmat_prior: float | ArrayLike = 0.0,
                 fixed: FixedNames = (), init: str = "kmeans++", reg_covar: float = 1e-6, n_init: int = 1,
                 max_iter: int = 100, tol: float = 1e-6, accelerate: str | None = None,
                 learning_decay: float = LEARNING_DECAY, learning_offset: float = LEARNING_OFFSET,
                 random_state: RandomState = None, verbose: bool = False):
        super().__init__(n_components, startprob_init=startprob_init, transmat_init=transmat_init,
                         startprob_prior=startprob_prior, transmat_prior=transmat_prior, fixed=fixed,
                         init=init, n_init=n_init, max_iter=max_iter, tol=tol, accelerate=accelerate,
                         learning_decay=learning_decay, learning_offset=learning_offset,
                         random_state=random_state, verbose=verbose)
        self.covariance_type = covariance_type
        self.means_init = means_init
        self.covariances_init = covariances_init
        self.reg_covar = reg_covar

    def _check_parameters(self) -> HMMSettings:
        settings = super()._check_parameters()
        check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_nonnegative_float(self.reg_covar, "reg_covar")
        return settings

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        X = Gaussian.check_data(X)
        if fitting:
            check_spread(X)
        else:
            check_n_features(X, self.n_features_in_, type(self).__name__)
        return X

    def _check_survey(self, found) -> None:
        check_column_ranges(found.minimum, found.maximum)

    def _fitted_settings(self) -> dict[str, Any]:
        return {**super()._fitted_settings(), "covariance_type": self.emission_.covariance_type}

    def _emission_start(self, X, settings, largest=None):
        K, D = self.n_components, X.shape[1]
        means = covariances = None
        if self.means_init is not None:
            means = check_means_init(self.means_init, K, D)
        if self.covariances_init is not None:
            covariances = Gaussian.check_covariances(self.covariances_init, self.covariance_type, K, D,
                                                     name="covariances_init")
        return partial(_gaussian_emission_start, n_components=K, covariance_type=self.covariance_type,
                       reg_covar=float(self.reg_covar), init=self.init, means=means, covariances=covariances)

    def _warn_if_degenerate(self) -> None:
        # Judged on the final fit only: Baum–Welch may pass through a collapse and leave it again.
        self.emission_.warn_if_collapsed(stacklevel=user_stacklevel())

    def _n_free_emission_parameters(self) -> int:
        K, D = self.emission_.n_components, self.emission_.n_features
        fixed = self._settings.fixed
        total = 0 if "means" in fixed else K * D
        if "covariances" not in fixed:
            total += self.emission_.n_parameters - K * D
        return total

    def set_parameters(self, *, startprob: ArrayLike, transmat: ArrayLike, means: ArrayLike,
                       covariances: ArrayLike) -> GaussianHMM:
        """Set every parameter by hand, without fitting (to sample from a known model, say).

        Parameters
        ----------
        startprob : array-like of shape (K,)
        transmat : array-like of shape (K, K)
        means : array-like of shape (K, D)
        covariances : array-like
            Shaped for ``covariance_type``.

        Returns
        -------
        self
        """
        K = check_positive_int(self.n_components, "n_components")
        try:
            means = np.array(as_numeric_array(means, "means"), dtype=np.float64, ndmin=2)
        except (TypeError, ValueError):
            raise ValueError("means must be an array of numbers of shape (n_components, n_features)") from None
        if means.ndim != 2 or means.shape[0] != K:
            raise ValueError(f"means must have n_components={K} rows (shape ({K}, n_features)), got shape "
                             f"{means.shape}")
        emission = Gaussian(means, covariances, self.covariance_type, reg_covar=self.reg_covar)
        self.n_features_in_ = emission.n_features
        self._set_fitted(startprob, transmat, emission)
        return self

    @property
    def means_(self) -> np.ndarray:
        return self._fitted_emission().means

    @property
    def covariances_(self) -> np.ndarray:
        return self._fitted_emission().covariances


class CategoricalHMM(BaseHMM):
    __doc__ = f"""Hidden Markov model emitting symbols ``0, 1, ..., M - 1``, fitted by Baum–Welch (EM).

    ``X`` is a 1-D integer array of symbols (a column of shape (n_samples, 1) is accepted too).

    Parameters
    ----------
    n_components : int, default 1
        Number of hidden states ``K``.
    n_features : int, optional
        Number of symbols ``M`` (hmmlearn's name). By default the width of ``emissionprob_init``,
        or the largest symbol in the training data plus one, unless that is far more symbols than
        the data can estimate (a stray symbol 10**9, say): then ``fit`` asks for ``n_features``.
{_COMMON_PARAMETERS}
        Names: ``"startprob"``, ``"transmat"``, ``"emissionprob"``.
    emissionprob_init : array-like of shape (K, M), optional
        Starting emission probabilities; rows sum to one. Zeros stay zero.
    emissionprob_prior : float, default 0
        Dirichlet pseudo-count added to every emission count (``1`` is add-one smoothing: symbols
        never seen in a state stay possible there).
    init : {{"random"}}, default "random"
        Starting emission probabilities, when ``emissionprob_init`` is not given, drawn uniformly
        from the probability simplex (states with labelled steps start from their add-one
        smoothed symbol counts instead).
{_COMMON_TRAINING}

    Attributes
    ----------{_COMMON_ATTRIBUTES}
    emissionprob_ : ndarray of shape (K, M)
        ``emissionprob_[k, m] = p(x_t = m | z_t = k)``.
    n_features_ : int
        Number of symbols ``M``.
    n_features_in_ : int
        1: the data are one column of symbols.
    emission_ : emlib.distributions.Categorical
        The fitted emission distribution.
    """

    _emission_names = ("emissionprob",)
    _emission_aliases: ClassVar[dict[str, str]] = {"emissionprob": "probabilities"}
    _init_choices = ("random",)

    def __init__(self, n_components: int = 1, *, n_features: int | None = None,
                 startprob_init: ArrayLike | None = None, transmat_init: ArrayLike | None = None,
                 emissionprob_init: ArrayLike | None = None, startprob_prior: float | ArrayLike = 0.0,
                 transmat_prior: float | ArrayLike = 0.0, emissionprob_prior: float | ArrayLike = 0.0,
                 fixed: FixedNames = (), init: str = "random", n_init: int = 1, max_iter: int = 100,
                 tol: float = 1e-6, accelerate: str | None = None, learning_decay: float = LEARNING_DECAY,
                 learning_offset: float = LEARNING_OFFSET, random_state: RandomState = None, verbose: bool = False):
        super().__init__(n_components, startprob_init=startprob_init, transmat_init=transmat_init,
                         startprob_prior=startprob_prior, transmat_prior=transmat_prior, fixed=fixed,
                         init=init, n_init=n_init, max_iter=max_iter, tol=tol, accelerate=accelerate,
                         learning_decay=learning_decay, learning_offset=learning_offset,
                         random_state=random_state, verbose=verbose)
        self.n_features = n_features
        self.emissionprob_init = emissionprob_init
        self.emissionprob_prior = emissionprob_prior

    def _check_parameters(self) -> HMMSettings:
        settings = super()._check_parameters()
        check_nonnegative_float(self.emissionprob_prior, "emissionprob_prior")
        if self.n_features is not None:
            check_positive_int(self.n_features, "n_features")
            _check_table_size(self.n_components, int(self.n_features), "n_features")
        probabilities = None
        if self.emissionprob_init is not None:
            probabilities = _checked_categorical(self.emissionprob_init, 0.0).probabilities
            if probabilities.shape[0] != self.n_components:
                raise ValueError(
                    f"emissionprob_init must have n_components={self.n_components} rows, got "
                    f"{probabilities.shape[0]}"
                )
            if self.n_features is not None and probabilities.shape[1] != self.n_features:
                raise ValueError(
                    f"emissionprob_init has {probabilities.shape[1]} columns but n_features={self.n_features}"
                )
        return settings._replace(emission_init=probabilities)  # fit starts from these

    def _known_n_symbols(self) -> int | None:
        if self.n_features is not None:
            return int(self.n_features)
        if self.emissionprob_init is not None:
            return int(np.shape(self.emissionprob_init)[1])
        return None

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        known = self._known_n_symbols() if fitting else self.n_features_
        X = check_symbols(X, "X", known, parameter="n_features")
        if fitting and known is None:
            _check_inferred_symbols(X, self.n_components)
        return X

    def _validated_facts(self, data) -> tuple:
        # _check_X proved the symbols below the known number, or below the one inferred from them.
        known = self._known_n_symbols()
        X = getattr(data, "X", None)
        if known is None and X is None:
            return ()
        return (symbols_below(known if known is not None else int(X.max()) + 1),)

    _symbols = True

    def _check_chunk(self, X) -> np.ndarray:
        # A chunk's symbols say little about the alphabet: n_features is inferred from them all.
        return check_symbols(X, "X", self._known_n_symbols(), parameter="n_features")

    def _check_survey(self, found) -> None:
        if self._known_n_symbols() is None:
            _check_table_size(self.n_components, int(found.maximum[0]) + 1, f"X (largest symbol {int(found.maximum[0])})")

    def _emission_start(self, X, settings, largest=None):
        known = self._known_n_symbols()
        n_symbols = known if known is not None else int(X.max() if largest is None else largest[0]) + 1
        return partial(_categorical_emission_start, n_components=self.n_components, n_symbols=n_symbols,
                       pseudo_count=float(self.emissionprob_prior), probabilities=settings.emission_init)

    def _n_free_emission_parameters(self) -> int:
        return 0 if "emissionprob" in self._settings.fixed else self.emission_.n_parameters

    def _why_no_state_emits(self, observation: int) -> str:
        return (
            f": symbol {int(observation)} has emission probability zero in every state, as a symbol never "
            "seen in training does. Fit with emissionprob_prior > 0 (1 is add-one smoothing) to keep "
            "unseen symbols possible"
        )

    def set_parameters(self, *, startprob: ArrayLike, transmat: ArrayLike,
                       emissionprob: ArrayLike) -> CategoricalHMM:
        """Set every parameter by hand, without fitting.

        Parameters
        ----------
        startprob : array-like of shape (K,)
        transmat : array-like of shape (K, K)
        emissionprob : array-like of shape (K, M)

        Returns
        -------
        self
        """
        self.n_features_in_ = 1
        self._set_fitted(startprob, transmat, _checked_categorical(emissionprob, self.emissionprob_prior))
        return self

    @property
    def emissionprob_(self) -> np.ndarray:
        return self._fitted_emission().probabilities

    @property
    def n_features_(self) -> int:  # documented in the class's Attributes
        return self._fitted_emission().n_symbols


class PoissonHMM(BaseHMM):
    __doc__ = f"""Hidden Markov model with Poisson emissions (counts), fitted by Baum–Welch (EM).

    Each state has one rate per feature; the features of a step are independent given the state.

    Parameters
    ----------
    n_components : int, default 1
        Number of hidden states ``K``.
{_COMMON_PARAMETERS}
        Names: ``"startprob"``, ``"transmat"``, ``"rates"``.
    rates_init : array-like of shape (K, D) or (K,), optional
        Starting rates.
    init : {{"kmeans++", "random"}}, default "kmeans++"
        How to choose starting rates when ``rates_init`` is not given (states with labelled steps
        start at the mean of those steps): centres seeded by k-means++ or at random and refined
        by a few k-means iterations; the rates are the group means.
{_COMMON_TRAINING}

    Attributes
    ----------{_COMMON_ATTRIBUTES}
    rates_ : ndarray of shape (K, D)
        Expected count of each feature in each state.
    emission_ : emlib.distributions.Poisson
        The fitted emission distribution.
    """

    _emission_names = ("rates",)
    _init_choices = ("kmeans++", "random")

    def __init__(self, n_components: int = 1, *, startprob_init: ArrayLike | None = None,
                 transmat_init: ArrayLike | None = None, rates_init: ArrayLike | None = None,
                 startprob_prior: float | ArrayLike = 0.0, transmat_prior: float | ArrayLike = 0.0,
                 fixed: FixedNames = (), init: str = "kmeans++", n_init: int = 1, max_iter: int = 100,
                 tol: float = 1e-6, accelerate: str | None = None, learning_decay: float = LEARNING_DECAY,
                 learning_offset: float = LEARNING_OFFSET, random_state: RandomState = None, verbose: bool = False):
        super().__init__(n_components, startprob_init=startprob_init, transmat_init=transmat_init,
                         startprob_prior=startprob_prior, transmat_prior=transmat_prior, fixed=fixed,
                         init=init, n_init=n_init, max_iter=max_iter, tol=tol, accelerate=accelerate,
                         learning_decay=learning_decay, learning_offset=learning_offset,
                         random_state=random_state, verbose=verbose)
        self.rates_init = rates_init

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        X = check_counts(X, "X")
        if not fitting:
            check_n_features(X, self.n_features_in_, type(self).__name__)
        return X

    def _validated_facts(self, data) -> tuple:
        return (FINITE, COUNTS)

    def _emission_start(self, X, settings, largest=None):
        K, D = self.n_components, X.shape[1]
        given = None
        if self.rates_init is not None:
            try:
                given = Poisson(self.rates_init)
            except ValueError as exc:
                raise ValueError(f"rates_init: {exc}") from None
            if given.rates.shape != (K, D):
                raise ValueError(f"rates_init must have shape {(K, D)}, got {np.shape(self.rates_init)}")
        return partial(_poisson_emission_start, n_components=K, init=self.init, given=given)

    def _n_free_emission_parameters(self) -> int:
        return 0 if "rates" in self._settings.fixed else self.emission_.n_parameters

    def set_parameters(self, *, startprob: ArrayLike, transmat: ArrayLike, rates: ArrayLike) -> PoissonHMM:
        """Set every parameter by hand, without fitting.

        Parameters
        ----------
        startprob : array-like of shape (K,)
        transmat : array-like of shape (K, K)
        rates : array-like of shape (K, D) or (K,)

        Returns
        -------
        self
        """
        emission = Poisson(rates)
        self.n_features_in_ = emission.n_features
        self._set_fitted(startprob, transmat, emission)
        return self

    @property
    def rates_(self) -> np.ndarray:
        return self._fitted_emission().rates


def _checked_categorical(probabilities, pseudo_count) -> Categorical:
    try:
        return Categorical(probabilities, pseudo_count=float(pseudo_count))
    except ValueError as exc:
        raise ValueError(f"emissionprob_init: {exc}") from None


def _gaussian_emission_start(X, rng, labelled_rows, labels, *, n_components, covariance_type, reg_covar, init,
                             means, covariances) -> Gaussian:
    return gaussian_start(X, rng, n_components, covariance_type, reg_covar, init, means=means,
                          covariances=covariances, labelled_rows=labelled_rows, labels=labels)


def _poisson_emission_start(X, rng, labelled_rows, labels, *, n_components, init, given) -> Poisson:
    if given is not None:  # checked once per fit: each run starts from a copy
        return copy.deepcopy(given)
    return poisson_start(X, rng, n_components, init, labelled_rows=labelled_rows, labels=labels)


def _check_table_size(n_components: int, n_symbols: int, source: str) -> None:
    if n_components * n_symbols > MAX_TABLE_ENTRIES:
        raise ValueError(
            f"{source} asks for {n_symbols} symbols: an emission table of {n_components} x {n_symbols} "
            f"probabilities is more than emlib allocates ({MAX_TABLE_ENTRIES:.0e} entries). Recode the "
            "symbols as 0 .. M-1 for the M symbols that occur"
        )


def _check_inferred_symbols(X: np.ndarray, n_components: int) -> None:
    """Refuse to infer far more symbols than the data can estimate: a stray large symbol."""
    largest = int(X.max())
    distinct = np.unique(X).size
    if largest + 1 > 10 * distinct + 100:
        position = int(np.argmax(X))
        raise ValueError(
            f"X[{position}] is symbol {largest}, so the number of symbols would be n_features={largest + 1}, "
            f"far more than the {distinct} distinct symbols in X can estimate. Recode the symbols as "
            "0 .. M-1, or pass n_features=M if the alphabet really has M symbols"
        )
    _check_table_size(n_components, largest + 1, f"X[{int(np.argmax(X))}] (symbol {largest})")


def _categorical_emission_start(X, rng, labelled_rows, labels, *, n_components, n_symbols, pseudo_count,
                                probabilities) -> Categorical:
    """The given probabilities, else drawn uniformly from the simplex (states with labelled steps
    start from their add-one smoothed symbol counts)."""
    if probabilities is not None:
        return Categorical(probabilities, pseudo_count=pseudo_count)
    probabilities = rng.dirichlet(np.ones(n_symbols), size=n_components)
    if labels is not None:
        for k in np.unique(labels):
            counts = np.bincount(X[labelled_rows[labels == k]], minlength=n_symbols) + 1.0
            probabilities[k] = counts / counts.sum()
    return Categorical(probabilities, pseudo_count=pseudo_count)
