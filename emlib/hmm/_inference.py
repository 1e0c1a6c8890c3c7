"""Inference in a hidden Markov model, as pure functions on arrays.

Every function takes the log-emission probabilities ``log_emission[t, k] = log p(x_t | z_t = k)``
(T, K), so it serves any emission model, plus ``startprob`` (K,), ``transmat`` (K, K) and optional
``lengths`` (the sequences are the consecutive blocks of rows, as in hmmlearn). Zeros in
``startprob``/``transmat`` and ``-inf`` in ``log_emission`` are allowed (structural zeros,
impossible observations); a sequence that has probability zero as a whole raises a ``ValueError``
naming the sequence and the step, except in :func:`log_likelihood`, which returns ``-inf``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emlib._validation import (
    as_numeric_array,
    check_lengths,
    check_probability_vector,
    check_stochastic_matrix,
)
from emlib.hmm import _kernels, reference

if TYPE_CHECKING:
    from emlib._typing import ArrayLike

__all__ = [
    "backward",
    "backward_log",
    "forward",
    "forward_backward",
    "forward_log",
    "forward_unscaled",
    "log_likelihood",
    "pairwise_posteriors",
    "viterbi",
]

METHODS = ("scaling", "log")


# -- validation ------------------------------------------------------------------------------------
def check_log_emission(log_emission: ArrayLike, name: str = "log_emission") -> np.ndarray:
    """A (T, K) float array without NaN or +inf, as a fresh C-contiguous copy."""
    array = np.array(as_numeric_array(log_emission, name, what="log-probabilities"), dtype=np.float64, order="C")
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array of shape (T, K), got shape {array.shape}")
    if np.isnan(array).any():
        row = int(np.argwhere(np.isnan(array))[0, 0])
        raise ValueError(f"{name} contains NaN (first in row {row})")
    if np.isposinf(array).any():
        raise ValueError(f"{name} contains +inf; log-probabilities must be finite or -inf")
    return array


def prepare(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike, lengths: ArrayLike | None):
    """Validated ``(log_emission, startprob, transmat, lengths, starts)``."""
    log_emission = check_log_emission(log_emission)
    T, K = log_emission.shape
    startprob = check_probability_vector(startprob, "startprob", size=K)
    transmat = np.ascontiguousarray(check_stochastic_matrix(transmat, "transmat", shape=(K, K)))
    lengths = check_lengths(lengths, T)
    return log_emission, startprob, transmat, lengths, sequence_starts(lengths)


def sequence_starts(lengths: np.ndarray) -> np.ndarray:
    """First row of each sequence, int64 (S,)."""
    starts = np.zeros(lengths.shape[0], dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return starts


def _where(row: int, starts: np.ndarray, rows_name: str) -> str:
    """``row`` of the stacked sequences as observation ``t`` of sequence ``s``, in words."""
    sequence = int(np.searchsorted(starts, row, side="right") - 1)
    return f"observation {int(row - starts[sequence])} of sequence {sequence} (row {row} of {rows_name})"


def impossible_message(row: int, starts: np.ndarray, rows_name: str = "log_emission",
                       states_given: bool = False) -> str:
    """Where a sequence first has probability zero, in words."""
    return (
        f"{_where(row, starts, rows_name)} has probability zero under every state reachable there "
        "(from the start probabilities through nonzero transitions"
        + (", and allowed by the given states)" if states_given else ")")
    )


def _raise_if_impossible(bad: int, starts: np.ndarray) -> None:
    if bad >= 0:
        raise ValueError(impossible_message(int(bad), starts))


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


# -- scaling ---------------------------------------------------------------------------------------
def forward(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
            lengths: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scaled forward pass (Rabiner's normalised recursion, with the errata of his tutorial fixed).

    At every step the forward variables are normalised to sum to one; the normalisers ``c[t]`` are
    kept (as logarithms) and carry the likelihood.

    Parameters
    ----------
    log_emission : array-like of shape (T, K)
        ``log p(x_t | z_t = k)``; ``-inf`` for an observation state ``k`` cannot emit.
    startprob : array-like of shape (K,)
        ``p(z_0 = k)``.
    transmat : array-like of shape (K, K)
        ``transmat[i, j] = p(z_t+1 = j | z_t = i)``; rows sum to one.
    lengths : array-like of int, optional
        Lengths of the sequences stacked in the rows; ``None`` means one sequence.

    Returns
    -------
    alpha : ndarray of shape (T, K)
        ``p(z_t = k | x_0..t)``, the filtering distribution: each row sums to one.
    log_scaling : ndarray of shape (T,)
        ``log c[t] = log p(x_t | x_0..t-1)`` within each sequence; the sum over a sequence is its
        log-likelihood.

    Notes
    -----
    Rabiner (1989, section V.A) writes the scaled forward recursion ambiguously (his eqs. 91–92 mix
    scaled and unscaled variables) and gives no recursion for the scaled backward variables; in his
    formulas for several sequences (eqs. 109–110) the per-sequence likelihoods must not appear once
    scaled variables are used, because the scaling already divides them out. The version here
    follows the corrections in Rahimi's erratum: ``alpha[t] = b[t] * (alpha[t-1] @ A) / c[t]`` and,
    in :func:`backward`, ``beta[t] = A @ (b[t+1] * beta[t+1]) / c[t+1]`` with the same ``c``.
    """
    log_emission, startprob, transmat, lengths, starts = prepare(log_emission, startprob, transmat, lengths)
    alpha, log_scaling, status = scaled_forward_arrays(log_emission, startprob, transmat, starts, lengths)
    _raise_if_impossible(status, starts)
    return alpha, log_scaling


def scaled_forward_arrays(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike, starts,
                          lengths: ArrayLike | None):
    """``(alpha, log_scaling, status)`` of validated arrays; through log space if the scaled pass
    fails. ``status`` is the first row of probability zero, else -1 (then ``alpha`` is not the
    filter beyond that row)."""
    T, K = log_emission.shape
    alpha, log_scaling = np.empty((T, K)), np.empty(T)
    _, status = _kernels.forward_backward_scaled(
        log_emission.copy(), startprob, transmat, starts, lengths, alpha, log_scaling, np.empty((K, K)),
        np.empty(K), np.empty((K + 3, K)), False,
    )
    if status == _kernels.OUT_OF_RANGE:  # the same quantities from log space
        log_alpha = np.empty((T, K))
        status = _kernels.forward_log(log_emission, _log(startprob), _log(transmat), starts, lengths, log_alpha,
                                      log_scaling, np.empty((2, K)), True)
        alpha = np.exp(log_alpha)
    return alpha, log_scaling, status


def backward(log_emission: ArrayLike, transmat: ArrayLike, log_scaling: ArrayLike,
             lengths: ArrayLike | None = None) -> np.ndarray:
    """Scaled backward pass, with the scaling constants of :func:`forward`.

    Parameters
    ----------
    log_emission : array-like of shape (T, K)
    transmat : array-like of shape (K, K)
    log_scaling : array-like of shape (T,)
        The second output of :func:`forward` for the same arguments, ``lengths`` included.
    lengths : array-like of int, optional

    Returns
    -------
    beta : ndarray of shape (T, K)
        ``p(x_t+1..n-1 | z_t = k) / p(x_t+1..n-1 | x_0..t)``; ``alpha * beta`` is the posterior
        ``p(z_t = k | x)`` exactly.

    Raises
    ------
    ValueError
        If ``log_scaling`` cannot come from :func:`forward` with these ``lengths``: since
        ``alpha[t]`` is a distribution and ``alpha[t] . beta[t] = 1``, every row of ``beta`` has
        entries on both sides of one, and a row entirely above or below one gives the mismatch
        away. That catches constants computed across a boundary that ``lengths`` does not have
        (the usual mistake: ``lengths`` left out of one call). A boundary that ``lengths`` adds
        leaves every row straddling one and cannot be seen from these arguments. Also raised if
        the scaled backward variables leave the range of doubles (:func:`backward_log` works in
        log space).
    """
    log_emission = check_log_emission(log_emission)
    T, K = log_emission.shape
    transmat = np.ascontiguousarray(check_stochastic_matrix(transmat, "transmat", shape=(K, K)))
    lengths = check_lengths(lengths, T)
    log_scaling = np.array(as_numeric_array(log_scaling, "log_scaling"), dtype=np.float64)
    if log_scaling.shape != (T,) or not np.all(np.isfinite(log_scaling)):
        raise ValueError(f"log_scaling must be the finite (T,) = ({T},) output of forward()")
    starts = sequence_starts(lengths)
    beta = np.empty_like(log_emission)
    _kernels.backward_scaled(log_emission, transmat, starts, lengths, log_scaling, beta, np.empty(K))
    _check_backward_variables(beta, starts)
    return beta


# Rounding carried along a scaled backward pass moves alpha[t] . beta[t] away from one by about
# T times the machine epsilon: 1e-10 at a million steps. A mismatched log_scaling moves it by the
# ratio of two probabilities of the data, far more.
_STRADDLE_TOLERANCE = 1e-6


def _check_backward_variables(beta: np.ndarray, starts: np.ndarray) -> None:
    """Refuse a ``beta`` that no matching forward pass allows (see :func:`backward`)."""
    with np.errstate(invalid="ignore"):
        lowest, highest = beta.min(axis=1), beta.max(axis=1)
    broken = ~(np.isfinite(lowest) & np.isfinite(highest))
    if broken.any():
        row = int(np.flatnonzero(broken)[-1])  # where the pass, running back in time, broke
        raise ValueError(
            f"the scaled backward variables leave the range of doubles at {_where(row, starts, 'log_emission')}: "
            "the sequence's past and future disagree by more than about 1e308, or log_scaling was "
            "computed by forward() for other arguments; backward_log works in log space"
        )
    above, below = lowest > 1.0 + _STRADDLE_TOLERANCE, highest < 1.0 - _STRADDLE_TOLERANCE
    if above.any() or below.any():
        row = int(np.argmax(above | below))
        side = "above" if above[row] else "below"
        raise ValueError(
            f"log_scaling does not match lengths: at {_where(row, starts, 'log_emission')} every "
            f"backward variable is {side} one, which no forward pass over these lengths gives "
            "(alpha[t] . beta[t] = 1 with alpha[t] a distribution). Pass the log_scaling that "
            "forward() returned for the same log_emission, transmat and lengths"
        )


# -- log space -------------------------------------------------------------------------------------
def forward_log(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                lengths: ArrayLike | None = None) -> tuple[np.ndarray, float]:
    """Forward pass in log space (log-sum-exp), the other numerically stable method.

    Parameters are as for :func:`forward`.

    Returns
    -------
    log_alpha : ndarray of shape (T, K)
        ``log p(x_0..t, z_t = k)`` within each sequence.
    log_likelihood : float
        Total over the sequences.
    """
    log_emission, startprob, transmat, lengths, starts = prepare(log_emission, startprob, transmat, lengths)
    log_alpha = np.empty_like(log_emission)
    bad = _kernels.forward_log(log_emission, _log(startprob), _log(transmat), starts, lengths, log_alpha,
                               np.empty(0), np.empty((2, log_emission.shape[1])), False)
    _raise_if_impossible(bad, starts)
    return log_alpha, float(reference._logsumexp(log_alpha[starts + lengths - 1], axis=1).sum())


def backward_log(log_emission: ArrayLike, transmat: ArrayLike, lengths: ArrayLike | None = None) -> np.ndarray:
    """Backward pass in log space.

    Returns
    -------
    log_beta : ndarray of shape (T, K)
        ``log p(x_t+1..n-1 | z_t = k)`` within each sequence (0 at a sequence's last step).
    """
    log_emission = check_log_emission(log_emission)
    T, K = log_emission.shape
    transmat = np.ascontiguousarray(check_stochastic_matrix(transmat, "transmat", shape=(K, K)))
    lengths = check_lengths(lengths, T)
    log_beta = np.empty_like(log_emission)
    _kernels.backward_log(log_emission, _log(transmat), sequence_starts(lengths), lengths, log_beta, np.empty(T),
                          np.empty((1, K)), False)
    return log_beta


# -- what the E-step needs -------------------------------------------------------------------------
def forward_backward(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                     lengths: ArrayLike | None = None, *,
                     method: str = "scaling") -> tuple[np.ndarray, np.ndarray, float]:
    """State posteriors, summed pairwise posteriors and log-likelihood: the E-step of Baum–Welch.

    Parameters
    ----------
    log_emission : array-like of shape (T, K)
    startprob : array-like of shape (K,)
    transmat : array-like of shape (K, K)
    lengths : array-like of int, optional
    method : {"scaling", "log"}, default "scaling"
        Normalised recursion (faster) or log-sum-exp; they agree to round-off.

    Returns
    -------
    posteriors : ndarray of shape (T, K)
        ``p(z_t = k | x)``.
    pairwise : ndarray of shape (K, K)
        ``sum_t p(z_t = i, z_t+1 = j | x)``, summed over every transition inside every sequence
        (never stored per step, so memory stays O(T K)).
    log_likelihood : float
        ``log p(x)``, summed over the sequences.
    """
    if method not in METHODS:
        raise ValueError(f"method must be 'scaling' or 'log', got {method!r}")
    log_emission, startprob, transmat, lengths, starts = prepare(log_emission, startprob, transmat, lengths)
    buffers = EStepBuffers(*log_emission.shape)
    copies = [log_emission, log_emission.copy()]  # the kernel overwrites its input: a copy goes first

    loglik, bad = run_e_step(copies.pop, startprob, transmat, starts, lengths, buffers, method)
    _raise_if_impossible(bad, starts)
    return buffers.posteriors, buffers.pairwise, float(loglik)


class EStepBuffers:
    """Output and work arrays of the E-step, allocated once and reused across iterations.

    ``log_emission`` (T, K), which the forward pass overwrites, is the caller's own array when it
    already has the log-emissions at hand (one E-step of a fitted model), else a new one.
    """

    def __init__(self, T: int, K: int, log_emission: np.ndarray | None = None):
        self.log_emission = np.empty((T, K)) if log_emission is None else log_emission
        self.posteriors = np.empty((T, K))
        self.log_scaling = np.empty(T)
        self.pairwise = np.empty((K, K))
        self.start_counts = np.empty(K)
        self.scratch = np.empty((K + 3, K))


def run_e_step(fresh_log_emission, startprob: ArrayLike, transmat: ArrayLike, starts, lengths: ArrayLike | None,
               buffers, method: str = "scaling"):
    """Forward–backward into ``buffers``; returns ``(log_likelihood, status)``.

    ``fresh_log_emission()`` must return the (T, K) log-emissions as an array the kernel may
    overwrite; it is called a second time only if the scaled recursion fails and the work is
    redone in log space.
    """
    b = buffers
    startprob = np.ascontiguousarray(startprob, dtype=np.float64)
    transmat = np.ascontiguousarray(transmat, dtype=np.float64)
    if method == "scaling":
        loglik, status = _kernels.forward_backward_scaled(
            fresh_log_emission(), startprob, transmat, starts, lengths, b.posteriors, b.log_scaling, b.pairwise,
            b.start_counts, b.scratch, True,
        )
        if status != _kernels.OUT_OF_RANGE:
            return loglik, status
    return _log_space_e_step(fresh_log_emission(), startprob, transmat, starts, lengths, b)


def _log_space_e_step(log_emission, startprob, transmat, starts, lengths, buffers):
    """The E-step in log space: the shifted forward and backward passes, then each posterior row and
    each transition's pairwise posteriors normalised by their own totals."""
    b = buffers
    log_transmat = _log(transmat)
    log_alpha = b.posteriors  # turned into the posteriors at the end
    status = _kernels.forward_log(log_emission, _log(startprob), log_transmat, starts, lengths, log_alpha,
                                  b.log_scaling, b.scratch, True)
    if status >= 0:
        return -np.inf, status
    log_beta = np.empty_like(log_emission)
    _kernels.backward_log(log_emission, log_transmat, starts, lengths, log_beta, np.empty(log_emission.shape[0]),
                          b.scratch, True)
    first, second = transition_rows(lengths)
    K = log_emission.shape[1]
    # transitions per (chunk, K, K) temporary: at most 8 MB, and few enough that their sum, added up
    # one transition after another, keeps its rounding well below 1e-8
    chunk = max(1, min(4096, 2**20 // (K * K)))
    b.pairwise[:] = 0.0
    for begin in range(0, first.shape[0], chunk):
        steps = slice(begin, begin + chunk)
        xi = _normalised_xi(log_alpha, log_beta, log_emission, log_transmat, first[steps], second[steps])
        b.pairwise += xi.sum(axis=0)
    log_alpha += log_beta  # log of the posteriors, up to a constant per row
    log_alpha -= log_alpha.max(axis=1, keepdims=True)
    posteriors = np.exp(log_alpha, out=log_alpha)
    posteriors /= posteriors.sum(axis=1, keepdims=True)
    b.start_counts[:] = posteriors[starts].sum(axis=0)
    return float(b.log_scaling.sum()), -1


def _normalised_xi(log_alpha, log_beta, log_emission, log_transmat, first, second) -> np.ndarray:
    """``p(z_t = i, z_t+1 = j | x)`` of the transitions ``first -> second`` (rows), (n, K, K).

    Computed in log space from forward and backward variables known up to a constant per step,
    each matrix then normalised to sum to one.
    """
    log_xi = (log_alpha[first][:, :, None] + log_transmat[None, :, :]
              + (log_emission[second] + log_beta[second])[:, None, :])
    log_xi -= log_xi.max(axis=(1, 2), keepdims=True)
    xi = np.exp(log_xi, out=log_xi)
    xi /= xi.sum(axis=(1, 2), keepdims=True)
    return xi


def log_likelihood(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                   lengths: ArrayLike | None = None, *, per_sequence: bool = False) -> float | np.ndarray:
    """``log p(x)`` by the scaled forward pass, storing nothing per step.

    Parameters
    ----------
    log_emission, startprob, transmat, lengths
        As for :func:`forward`.
    per_sequence : bool, default False
        Return one value per sequence instead of the total.

    Returns
    -------
    float or ndarray of shape (n_sequences,)
        ``-inf`` for a sequence the model cannot produce (no error is raised).
    """
    log_emission, startprob, transmat, lengths, starts = prepare(log_emission, startprob, transmat, lengths)
    values = sequence_log_likelihoods(log_emission, startprob, transmat, starts, lengths)
    return values if per_sequence else float(values.sum())


def sequence_log_likelihoods(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike, starts,
                             lengths: ArrayLike | None) -> np.ndarray:
    """``log p(x)`` of each sequence (S,) from validated arrays; -inf where impossible."""
    T, K = log_emission.shape
    alpha, log_scaling, scratch = np.empty((T, K)), np.empty(T), np.empty((K + 3, K))
    unused = (np.empty((K, K)), np.empty(K))
    _, status = _kernels.forward_backward_scaled(log_emission.copy(), startprob, transmat, starts, lengths, alpha,
                                                 log_scaling, *unused, scratch, False)
    if status == -1:
        return np.add.reduceat(log_scaling, starts)
    values = np.empty(starts.shape[0])  # some sequence failed: one at a time, in log space if need be
    for s in range(starts.shape[0]):
        rows = slice(starts[s], starts[s] + lengths[s])
        one, first = log_emission[rows], np.zeros(1, dtype=np.int64)
        values[s], status = _kernels.forward_backward_scaled(one.copy(), startprob, transmat, first, lengths[s:s + 1],
                                                             alpha[rows], log_scaling[rows], *unused, scratch, False)
        if status == _kernels.OUT_OF_RANGE:
            status = _kernels.forward_log(one, _log(startprob), _log(transmat), first, lengths[s:s + 1], alpha[rows],
                                          log_scaling[rows], scratch, True)
            values[s] = log_scaling[rows].sum()
        if status >= 0:
            values[s] = -np.inf
    return values


def viterbi(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
            lengths: ArrayLike | None = None) -> tuple[np.ndarray, float]:
    """Most probable state path (Viterbi's dynamic programming, in log space).

    Parameters are as for :func:`forward`.

    Returns
    -------
    path : ndarray of shape (T,)
        The most probable state of every step, jointly: ``argmax_z p(z | x)`` (ties go to the
        lower state).
    log_probability : float
        ``log p(x, path)``, summed over the sequences.
    """
    log_emission, startprob, transmat, lengths, starts = prepare(log_emission, startprob, transmat, lengths)
    path = np.empty(log_emission.shape[0], dtype=np.int64)
    logprob, bad = _kernels.viterbi(log_emission, _log(startprob), _log(transmat), starts, lengths, path)
    _raise_if_impossible(bad, starts)
    return path, float(logprob)


# -- for teaching ----------------------------------------------------------------------------------
def forward_unscaled(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                     lengths: ArrayLike | None = None) -> tuple[np.ndarray, float]:
    """The textbook forward pass on raw probabilities, deliberately without scaling.

    ``alpha[t, k] = p(x_0..t, z_t = k)`` is a product of ``t`` numbers below one (densities of
    ordinary data are too), so it underflows to exactly zero after a few hundred steps. Use it to
    see why :func:`forward` normalises; never to compute a likelihood.

    Returns
    -------
    alpha : ndarray of shape (T, K)
    likelihood : float
        ``p(x)`` as the recursion computes it (0.0 after underflow).
    """
    log_emission, startprob, transmat, lengths, _ = prepare(log_emission, startprob, transmat, lengths)
    with np.errstate(under="ignore"):
        return reference.forward_unscaled(log_emission, startprob, transmat, lengths)


def pairwise_posteriors(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                        lengths: ArrayLike | None = None) -> np.ndarray:
    """Per-step pairwise posteriors ``p(z_t = i, z_t+1 = j | x)`` for every transition.

    Meant for small problems and teaching (e.g. :func:`~emlib.hmm.evidence_lower_bound`): the result
    has ``T - n_sequences`` matrices of size K x K. Fitting never builds it; it sums the pairwise
    posteriors on the fly (see :func:`forward_backward`).

    Returns
    -------
    ndarray of shape (T - n_sequences, K, K)
        One matrix per transition, in order: the transitions of sequence 0, then of sequence 1, ...
        Each matrix sums to one.
    """
    log_emission, startprob, transmat, lengths, starts = prepare(log_emission, startprob, transmat, lengths)
    T, K = log_emission.shape
    log_alpha, log_beta = np.empty((T, K)), np.empty((T, K))
    bad = _kernels.forward_log(log_emission, _log(startprob), _log(transmat), starts, lengths, log_alpha,
                               np.empty(T), np.empty((2, K)), True)
    _raise_if_impossible(bad, starts)
    _kernels.backward_log(log_emission, _log(transmat), starts, lengths, log_beta, np.empty(T), np.empty((1, K)),
                          True)
    # Log space, so that no ratio of scaled variables can overflow in this teaching function.
    return _normalised_xi(log_alpha, log_beta, log_emission, _log(transmat), *transition_rows(lengths))


def transition_rows(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``t`` and ``t + 1`` of every transition inside the sequences, each of shape (T - S,)."""
    T = int(lengths.sum())
    last_rows = np.cumsum(lengths) - 1
    first = np.delete(np.arange(T), last_rows)
    return first, first + 1
