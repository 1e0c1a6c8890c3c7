"""What every HMM estimator shares: training on :func:`emlib.em.fit` and the scikit-learn-like surface.

E-step: forward–backward gives the state posteriors (T, K), the pairwise posteriors summed over time
(K, K) and the posteriors of the first steps. M-step: start and transition probabilities are the
normalised expected counts (plus Dirichlet pseudo-counts), and the emission distribution refits
itself to the data weighted by the state posteriors, ``emission.fit(X, posteriors)``, exactly as a
mixture's components do with responsibilities.

Labels: ``fit(X, states=...)`` with every state known counts (supervised maximum likelihood); with
some known, the E-step conditions on them (the posterior of a labelled step is its label), which is
EM for the likelihood of the data *and* the known states; with none known it is Baum–Welch.
"""

from __future__ import annotations

import copy
import warnings
from typing import ClassVar, NamedTuple

import numpy as np

from emlib import em
from emlib._math import kmeans_plusplus
from emlib._validation import (
    check_choice,
    check_lengths,
    check_nonnegative_float,
    check_positive_int,
    check_probability_vector,
    check_random_state,
    check_stochastic_matrix,
)
from emlib.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    NotFittedError,
)
from emlib.hmm import _elbo, _inference, _kernels

__all__ = ["BaseHMM"]

ALGORITHMS = ("viterbi", "map")
_TINY = 1e3 * np.finfo(np.float64).tiny


class _SequenceData(NamedTuple):
    X: np.ndarray
    lengths: np.ndarray  # int64 (S,)
    starts: np.ndarray  # int64 (S,)
    labelled_rows: np.ndarray | None  # rows whose state is known
    labels: np.ndarray | None  # their states
    fully_labelled: bool


class _HMMEM:
    """The model object :func:`emlib.em.fit` drives: current parameters plus E- and M-step."""

    def __init__(self, estimator: BaseHMM):
        self.estimator = estimator
        self.startprob = self.transmat = self.emission = None
        self._buffers = None

    def __deepcopy__(self, memo):
        # Restarts copy the parameters, never the estimator (which holds the user's settings).
        new = _HMMEM(self.estimator)
        for name, value in self.__dict__.items():
            if name not in ("estimator", "_buffers"):
                setattr(new, name, copy.deepcopy(value, memo))
        return new

    # -- em.fit protocol --------------------------------------------------------------------------
    def initialize(self, data: _SequenceData, rng: np.random.Generator) -> None:
        est = self.estimator
        self.startprob, self.transmat = est._initial_start_and_transitions()
        self.emission = est._initial_emission(data.X, rng, data.labelled_rows, data.labels)
        # Zeros of the starting values are structural: counts and pseudo-counts never revive them.
        self.allowed_start = self.startprob > 0
        self.allowed_transitions = self.transmat > 0
        if data.fully_labelled:
            self.m_step(data, _labelled_statistics(data, est.n_components))

    def e_step(self, data: _SequenceData):
        if self._buffers is None:
            self._buffers = _inference.EStepBuffers(data.X.shape[0], self.estimator.n_components)

        def fresh_log_emission():
            work = own_float_array(self.emission.log_prob(data.X))
            if data.labelled_rows is not None:
                clamp_to_labels(work, data.labelled_rows, data.labels)
            return work

        loglik, bad = _inference.run_e_step(
            fresh_log_emission, self.startprob, self.transmat, data.starts, data.lengths, self._buffers
        )
        if bad >= 0:
            labelled = data.labelled_rows is not None and data.labelled_rows.size > 0
            raise ValueError(
                f"X: {_inference.impossible_message(int(bad), data.starts, 'X', labelled)}, under the "
                + ("fixed" if self.estimator._fixed else "starting")
                + " parameters. Check transmat_init zeros, fixed parameters, emission starting values"
                + (" and the given states." if labelled else ".")
            )
        b = self._buffers
        return (b.posteriors, b.pairwise, b.start_counts), loglik + self.log_prior()

    def m_step(self, data: _SequenceData, statistics) -> None:
        est = self.estimator
        posteriors, pairwise, start_counts = statistics
        if "startprob" not in est._fixed:
            counts = start_counts + est._startprob_prior * self.allowed_start
            total = counts.sum()
            if total > 0:
                self.startprob = counts / total
        if "transmat" not in est._fixed:
            counts = pairwise + est._transmat_prior * self.allowed_transitions
            totals = counts.sum(axis=1)
            left = totals > _TINY
            transmat = self.transmat.copy()
            transmat[left] = counts[left] / totals[left, None]
            self.transmat = transmat
            if not left.all() and data.fully_labelled:
                warnings.warn(
                    f"state(s) {np.flatnonzero(~left).tolist()} are never left in the labelled "
                    "sequences; their rows of transmat_ keep the starting values",
                    DegenerateComponentWarning,
                    stacklevel=4,
                )
        emission_fixed = est._emission_fixed()
        if len(emission_fixed) < len(self.emission.parameter_names):
            self.emission.fit(data.X, posteriors, fixed=emission_fixed)

    def log_prior(self) -> float:
        """Log-density of the Dirichlet priors at the current parameters, up to a constant."""
        est = self.estimator
        total = 0.0
        # Pseudo-counts on structural zeros are never used (see m_step), so they carry no prior.
        if "startprob" not in est._fixed:
            total += _pseudo_count_log_prior(est._startprob_prior * self.allowed_start, self.startprob)
        if "transmat" not in est._fixed:
            total += _pseudo_count_log_prior(est._transmat_prior * self.allowed_transitions, self.transmat)
        emission_prior = getattr(self.emission, "log_prior", None)
        if emission_prior is not None and len(est._emission_fixed()) < len(self.emission.parameter_names):
            total += emission_prior()
        return total


def _pseudo_count_log_prior(pseudo_counts: np.ndarray, probabilities: np.ndarray) -> float:
    counted = pseudo_counts > 0
    if not counted.any():
        return 0.0
    with np.errstate(divide="ignore"):
        return float(np.sum(pseudo_counts[counted] * np.log(probabilities[counted])))


def own_float_array(array) -> np.ndarray:
    """``array`` itself if it is a fresh writable C-contiguous float64 array, else a copy."""
    a = np.asarray(array)
    if a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable and a.flags.owndata:
        return a
    return np.array(a, dtype=np.float64, order="C")


def clamp_to_labels(log_emission: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> None:
    """Make every state but the known one impossible at the labelled rows (in place)."""
    keep = log_emission[rows, labels]
    log_emission[rows] = -np.inf
    log_emission[rows, labels] = keep


def _labelled_statistics(data: _SequenceData, K: int):
    """Counts from fully known states: one-hot posteriors, transition counts, first-state counts."""
    states = data.labels  # every row labelled, in row order
    posteriors = np.zeros((states.shape[0], K))
    posteriors[np.arange(states.shape[0]), states] = 1.0
    first, second = _inference.transition_rows(data.lengths)
    pairwise = np.zeros((K, K))
    np.add.at(pairwise, (states[first], states[second]), 1.0)
    start_counts = np.bincount(states[data.starts], minlength=K).astype(np.float64)
    return posteriors, pairwise, start_counts


class BaseHMM:
    """Shared machinery of :class:`~emlib.hmm.GaussianHMM`, :class:`~emlib.hmm.CategoricalHMM` and
    :class:`~emlib.hmm.PoissonHMM`.

    Subclasses set ``_emission_names`` (the parameter names of the emission, as users write them in
    ``fixed``), ``_init_choices``, and implement ``_check_X``, ``_initial_emission`` and
    ``_n_free_emission_parameters``.
    """

    _emission_names: tuple[str, ...] = ()
    _emission_aliases: ClassVar[dict[str, str]] = {}  # name in ``fixed`` -> the distribution's parameter name
    _init_choices: tuple[str, ...] = ("random",)

    def __init__(self, n_components=1, *, startprob_init=None, transmat_init=None, startprob_prior=0.0,
                 transmat_prior=0.0, fixed=(), init="random", n_init=1, max_iter=100, tol=1e-6,
                 random_state=None, verbose=False):
        self.n_components = n_components
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.fixed = fixed
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X, lengths=None, states=None):
        """Estimate the parameters: by counting, by semi-supervised EM or by Baum–Welch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            The observations of all sequences, one after the other.
        lengths : array-like of int, optional
            Lengths of the sequences in ``X`` (summing to ``n_samples``); ``None`` means one sequence.
        states : array-like of int of shape (n_samples,), optional
            Known hidden states, ``-1`` where unknown. All known: supervised maximum likelihood by
            counting, no iterations. Some known: EM in which the posterior of every labelled step
            is its label. None known (or ``None``): Baum–Welch.

        Returns
        -------
        self

        Notes
        -----
        ``loglik_history_`` holds the objective EM climbs: the log-likelihood of ``X`` (of ``X``
        and the known states, when some are given), plus the log-density of the Dirichlet priors
        when pseudo-counts are used. It never decreases.
        """
        self._check_parameters()
        X = self._check_X(X, fitting=True)
        n = X.shape[0]
        lengths = check_lengths(lengths, n)
        labelled_rows, labels = self._check_states(states, n)
        fully = labelled_rows is not None and labelled_rows.shape[0] == n
        if n < self.n_components and not fully:
            raise ValueError(
                f"n_components={self.n_components} needs at least as many samples, got {n}"
            )
        data = _SequenceData(X, lengths, _inference.sequence_starts(lengths), labelled_rows, labels, fully)
        self._set_n_features(X)

        result = em.fit(
            _HMMEM(self),
            data,
            max_iter=0 if fully else self.max_iter,
            tol=self.tol,
            n_init=1 if fully else self.n_init,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        model = result.model
        self.startprob_ = model.startprob
        self.transmat_ = model.transmat
        self.emission_ = model.emission
        self._warn_if_degenerate()
        self._allowed_start, self._allowed_transitions = model.allowed_start, model.allowed_transitions
        self.loglik_history_ = result.loglik_history
        self.restart_logliks_ = result.restart_logliks
        self.converged_ = True if fully else result.converged
        self.n_iter_ = result.n_iter
        model._buffers = None
        if not self.converged_ and self.max_iter > 0 and self.tol > 0:  # tol=0: a fixed count, asked for
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations (tol={self.tol:g}); "
                "increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def fit_predict(self, X, lengths=None, states=None) -> np.ndarray:
        """Fit, then return the Viterbi path of ``X``, shape (n_samples,)."""
        return self.fit(X, lengths, states).predict(X, lengths)

    def _check_parameters(self) -> None:
        K = check_positive_int(self.n_components, "n_components")
        check_positive_int(self.n_init, "n_init")
        check_positive_int(self.max_iter, "max_iter", minimum=0)
        check_nonnegative_float(self.tol, "tol")
        if not isinstance(self.init, str):
            raise TypeError(f"init must be one of {self._init_choices}, got {self.init!r}")
        check_choice(self.init, "init", self._init_choices)
        self._fixed = self._check_fixed(self.fixed)
        self._startprob_prior = _check_pseudo_counts(self.startprob_prior, "startprob_prior", (K,))
        self._transmat_prior = _check_pseudo_counts(self.transmat_prior, "transmat_prior", (K, K))
        # Validate the starting probabilities now, so that errors name them before any work.
        self._initial_start_and_transitions()

    def _check_fixed(self, fixed) -> frozenset:
        if isinstance(fixed, str):
            fixed = (fixed,)
        try:
            names = frozenset(fixed)
        except TypeError:
            raise TypeError(f"fixed must be a collection of parameter names, got {fixed!r}") from None
        allowed = ("startprob", "transmat", *self._emission_names)
        unknown = sorted(str(name) for name in names if name not in allowed)
        if unknown:
            raise ValueError(
                f"fixed contains unknown parameter name(s) {unknown}; the parameters of "
                f"{type(self).__name__} are {list(allowed)}"
            )
        return names

    def _emission_fixed(self) -> tuple[str, ...]:
        return tuple(self._emission_aliases.get(name, name) for name in self._fixed
                     if name in self._emission_names)

    def _check_states(self, states, n: int):
        """``(labelled_rows, labels)`` from ``states``, or ``(None, None)`` when none is known."""
        if states is None:
            return None, None
        array = np.asarray(states)
        if array.ndim != 1 or array.shape[0] != n:
            raise ValueError(f"states must be a 1-D array as long as X ({n}), got shape {array.shape}")
        if not np.issubdtype(array.dtype, np.integer):
            if np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)) and np.all(
                array == np.round(array)
            ):
                array = array.astype(np.int64)
            else:
                raise ValueError(f"states must contain integers (-1 for unknown), got dtype {array.dtype}")
        bad = (array < -1) | (array >= self.n_components)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"states must contain -1 (unknown) or a state 0..{self.n_components - 1}, but "
                f"states[{i}] is {array[i]}"
            )
        rows = np.flatnonzero(array >= 0)
        if rows.size == 0:
            return None, None
        return rows, array[rows].astype(np.intp)

    def _initial_start_and_transitions(self):
        K = self.n_components
        if self.startprob_init is None:
            startprob = np.full(K, 1.0 / K)
        else:
            startprob = check_probability_vector(self.startprob_init, "startprob_init", size=K)
        if self.transmat_init is None:
            transmat = np.full((K, K), 1.0 / K)
        else:
            transmat = np.ascontiguousarray(
                check_stochastic_matrix(self.transmat_init, "transmat_init", shape=(K, K))
            )
        return startprob, transmat

    def _initial_centres(self, X, rng, labelled_rows, labels) -> np.ndarray:
        """Starting centres (K, D): the mean of each state's labelled rows where there are some,
        else rows of ``X`` chosen by k-means++ or at random (``init``)."""
        K = self.n_components
        centres = np.empty((K, X.shape[1]))
        known = np.zeros(K, dtype=bool)
        if labels is not None:
            for k in np.unique(labels):
                centres[k] = X[labelled_rows[labels == k]].mean(axis=0)
                known[k] = True
        missing = np.flatnonzero(~known)
        if missing.size == K and self.init == "kmeans++":
            centres = X[kmeans_plusplus(X, K, rng)]
        elif missing.size and self.init == "kmeans++":
            centres[missing] = _continue_kmeans_plusplus(X, centres[known], missing.size, rng)
        elif missing.size:
            centres[missing] = X[rng.choice(X.shape[0], size=missing.size, replace=False)]
        return centres

    @staticmethod
    def _kmeans_weights(X, centres, labelled_rows, labels, max_iter: int = 10) -> np.ndarray:
        """One-hot (N, K) weights from a few Lloyd (k-means) iterations started at ``centres``.

        Labelled rows always belong to their label's group. Stops early when no row changes group.
        """
        N, K = X.shape[0], centres.shape[0]
        centres = np.array(centres, dtype=np.float64)
        forced = np.empty(0, dtype=np.int64)
        if labelled_rows is not None:
            forced = np.full(N, -1, dtype=np.int64)
            forced[labelled_rows] = labels
        assignment = np.full(N, -1, dtype=np.int64)
        sums, counts = np.empty_like(centres), np.empty(K, dtype=np.int64)
        for _ in range(max_iter):
            if _kernels.lloyd_assign(X, centres, forced, assignment, sums, counts) == 0:
                break
            filled = counts > 0
            centres[filled] = sums[filled] / counts[filled, None]
        weights = np.zeros((N, K))
        weights[np.arange(N), assignment] = 1.0
        return weights

    # -- inference --------------------------------------------------------------------------------
    def _fitted_emission(self):
        try:
            return self.emission_
        except AttributeError:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first") from None

    def _prepared(self, X, lengths):
        """Validated data and the log-emissions of a fitted model."""
        if not hasattr(self, "emission_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        X = self._check_X(X, fitting=False)
        lengths = check_lengths(lengths, X.shape[0])
        log_emission = own_float_array(self.emission_.log_prob(X))
        return X, log_emission, lengths, _inference.sequence_starts(lengths)

    def _impossible(self, bad: int, starts) -> ValueError:
        return ValueError(f"X: {_inference.impossible_message(int(bad), starts, 'X')} under the fitted model")

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Posterior state probabilities ``p(z_t = k | x)`` by forward–backward, shape (n_samples, K)."""
        X, log_emission, lengths, starts = self._prepared(X, lengths)
        buffers = _inference.EStepBuffers(*log_emission.shape)
        unused = [log_emission]

        def fresh_log_emission():  # the array at hand first; recomputed only for a log-space redo
            return unused.pop() if unused else own_float_array(self.emission_.log_prob(X))

        _, bad = _inference.run_e_step(fresh_log_emission, self.startprob_, self.transmat_, starts, lengths,
                                       buffers)
        if bad >= 0:
            raise self._impossible(bad, starts)
        return buffers.posteriors

    def filter_proba(self, X, lengths=None) -> np.ndarray:
        """Filtered state probabilities ``p(z_t = k | x_0..t)``, shape (n_samples, K).

        What the model knows about step ``t`` from the observations up to ``t`` only, as it would
        in real time; :meth:`predict_proba` also uses the steps after ``t`` (smoothing). These are
        the scaled forward variables; the last row of each sequence equals its smoothed one.
        """
        _, log_emission, lengths, starts = self._prepared(X, lengths)
        try:
            alpha, _ = _inference.scaled_forward_arrays(log_emission, self.startprob_, self.transmat_, starts,
                                                        lengths, rows_name="X")
        except ValueError as error:
            raise ValueError(f"X: {error} under the fitted model") from None
        return alpha

    def decode(self, X, lengths=None) -> tuple[float, np.ndarray]:
        """Log-probability and most probable state path (Viterbi), in hmmlearn's order.

        Returns
        -------
        log_probability : float
            ``log p(X, path)``, summed over the sequences.
        path : ndarray of shape (n_samples,)
            The jointly most probable state of every step.
        """
        _, log_emission, lengths, starts = self._prepared(X, lengths)
        path = np.empty(log_emission.shape[0], dtype=np.int64)
        with np.errstate(divide="ignore"):
            log_startprob, log_transmat = np.log(self.startprob_), np.log(self.transmat_)
        logprob, bad = _kernels.viterbi(log_emission, log_startprob, log_transmat, starts, lengths, path)
        if bad >= 0:
            raise self._impossible(bad, starts)
        return float(logprob), path

    def predict(self, X, lengths=None, algorithm="viterbi") -> np.ndarray:
        """Hidden states of ``X``, shape (n_samples,).

        Parameters
        ----------
        X : array-like
        lengths : array-like of int, optional
        algorithm : {"viterbi", "map"}, default "viterbi"
            ``"viterbi"``: the jointly most probable path. ``"map"``: the most probable state of
            each step on its own (argmax of :meth:`predict_proba`); it makes more steps right on
            average but may chain states through impossible transitions.
        """
        check_choice(algorithm, "algorithm", ALGORITHMS)
        if algorithm == "viterbi":
            return self.decode(X, lengths)[1]
        return np.argmax(self.predict_proba(X, lengths), axis=1)

    def score(self, X, lengths=None) -> float:
        """Total log-likelihood ``log p(X)`` over the sequences (``-inf`` if the model cannot produce X)."""
        _, log_emission, lengths, starts = self._prepared(X, lengths)
        return float(_inference.sequence_log_likelihoods(log_emission, self.startprob_, self.transmat_, starts,
                                                         lengths).sum())

    def evidence_lower_bound(self, X, state_posteriors, pairwise_posteriors, lengths=None):
        """Split ``log p(X)`` into the evidence lower bound and ``KL(q || p(Z | X))``.

        ``q`` is any first-order Markov distribution over the state paths, given by its marginals;
        see :func:`emlib.hmm.evidence_lower_bound` for the shapes and formulas.

        Returns
        -------
        emlib.elbo.Decomposition
            The named pair ``(bound, kl)``; ``bound + kl`` is ``log p(X)``.
        """
        _, log_emission, lengths, _ = self._prepared(X, lengths)
        return _elbo.evidence_lower_bound(
            log_emission, self.startprob_, self.transmat_, state_posteriors, pairwise_posteriors, lengths
        )

    # -- model selection and generation ----------------------------------------------------------
    def n_parameters(self) -> int:
        """Number of free parameters that fitting estimates.

        Start and transition probabilities count one per allowed (non-zero at the start) entry
        minus one per row; fixed parameters do not count.
        """
        if not hasattr(self, "emission_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        total = 0
        if "startprob" not in self._fixed:
            total += max(int(np.count_nonzero(self._allowed_start)) - 1, 0)
        if "transmat" not in self._fixed:
            total += int(np.sum(np.maximum(self._allowed_transitions.sum(axis=1) - 1, 0)))
        return total + self._n_free_emission_parameters()

    def bic(self, X, lengths=None) -> float:
        """Bayesian information criterion ``-2 log p(X) + p log(n_samples)``; lower is better."""
        n = self._check_X(X, fitting=False).shape[0]
        return float(-2.0 * self.score(X, lengths) + self.n_parameters() * np.log(n))

    def aic(self, X, lengths=None) -> float:
        """Akaike information criterion ``-2 log p(X) + 2 p``; lower is better."""
        return float(-2.0 * self.score(X, lengths) + 2.0 * self.n_parameters())

    def sample(self, n_samples=1, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw one sequence from the fitted model.

        Parameters
        ----------
        n_samples : int, default 1
            Length of the sequence.
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        X : ndarray
            The observations: (n_samples, n_features), or (n_samples,) symbols for
            :class:`~emlib.hmm.CategoricalHMM`.
        states : ndarray of shape (n_samples,)
            The hidden state of each step.
        """
        if not hasattr(self, "emission_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        states = np.empty(n_samples, dtype=np.int64)
        _kernels.sample_states(
            _safe_cumulative(self.startprob_[None])[0], _safe_cumulative(self.transmat_),
            rng.random(n_samples), states,
        )
        return self.emission_.sample(states, rng), states

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components!r})"

    def _set_fitted(self, startprob, transmat, emission) -> None:
        """Install parameters given by hand (``set_parameters``), as if fitted."""
        K = check_positive_int(self.n_components, "n_components")
        self.startprob_ = check_probability_vector(startprob, "startprob", size=K)
        self.transmat_ = np.ascontiguousarray(check_stochastic_matrix(transmat, "transmat", shape=(K, K)))
        if emission.n_components != K:
            raise ValueError(
                f"the emission parameters describe {emission.n_components} states, but "
                f"n_components={K}"
            )
        self.emission_ = emission
        self._fixed = self._check_fixed(self.fixed)
        self._allowed_start, self._allowed_transitions = self.startprob_ > 0, self.transmat_ > 0

    # -- subclass hooks ---------------------------------------------------------------------------
    def _warn_if_degenerate(self) -> None:
        """Warn about a degenerate final fit (emissions that can collapse say how)."""

    def _set_n_features(self, X) -> None:
        self.n_features_in_ = X.shape[1] if X.ndim == 2 else 1

    def _check_X(self, X, fitting: bool) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial_emission(self, X, rng, labelled_rows, labels):  # pragma: no cover - abstract
        raise NotImplementedError

    def _n_free_emission_parameters(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


def _continue_kmeans_plusplus(X, centres, n_new, rng) -> np.ndarray:
    """``n_new`` more centres by k-means++ seeding, given the centres already chosen (from labels).

    Each new centre is a row of ``X`` drawn in proportion to its squared distance to the nearest
    centre so far, so states without labels start where the labelled ones do not explain the data.
    """
    nearest = np.full(X.shape[0], np.inf)
    for centre in centres:
        np.minimum(nearest, ((X - centre) ** 2).sum(axis=1), out=nearest)
    new = np.empty((n_new, X.shape[1]))
    for i in range(n_new):
        total = nearest.sum()
        row = rng.choice(X.shape[0], p=nearest / total) if total > 0 else rng.integers(X.shape[0])
        new[i] = X[row]
        np.minimum(nearest, ((X - new[i]) ** 2).sum(axis=1), out=nearest)
    return new


def _safe_cumulative(probabilities: np.ndarray) -> np.ndarray:
    """Row-wise cumulative sums whose last allowed entry is +inf, so round-off never picks a zero."""
    cumulative = np.cumsum(probabilities, axis=1)
    K = probabilities.shape[1]
    last = K - 1 - np.argmax(probabilities[:, ::-1] > 0, axis=1)
    cumulative[np.arange(K) >= last[:, None]] = np.inf
    return cumulative


def _check_pseudo_counts(value, name: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative number or an array of shape {shape}") from None
    if array.ndim == 0:
        array = np.full(shape, float(array))
    if array.shape != shape:
        raise ValueError(f"{name} must be a number or have shape {shape}, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must contain finite pseudo-counts >= 0")
    return array
