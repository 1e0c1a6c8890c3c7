"""What every HMM estimator shares: training on :func:`emlib.em.fit` and the scikit-learn-like surface.

E-step: forward–backward gives the state posteriors (T, K), the expected transition counts (K, K)
and the posteriors of the first steps; the emission family reduces the data weighted by the state
posteriors to its sufficient statistics, ``emission.statistics(X, posteriors)``, exactly as a
mixture's components do with responsibilities (:class:`HMMStatistics`). M-step: start and
transition probabilities are the normalised expected counts (plus Dirichlet pseudo-counts), and the
emission sets its parameters from its statistics (``emission.fit_statistics``).

Labels: ``fit(X, states=...)`` with every state known counts (supervised maximum likelihood); with
some known, the E-step conditions on them (the posterior of a labelled step is its label), which is
EM for the likelihood of the data *and* the known states; with none known it is Baum–Welch.

The statistics are sums over the sequences: ``fit`` takes a dask array whose chunks hold whole
sequences (the E-step sums :func:`hmm_statistics` over the chunks), and ``partial_fit`` averages
them over a stream of sequences.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from emlib import em
from emlib._estimator import (
    LEARNING_DECAY,
    LEARNING_OFFSET,
    EMEstimator,
    user_stacklevel,
)
from emlib._unconstrained import check_vector, simplex_from_vector, simplex_to_vector
from emlib._validation import (
    as_numeric_array,
    check_choice,
    check_lengths,
    check_positive_int,
    check_probability_vector,
    check_random_state,
    check_stochastic_matrix,
)
from emlib.chunked import ChunkedData, is_dask_array, local_part, survey
from emlib.exceptions import DegenerateComponentWarning
from emlib.hmm import _elbo, _inference, _kernels

if TYPE_CHECKING:
    from emlib._typing import ArrayLike, FixedNames, RandomState
    from emlib.elbo import Decomposition
    from emlib.protocols import Distribution

__all__ = ["HMMEM", "BaseHMM", "HMMSettings", "HMMStatistics", "SequenceData", "hmm_statistics"]

ALGORITHMS = ("viterbi", "posterior", "map")
#: A table of probabilities (K x K transitions, K x M symbols) larger than this many entries is
#: refused before it is allocated.
MAX_TABLE_ENTRIES = 10**8
_TINY = 1e3 * np.finfo(np.float64).tiny


class SequenceData(NamedTuple):
    """The data :class:`HMMEM` runs on: sequences stacked in rows, and any known states."""

    X: np.ndarray
    lengths: np.ndarray  # int64 (S,)
    starts: np.ndarray  # int64 (S,)
    labelled_rows: np.ndarray | None  # rows whose state is known
    labels: np.ndarray | None  # their states
    fully_labelled: bool


class HMMSettings(NamedTuple):
    """What training needs besides the emission's starting values, validated by the estimator.

    ``fixed`` holds the names users write (``"transmat"``, ``"means"``, ``"emissionprob"``);
    ``emission_fixed`` the emission distribution's own names for the fixed emission parameters.
    ``startprob_init`` and ``transmat_init`` are the starting start probabilities and transition
    matrix (uniform where not given), validated once, by the check that names them;
    ``emission_init`` the emission's starting values that the settings check validated (the
    probabilities of ``CategoricalHMM``'s ``emissionprob_init``), None where there are none.
    """

    startprob_prior: np.ndarray  # (K,) Dirichlet pseudo-counts
    transmat_prior: np.ndarray  # (K, K)
    fixed: frozenset
    emission_fixed: tuple[str, ...]
    startprob_init: np.ndarray | None = None  # (K,)
    transmat_init: np.ndarray | None = None  # (K, K)
    emission_init: Any = None


@dataclass(frozen=True, eq=False)
class HMMStatistics:
    """Expected sufficient statistics of an HMM: sums over the steps of the sequences.

    Attributes
    ----------
    start_counts : ndarray of shape (K,)
        Expected number of sequences starting in each state.
    transition_counts : ndarray of shape (K, K)
        Expected number of transitions ``i -> j`` inside the sequences.
    emission : object or None
        The emission family's statistics, ``emission.statistics(X, posteriors)``; None when every
        emission parameter is fixed.
    """

    start_counts: np.ndarray
    transition_counts: np.ndarray
    emission: Any

    def __add__(self, other: HMMStatistics) -> HMMStatistics:
        if not isinstance(other, HMMStatistics):
            return NotImplemented
        emission = None if self.emission is None else self.emission + other.emission
        return HMMStatistics(self.start_counts + other.start_counts,
                             self.transition_counts + other.transition_counts, emission)

    def __mul__(self, factor) -> HMMStatistics:
        emission = None if self.emission is None else self.emission * factor
        if emission is NotImplemented:
            return NotImplemented
        return HMMStatistics(self.start_counts * factor, self.transition_counts * factor, emission)

    __rmul__ = __mul__


def hmm_statistics(data: SequenceData, startprob: np.ndarray, transmat: np.ndarray, emission: Distribution,
                   emission_free: bool = True, buffers: _inference.EStepBuffers | None = None,
                   parameters_fixed: bool = False) -> tuple[HMMStatistics, float]:
    """The E-step of an HMM on in-memory sequences: forward–backward reduced to statistics.

    Parameters
    ----------
    data : emlib.hmm.SequenceData
        Sequences stacked in rows ``X`` (T, ...), with their lengths and any known states.
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    emission : object
        ``K`` emission components (a family of ``emlib.distributions``).
    emission_free : bool, default True
        Whether the emission statistics are needed (False when every emission parameter is fixed).
    buffers : object, optional
        Work and output arrays (log-emissions and posteriors (T, K), the counts) to reuse from one
        iteration to the next.
    parameters_fixed : bool, default False
        Only for the error message: whether some parameters are fixed.

    Returns
    -------
    statistics : HMMStatistics
        Expected start counts (K,), transition counts (K, K) and the emission's statistics.
    objective : float
        The log-likelihood (of the data and the known states) with the emission's
        ``log_penalty`` in every step's log-density; a sum over the sequences.
    """
    if buffers is None:
        buffers = _inference.EStepBuffers(data.X.shape[0], emission.n_components)
    penalty = emission.log_penalty()

    def fresh_log_emission():
        work = emission.log_prob(data.X, out=buffers.log_emission)
        if penalty.any():
            work += penalty
        if data.labelled_rows is not None:
            clamp_to_labels(work, data.labelled_rows, data.labels)
        return work

    loglik, bad = _inference.run_e_step(fresh_log_emission, startprob, transmat, data.starts, data.lengths,
                                        buffers)
    if bad >= 0:
        labelled = data.labelled_rows is not None and data.labelled_rows.size > 0
        raise ValueError(
            f"X: {_inference.impossible_message(int(bad), data.starts, 'X', labelled)} under the "
            + ("fixed" if parameters_fixed else "current")
            + " parameters"
            + (NO_STATE_EMITS if emitted_by_no_state(emission, data.X, int(bad)) else "")
            + ". Check transmat_init zeros, fixed parameters, emission starting values"
            + (" and the given states." if labelled else ".")
        )
    b = buffers
    emission_statistics = emission.statistics(data.X, b.posteriors) if emission_free else None
    return HMMStatistics(b.start_counts.copy(), b.pairwise.copy(), emission_statistics), loglik


def pack_sequences(X: np.ndarray, lengths: np.ndarray, symbols: bool = False) -> SequenceData:
    """One chunk of a dask array (already validated), holding whole sequences, as
    :class:`SequenceData`: symbols as a 1-D int64 array, other data as (T, D) floats."""
    if symbols:
        X = np.asarray(X).reshape(-1).astype(np.int64)
    else:
        X = np.ascontiguousarray(X, dtype=np.float64)
        X = X[:, None] if X.ndim == 1 else X
    return SequenceData(X, lengths, _inference.sequence_starts(lengths), None, None, False)


class HMMEM:
    """A hidden Markov model under :func:`emlib.em.fit`: current parameters plus E- and M-step.

    The data are a :class:`~emlib.hmm.SequenceData`, or chunked data (a dask array whose chunks hold whole
    sequences) whose E-step is the sum of :func:`hmm_statistics` over its chunks.

    Parameters
    ----------
    settings : emlib.hmm.HMMSettings
        Priors and fixed parameters.
    start : callable
        ``start(data, rng) -> (startprob, transmat, emission)``: the starting parameters, with
        the estimator's settings bound. The model reads nothing else from the estimator.
    """

    def __init__(self, settings: HMMSettings, start: Callable[[SequenceData, np.random.Generator], tuple]):
        self.settings = settings
        self.start = start
        self.startprob = self.transmat = self.emission = None
        self._buffers = None
        self._sized_emission = None  # (emission, length of its part of the vector)

    def initialize(self, data: SequenceData, rng: np.random.Generator) -> None:
        data = local_part(data)  # for a dask array, a random sample of its rows
        self.startprob, self.transmat, self.emission = self.start(data, rng)
        # Zeros of the starting values are structural: counts and pseudo-counts never revive them.
        self.set_structure(self.startprob > 0, self.transmat > 0)
        if data.fully_labelled:
            self.m_step(data, labelled_statistics(data, self.emission, self._emission_free()))

    def set_structure(self, allowed_start: np.ndarray, allowed_transitions: np.ndarray) -> None:
        """The start states (K,) and transitions (K, K) that may have positive probability."""
        self.allowed_start, self.allowed_transitions = allowed_start, allowed_transitions
        # Pseudo-counts on structural zeros are never used, so they carry no prior either.
        self.start_pseudo_counts = self.settings.startprob_prior * allowed_start
        self.transition_pseudo_counts = self.settings.transmat_prior * allowed_transitions
        # What every E-step's log-prior and every extrapolation's set_vector would otherwise find
        # again: the positive pseudo-counts (None when there are none, the default) and the lengths
        # of the start and transition parts of the vector.
        self._start_counted = _positive_or_none(self.start_pseudo_counts)
        self._transitions_counted = _positive_or_none(self.transition_pseudo_counts)
        self._n_allowed = (int(allowed_start.sum()), int(allowed_transitions.sum()))

    def _emission_free(self) -> bool:
        return len(self.settings.emission_fixed) < len(self.emission.parameter_names)

    def e_step(self, data: SequenceData) -> tuple[HMMStatistics, float]:
        """Forward–backward, reduced to :class:`HMMStatistics`; the objective climbed.

        The objective is the log-likelihood (of the data and the known states) with the emission's
        ``log_penalty`` in every step's log-density, plus the log-density of the Dirichlet priors:
        exactly what the M-step maximises. For chunked data both are summed over the chunks (the
        prior added once).
        """
        parameters = (self.startprob, self.transmat, self.emission, self._emission_free())
        if isinstance(data, ChunkedData):
            statistics, loglik = data.map_sum(hmm_statistics, *parameters, None, bool(self.settings.fixed))
        else:
            if self._buffers is None:
                self._buffers = _inference.EStepBuffers(data.X.shape[0], self.emission.n_components)
            statistics, loglik = hmm_statistics(data, *parameters, self._buffers, bool(self.settings.fixed))
        return statistics, loglik + self.log_prior()

    def m_step(self, data: SequenceData, statistics: HMMStatistics) -> None:
        settings = self.settings
        if "startprob" not in settings.fixed:
            counts = statistics.start_counts + self.start_pseudo_counts
            total = counts.sum()
            if total > 0:
                self.startprob = counts / total
        if "transmat" not in settings.fixed:
            counts = statistics.transition_counts + self.transition_pseudo_counts
            totals = counts.sum(axis=1)
            left = totals > _TINY  # a state never left keeps its row
            if left.all():
                self.transmat = counts / totals[:, None]
            else:
                transmat = self.transmat.copy()
                transmat[left] = counts[left] / totals[left, None]
                self.transmat = transmat
        if statistics.emission is not None:
            self.emission.fit_statistics(statistics.emission, fixed=settings.emission_fixed)

    def get_vector(self) -> np.ndarray:
        """The free parameters as one vector of unconstrained coordinates, for accelerated EM.

        The square roots of the start probabilities and of each row of transition probabilities
        (mapped back by squaring and dividing each row by its sum; structural zeros left out),
        then the emission's own ``get_vector``; fixed parameters are left out. Shape (P,).
        """
        fixed = self.settings.fixed
        parts = [np.empty(0)]
        # (a support of None: every entry allowed, which spares the masked copy)
        if "startprob" not in fixed:
            every = self._n_allowed[0] == self.startprob.size
            parts.append(simplex_to_vector(self.startprob, None if every else self.allowed_start))
        if "transmat" not in fixed:
            every = self._n_allowed[1] == self.transmat.size
            parts.append(simplex_to_vector(self.transmat, None if every else self.allowed_transitions))
        if self._emission_free():
            parts.append(self.emission.get_vector(self.settings.emission_fixed))
        return np.concatenate(parts)

    def set_vector(self, vector: np.ndarray) -> None:
        """Set the free parameters from :meth:`get_vector`'s coordinates; ``ValueError`` if they are
        invalid (the parameters are then unchanged)."""
        fixed = self.settings.fixed
        n_start = 0 if "startprob" in fixed else self._n_allowed[0]
        n_transitions = 0 if "transmat" in fixed else self._n_allowed[1]
        free = self._emission_free()
        n_emission = self._emission_vector_size() if free else 0
        vector = check_vector(vector, n_start + n_transitions + n_emission, "vector")
        head, rest = vector[:n_start], vector[n_start:]
        body, tail = rest[:n_transitions], rest[n_transitions:]
        startprob = simplex_from_vector(head, self.allowed_start, "vector") if n_start else self.startprob
        transmat = simplex_from_vector(body, self.allowed_transitions, "vector") if n_transitions else self.transmat
        if free:
            self.emission.set_vector(tail, self.settings.emission_fixed)
        self.startprob, self.transmat = startprob, transmat

    def _emission_vector_size(self) -> int:
        """Length of the emission's part of the vector: found once per emission object (whose
        shape never changes), since finding it means building that part."""
        sized = self._sized_emission
        if sized is None or sized[0] is not self.emission:
            sized = self._sized_emission = (self.emission,
                                            self.emission.get_vector(self.settings.emission_fixed).size)
        return sized[1]

    def log_prior(self) -> float:
        """Log-density of the Dirichlet priors at the current parameters, up to a constant."""
        settings = self.settings
        total = 0.0
        if "startprob" not in settings.fixed:
            total += _pseudo_count_log_prior(self.start_pseudo_counts, self._start_counted, self.startprob)
        if "transmat" not in settings.fixed:
            total += _pseudo_count_log_prior(self.transition_pseudo_counts, self._transitions_counted,
                                             self.transmat)
        emission_prior = getattr(self.emission, "log_prior", None)
        if emission_prior is not None and self._emission_free():
            total += emission_prior()
        return total


def _positive_or_none(pseudo_counts: np.ndarray) -> np.ndarray | None:
    """Where the pseudo-counts are positive (bool, their shape), or None if nowhere."""
    counted = pseudo_counts > 0
    return counted if counted.any() else None


def _pseudo_count_log_prior(pseudo_counts: np.ndarray, counted: np.ndarray | None,
                            probabilities: np.ndarray) -> float:
    """``sum(pseudo_counts * log(probabilities))`` over the ``counted`` entries (None: none)."""
    if counted is None:
        return 0.0
    with np.errstate(divide="ignore"):
        return float(np.sum(pseudo_counts[counted] * np.log(probabilities[counted])))


def own_float_array(array) -> np.ndarray:
    """``array`` itself if it is a fresh writable C-contiguous float64 array, else a copy."""
    a = np.asarray(array)
    if a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable and a.flags.owndata:
        return a
    return np.array(a, dtype=np.float64, order="C")


NO_STATE_EMITS = "; no state can emit it (its emission probability is zero in every state)"


def emitted_by_no_state(emission, X: np.ndarray, row: int) -> bool:
    """Whether observation ``X[row]`` has emission probability zero in every state of ``emission``."""
    with np.errstate(divide="ignore"):
        return bool(np.all(np.isneginf(emission.log_prob(X[row:row + 1]))))


def clamp_to_labels(log_emission: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> None:
    """Make every state but the known one impossible at the labelled rows (in place)."""
    keep = log_emission[rows, labels]
    log_emission[rows] = -np.inf
    log_emission[rows, labels] = keep


def labelled_statistics(data: SequenceData, emission, with_emission: bool = True) -> HMMStatistics:
    """Counts from fully known states: first states, transitions, and the emission's statistics
    with one-hot weights."""
    states = data.labels  # every row labelled, in row order
    K = emission.n_components
    first, second = _inference.transition_rows(data.lengths)
    pairwise = np.zeros((K, K))
    np.add.at(pairwise, (states[first], states[second]), 1.0)
    start_counts = np.bincount(states[data.starts], minlength=K).astype(np.float64)
    emission_statistics = None
    if with_emission:
        one_hot = np.zeros((states.shape[0], K))
        one_hot[np.arange(states.shape[0]), states] = 1.0
        emission_statistics = emission.statistics(data.X, one_hot)
    return HMMStatistics(start_counts, pairwise, emission_statistics)


class BaseHMM(EMEstimator):
    """Shared machinery of :class:`~emlib.hmm.GaussianHMM`, :class:`~emlib.hmm.CategoricalHMM` and
    :class:`~emlib.hmm.PoissonHMM`.

    Subclasses set ``_emission_names`` (the parameter names of the emission, as users write them in
    ``fixed``), ``_init_choices``, and implement ``_check_X``, ``_emission_start`` (a callable
    ``(X, rng, labelled_rows, labels) -> emission`` with the settings bound) and
    ``_n_free_emission_parameters``.
    """

    _fitted_attribute: ClassVar[str] = "emission_"
    _emission_names: tuple[str, ...] = ()
    _emission_aliases: ClassVar[dict[str, str]] = {}  # name in ``fixed`` -> the distribution's parameter name
    _init_choices: tuple[str, ...] = ("random",)

    def __init__(self, n_components: int = 1, *, startprob_init: ArrayLike | None = None,
                 transmat_init: ArrayLike | None = None, startprob_prior: float | ArrayLike = 0.0,
                 transmat_prior: float | ArrayLike = 0.0, fixed: FixedNames = (), init: str = "random",
                 n_init: int = 1, max_iter: int = 100, tol: float = 1e-6, accelerate: str | None = None,
                 learning_decay: float = LEARNING_DECAY, learning_offset: float = LEARNING_OFFSET,
                 random_state: RandomState = None, verbose: bool = False):
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
        self.accelerate = accelerate
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X: ArrayLike, lengths: ArrayLike | None = None, states: ArrayLike | None = None) -> BaseHMM:
        """Estimate the parameters: by counting, by semi-supervised EM or by Baum–Welch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,), or dask.array.Array
            The observations of all sequences, one after the other. A ``dask.array`` whose row
            chunks each hold whole sequences (spread over the workers of a cluster, say) is fitted
            where it lives: each E-step sums the statistics and log-likelihoods of the chunks,
            and only these travel. The starting values come from a random sample of at most
            ``emlib.chunked.INITIAL_SAMPLE_SIZE`` (100,000) rows, gathered in one validating
            pass before EM starts (all rows, in order, when there are no more: the in-memory
            fit's start). ``states`` cannot be given with a dask array.
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
        when pseudo-counts are used (and, for Gaussian emissions, the ``reg_covar`` penalty of
        :meth:`emlib.distributions.Gaussian.log_penalty`). It never decreases.

        ``fit`` also sets the running statistics that :meth:`partial_fit` continues from
        (``statistics_``, ``n_samples_seen_``, ``n_steps_ = 0``).
        """
        settings = self._check_parameters()
        if is_dask_array(X):
            data, X, largest = self._chunked_sequences(X, lengths, states)
            n, fully = int(sum(data.row_chunks)), False
            emission_start = self._emission_start(X, settings, largest=largest)
        else:
            X = self._check_X(X, fitting=True)
            n = X.shape[0]
            lengths = check_lengths(lengths, n)
            labelled_rows, labels = self._check_states(states, n)
            fully = labelled_rows is not None and labelled_rows.shape[0] == n
            data = SequenceData(X, lengths, _inference.sequence_starts(lengths), labelled_rows, labels, fully)
            emission_start = self._emission_start(X, settings)
        if n < self.n_components and not fully:
            raise ValueError(
                f"n_components={self.n_components} needs at least as many samples, got {n}"
            )
        start = _HMMStart(settings.startprob_init, settings.transmat_init, emission_start)
        if fully:  # supervised: no iterations, the counts of the known states
            result = self._count(HMMEM(settings, start), data)
        else:
            result = self._run_em(HMMEM(settings, start), data, tol_scale=float(n), n_init=self.n_init)
        model = result.model
        self.startprob_ = model.startprob
        self.transmat_ = model.transmat
        self._settings = settings
        self._allowed_start, self._allowed_transitions = model.allowed_start, model.allowed_transitions
        self.n_features_in_ = self._n_features(X)
        self.loglik_history_ = result.loglik_history
        self.restart_logliks_ = result.restart_logliks
        self.converged_ = True if fully else result.converged
        self.n_iter_ = result.n_iter
        self.n_e_steps_ = result.n_e_steps
        self._begin_stream(result.expected_statistics, float(n))
        model._buffers = None
        self.emission_ = model.emission  # last: its presence means "fitted"
        self._warn_if_degenerate()
        return self

    def partial_fit(self, X: ArrayLike, lengths: ArrayLike | None = None,
                    states: ArrayLike | None = None) -> BaseHMM:
        """Update the fit with whole sequences of a stream: one step of stepwise (online) EM.

        The first call (on an unfitted model) is :meth:`fit` on its sequences, ``n_init``
        restarts included. Every later call runs forward–backward on its sequences at the
        current parameters, moves the running statistics (kept per step of the sequences)
        towards theirs, ``s <- (1 - g_t) s + g_t * batch / n_steps_in_batch`` with
        ``g_t = (t + learning_offset) ** -learning_decay`` at update ``t = 1, 2, ...``, and sets
        the parameters by the M-step from them (Cappé & Moulines, 2009; Liang & Klein, 2009).
        Memory holds the statistics alone (``O(K^2)`` plus the emission's), whatever the length of
        the stream. With a step of 1 (``learning_offset=0`` at ``t = 1``) and no priors an update
        is exactly one Baum–Welch iteration on the batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            One or more whole sequences, one after the other (in memory).
        lengths : array-like of int, optional
            Their lengths; ``None`` means one sequence.
        states : array-like of int of shape (n_samples,), optional
            Known states, ``-1`` where unknown, as in :meth:`fit`.

        Returns
        -------
        self

        Notes
        -----
        The M-step sees the running statistics scaled to the number of steps seen so far, so
        Dirichlet pseudo-counts weigh as in a batch fit of everything seen. ``statistics_``,
        ``n_steps_`` (updates since the last :meth:`fit`) and ``n_samples_seen_`` (steps seen
        since) describe the stream; ``converged_``, ``n_iter_``, ``n_e_steps_``,
        ``loglik_history_`` and ``restart_logliks_`` still describe the fit that started it.
        ``accelerate`` acts on that fit alone: an update is one forward–backward pass and one
        M-step, the same with or without it.
        """
        if not self.__sklearn_is_fitted__():
            return self.fit(X, lengths, states)
        if is_dask_array(X):
            raise TypeError("partial_fit takes sequences in memory; fit takes a dask array (or pass X.compute())")
        settings = self._check_parameters()
        self._check_continues_fit("partial_fit", "Call fit to start afresh")
        X = self._check_X(X, fitting=False)
        n = X.shape[0]
        lengths = check_lengths(lengths, n)
        labelled_rows, labels = self._check_states(states, n)
        fully = labelled_rows is not None and labelled_rows.shape[0] == n
        data = SequenceData(X, lengths, _inference.sequence_starts(lengths), labelled_rows, labels, fully)
        model = HMMEM(settings, None)
        model.startprob, model.transmat = self.startprob_.copy(), self.transmat_.copy()
        model.emission = copy.deepcopy(self.emission_)
        model.set_structure(self._allowed_start, self._allowed_transitions)
        self._stream_step(model, data, float(n))
        self.startprob_, self.transmat_ = model.startprob, model.transmat
        self._settings = settings
        self.emission_ = model.emission
        return self

    def _fitted_settings(self) -> dict[str, Any]:
        return {"n_components": self.emission_.n_components}

    def _chunked_sequences(self, X, lengths, states):
        """Chunked data for a dask array whose chunks hold whole sequences, the random sample of its
        rows that the starting values come from, and the columns' largest values."""
        if states is not None:
            raise ValueError("states cannot be given with a dask array X; fit known states in memory")
        found = survey(X, None, self._check_chunk, self.random_state)
        lengths = check_lengths(lengths, found.n_rows)
        ends = np.cumsum(lengths)
        chunk_ends = np.cumsum(found.row_chunks)
        inside = np.flatnonzero(~np.isin(chunk_ends, ends))
        if inside.size:
            row = int(chunk_ends[inside[0]])
            sequence = int(np.searchsorted(ends, row, side="right"))
            raise ValueError(
                f"the chunks of X must hold whole sequences, but a chunk ends at row {row}, inside "
                f"sequence {sequence} (rows {int(ends[sequence] - lengths[sequence])} to {int(ends[sequence]) - 1}). "
                "Rechunk X along the sequences, e.g. X.rechunk({0: tuple(lengths)}) for one sequence per chunk"
            )
        self._check_survey(found)
        first = np.searchsorted(ends, np.concatenate([[0], chunk_ends[:-1]]), side="right")
        last = np.searchsorted(ends, chunk_ends, side="right")
        extras = tuple(lengths[a:b] for a, b in zip(first, last))
        sample = found.sample
        local = SequenceData(sample, np.array([len(sample)], dtype=np.int64), np.zeros(1, dtype=np.int64),
                             None, None, False)
        pack = partial(pack_sequences, symbols=self._symbols)
        return ChunkedData((found.X,), pack, extras, local, found.row_chunks), sample, found.maximum

    def _count(self, model: HMMEM, data: SequenceData):
        """Supervised training: the counts of the known states, with one warning per kind of gap."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = em.fit(model, data, max_iter=0, random_state=self.random_state)
        for record in caught:  # what remains is reported below, once, in terms of the given states
            if not issubclass(record.category, DegenerateComponentWarning):
                warnings.warn(record.message, stacklevel=user_stacklevel())
        K = self.n_components
        absent = np.setdiff1d(np.arange(K), data.labels)
        first, _ = _inference.transition_rows(data.lengths)
        never_left = np.setdiff1d(np.setdiff1d(np.arange(K), data.labels[first]), absent)
        if absent.size:
            warnings.warn(
                f"state(s) {absent.tolist()} never occur in the given states: their emission parameters "
                "and rows of transmat_ keep the starting values, and nothing starts in or moves to them. "
                "Use fewer components, or label some steps with them.",
                DegenerateComponentWarning,
                stacklevel=user_stacklevel(),
            )
        if never_left.size:
            warnings.warn(
                f"state(s) {never_left.tolist()} are never left in the labelled sequences (they occur only "
                "at their ends); their rows of transmat_ keep the starting values",
                DegenerateComponentWarning,
                stacklevel=user_stacklevel(),
            )
        return result

    def fit_predict(self, X: ArrayLike, lengths: ArrayLike | None = None,
                    states: ArrayLike | None = None) -> np.ndarray:
        """Fit, then return the Viterbi path of ``X`` (given the known ``states``), shape (n_samples,)."""
        return self.fit(X, lengths, states).predict(X, lengths, states=states)

    def _check_parameters(self) -> HMMSettings:
        """Validate every setting before any work; return what training needs."""
        K = check_positive_int(self.n_components, "n_components")
        if K * K > MAX_TABLE_ENTRIES:
            raise ValueError(
                f"n_components={K} asks for a transition matrix of {K} x {K} probabilities, more than "
                f"emlib allocates ({MAX_TABLE_ENTRIES:.0e} entries)"
            )
        self._check_run_parameters()
        if not isinstance(self.init, str):
            raise TypeError(f"init must be one of {self._init_choices}, got {self.init!r}")
        check_choice(self.init, "init", self._init_choices)
        fixed = self._check_fixed(self.fixed)
        startprob_prior = _check_pseudo_counts(self.startprob_prior, "startprob_prior", (K,))
        transmat_prior = _check_pseudo_counts(self.transmat_prior, "transmat_prior", (K, K))
        # Validated now, so that errors name them before any work; fit starts from these arrays.
        startprob, transmat = self._initial_start_and_transitions()
        emission_fixed = tuple(self._emission_aliases.get(name, name) for name in sorted(fixed)
                               if name in self._emission_names)
        return HMMSettings(startprob_prior, transmat_prior, fixed, emission_fixed, startprob, transmat)

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

    # -- inference --------------------------------------------------------------------------------
    def _fitted_emission(self):
        self._check_is_fitted()
        return self.emission_

    def _prepared(self, X, lengths, states=None):
        """Validated data and the log-emissions of a fitted model, clamped to the known ``states``."""
        self._check_is_fitted()
        X = self._check_X(X, fitting=False)
        lengths = check_lengths(lengths, X.shape[0])
        labelled_rows, labels = self._check_states(states, X.shape[0])
        log_emission = own_float_array(self.emission_.log_prob(X))
        if labelled_rows is not None:
            clamp_to_labels(log_emission, labelled_rows, labels)
        return X, log_emission, lengths, _inference.sequence_starts(lengths)

    def _impossible(self, bad: int, starts, X, states=None) -> ValueError:
        """The error for row ``bad`` of ``X`` (validated), which the fitted model cannot produce."""
        given = states is not None and np.any(np.asarray(states) >= 0)
        message = f"X: {_inference.impossible_message(int(bad), starts, 'X', given)} under the fitted model"
        if emitted_by_no_state(self.emission_, X, int(bad)):
            message += self._why_no_state_emits(X[int(bad)])
        return ValueError(message)

    def _why_no_state_emits(self, observation) -> str:
        """How the error for an observation that no state can emit ends (the families add advice)."""
        return NO_STATE_EMITS

    def predict_proba(self, X: ArrayLike, lengths: ArrayLike | None = None,
                      states: ArrayLike | None = None) -> np.ndarray:
        """Posterior state probabilities ``p(z_t = k | x)`` by forward–backward, shape (n_samples, K).

        ``states`` (``-1`` where unknown) clamps the steps whose state is known: the posteriors
        are then ``p(z_t = k | x, known states)``.
        """
        X, log_emission, lengths, starts = self._prepared(X, lengths, states)
        buffers = _inference.EStepBuffers(*log_emission.shape, log_emission=log_emission)
        unused = [log_emission]

        def fresh_log_emission():  # the array at hand first; recomputed only for a log-space redo
            if unused:
                return unused.pop()
            _, again, _, _ = self._prepared(X, lengths, states)
            return again

        _, bad = _inference.run_e_step(fresh_log_emission, self.startprob_, self.transmat_, starts, lengths,
                                       buffers)
        if bad >= 0:
            raise self._impossible(bad, starts, X, states)
        return buffers.posteriors

    def filter_proba(self, X: ArrayLike, lengths: ArrayLike | None = None) -> np.ndarray:
        """Filtered state probabilities ``p(z_t = k | x_0..t)``, shape (n_samples, K).

        What the model knows about step ``t`` from the observations up to ``t`` only, as it would
        in real time; :meth:`predict_proba` also uses the steps after ``t`` (smoothing). These are
        the scaled forward variables; the last row of each sequence equals its smoothed one.
        """
        X, log_emission, lengths, starts = self._prepared(X, lengths)
        alpha, _, bad = _inference.scaled_forward_arrays(log_emission, self.startprob_, self.transmat_, starts,
                                                         lengths)
        if bad >= 0:
            raise self._impossible(bad, starts, X)
        return alpha

    def decode(self, X: ArrayLike, lengths: ArrayLike | None = None,
               states: ArrayLike | None = None) -> tuple[float, np.ndarray]:
        """Log-probability and most probable state path (Viterbi), in hmmlearn's order.

        ``states`` (``-1`` where unknown) clamps the steps whose state is known: the path is then
        the most probable one through them.

        Returns
        -------
        log_probability : float
            ``log p(X, path)``, summed over the sequences.
        path : ndarray of shape (n_samples,)
            The jointly most probable state of every step.
        """
        X, log_emission, lengths, starts = self._prepared(X, lengths, states)
        path = np.empty(log_emission.shape[0], dtype=np.int64)
        with np.errstate(divide="ignore"):
            log_startprob, log_transmat = np.log(self.startprob_), np.log(self.transmat_)
        logprob, bad = _kernels.viterbi(log_emission, log_startprob, log_transmat, starts, lengths, path)
        if bad >= 0:
            raise self._impossible(bad, starts, X, states)
        return float(logprob), path

    def predict(self, X: ArrayLike, lengths: ArrayLike | None = None, algorithm: str = "viterbi",
                states: ArrayLike | None = None) -> np.ndarray:
        """Hidden states of ``X``, shape (n_samples,).

        Parameters
        ----------
        X : array-like
        lengths : array-like of int, optional
        algorithm : {"viterbi", "posterior", "map"}, default "viterbi"
            ``"viterbi"``: the jointly most probable path. ``"posterior"``: posterior (marginal)
            decoding, the most probable state of each step on its own (argmax of
            :meth:`predict_proba`); it makes more steps right on average but may chain states
            through impossible transitions. ``"map"`` is the same, under hmmlearn's name.
        states : array-like of int, optional
            Known states, ``-1`` where unknown: those steps keep their state, and the others are
            decoded given them.
        """
        check_choice(algorithm, "algorithm", ALGORITHMS)
        if algorithm == "viterbi":
            return self.decode(X, lengths, states)[1]
        return np.argmax(self.predict_proba(X, lengths, states), axis=1)

    def score(self, X: ArrayLike, lengths: ArrayLike | None = None) -> float:
        """Total log-likelihood ``log p(X)`` over the sequences (``-inf`` if the model cannot produce X).

        The total, as hmmlearn's ``score``; a mixture's ``score`` is instead the mean per sample,
        as scikit-learn's.
        """
        _, log_emission, lengths, starts = self._prepared(X, lengths)
        return float(_inference.sequence_log_likelihoods(log_emission, self.startprob_, self.transmat_, starts,
                                                         lengths).sum())

    def evidence_lower_bound(self, X: ArrayLike, state_posteriors: ArrayLike, pairwise_posteriors: ArrayLike,
                             lengths: ArrayLike | None = None) -> Decomposition:
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
        self._check_is_fitted()
        fixed = self._settings.fixed
        total = 0
        if "startprob" not in fixed:
            total += max(int(np.count_nonzero(self._allowed_start)) - 1, 0)
        if "transmat" not in fixed:
            total += int(np.sum(np.maximum(self._allowed_transitions.sum(axis=1) - 1, 0)))
        return total + self._n_free_emission_parameters()

    def bic(self, X: ArrayLike, lengths: ArrayLike | None = None) -> float:
        """Bayesian information criterion ``-2 log p(X) + n_parameters log(n_samples)``; lower is better."""
        self._check_is_fitted()
        n = self._check_X(X, fitting=False).shape[0]
        return float(-2.0 * self.score(X, lengths) + self.n_parameters() * np.log(n))

    def aic(self, X: ArrayLike, lengths: ArrayLike | None = None) -> float:
        """Akaike information criterion ``-2 log p(X) + 2 n_parameters``; lower is better."""
        self._check_is_fitted()
        return float(-2.0 * self.score(X, lengths) + 2.0 * self.n_parameters())

    def sample(self, n_samples: int = 1, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
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
        self._check_is_fitted()
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = check_random_state(random_state)
        states = np.empty(n_samples, dtype=np.int64)
        _kernels.sample_states(
            _safe_cumulative(self.startprob_[None])[0], _safe_cumulative(self.transmat_),
            rng.random(n_samples), states,
        )
        return self.emission_.sample(states, rng), states

    def _set_fitted(self, startprob, transmat, emission) -> None:
        """Install parameters given by hand (``set_parameters``), as if fitted."""
        K = check_positive_int(self.n_components, "n_components")
        if emission.n_components != K:
            raise ValueError(
                f"the emission parameters describe {emission.n_components} states, but "
                f"n_components={K}"
            )
        self.startprob_ = check_probability_vector(startprob, "startprob", size=K)
        self.transmat_ = np.ascontiguousarray(check_stochastic_matrix(transmat, "transmat", shape=(K, K)))
        self._settings = self._check_parameters()
        self._allowed_start, self._allowed_transitions = self.startprob_ > 0, self.transmat_ > 0
        self.emission_ = emission

    # -- subclass hooks ---------------------------------------------------------------------------
    _symbols: ClassVar[bool] = False  # whether X holds symbols (1-D integers) rather than rows of numbers

    def _check_chunk(self, X) -> np.ndarray:
        """Validation of one chunk of a dask array (as of in-memory data, without data-wide checks)."""
        return self._check_X(X, fitting=True)

    def _check_survey(self, found) -> None:
        """Data-wide checks of a dask array from its survey (subclasses extend)."""

    def _warn_if_degenerate(self) -> None:
        """Warn about a degenerate final fit (emissions that can collapse say how)."""

    def _n_features(self, X) -> int:
        return X.shape[1] if X.ndim == 2 else 1

    def _check_X(self, X, fitting: bool) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _emission_start(self, X, settings: HMMSettings, largest=None):  # pragma: no cover - abstract
        """The emission's start, ``(X, rng, labelled_rows, labels) -> emission``, from the starting
        values given (checked here, or by the settings check: ``settings.emission_init``) and
        checked only once per fit; ``largest`` is the columns' largest values over all the data when
        ``X`` is a sample of it."""
        raise NotImplementedError

    def _n_free_emission_parameters(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


class _HMMStart(NamedTuple):
    """Starting parameters: the given (or uniform) start and transitions, the emission's start."""

    startprob: np.ndarray
    transmat: np.ndarray
    emission: Callable  # (X, rng, labelled_rows, labels) -> emission distribution

    def __call__(self, data: SequenceData, rng: np.random.Generator):
        emission = self.emission(data.X, rng, data.labelled_rows, data.labels)
        return self.startprob.copy(), self.transmat.copy(), emission


def _safe_cumulative(probabilities: np.ndarray) -> np.ndarray:
    """Row-wise cumulative sums whose last allowed entry is +inf, so round-off never picks a zero."""
    cumulative = np.cumsum(probabilities, axis=1)
    K = probabilities.shape[1]
    last = K - 1 - np.argmax(probabilities[:, ::-1] > 0, axis=1)
    cumulative[np.arange(K) >= last[:, None]] = np.inf
    return cumulative


def _check_pseudo_counts(value, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if type(value) in (int, float) and 0 <= value < np.inf:  # one pseudo-count for all (0, the default)
        return np.full(shape, float(value))
    try:
        array = np.array(as_numeric_array(value, name), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative number or an array of shape {shape}") from None
    if array.ndim == 0:
        array = np.full(shape, float(array))
    if array.shape != shape:
        raise ValueError(f"{name} must be a number or have shape {shape}, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} must contain finite pseudo-counts >= 0")
    return array
