"""The HMM recursions in plain NumPy: one loop over time, vector operations over states.

These are the versions to read (the book shows them). The compiled kernels in ``_kernels.py`` do
the same arithmetic with explicit loops and are tested equal to these; until a kernel is compiled,
emlib runs these instead for small calls (a fresh environment fits a small model without waiting
for the compiler). Inputs are assumed valid (the public functions in :mod:`emlib.hmm` check them);
``lengths`` splits the rows into sequences.

Notation for one sequence of ``n`` steps: ``b[t, k]`` is the emission probability of ``x_t`` in
state ``k``, ``A`` the transition matrix, ``pi`` the start probabilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from emlib._typing import ArrayLike

__all__ = [
    "backward_log",
    "backward_scaled",
    "forward_backward_log",
    "forward_backward_scaled",
    "forward_log",
    "forward_scaled",
    "forward_unscaled",
    "sample_states",
    "smooth_scaled",
    "viterbi",
]


def _sequences(n_rows: int, lengths):
    """Row slices of the sequences."""
    if lengths is None:
        lengths = [n_rows]
    start = 0
    for n in lengths:
        yield slice(start, start + int(n))
        start += int(n)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """``log(sum(exp(a)))`` along ``axis``; all ``-inf`` gives ``-inf`` (not NaN)."""
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top, axis=axis)


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


# -- the naive recursion (for teaching: it underflows) ---------------------------------------------
def forward_unscaled(
    log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
    lengths: ArrayLike | None = None,
) -> tuple[np.ndarray, float]:
    """Textbook forward pass on raw probabilities.

    ``alpha[t] = (alpha[t-1] @ A) * b[t]`` with ``alpha[t, k] =
    p(x_0..t, z_t = k)``. It shrinks geometrically with ``t`` and underflows
    to zero after a few hundred steps of ordinary data, which is why nobody
    runs it in practice.

    Returns
    -------
    alpha : ndarray of shape (T, K)
    likelihood : float
        Product over sequences of ``sum_k alpha[last, k]``: 0.0 once the
        recursion has underflowed.
    """
    b = np.exp(log_emission)
    alpha = np.empty_like(b)
    likelihood = 1.0
    for rows in _sequences(len(b), lengths):
        a, bs = alpha[rows], b[rows]
        a[0] = startprob * bs[0]
        for t in range(1, len(bs)):
            a[t] = (a[t - 1] @ transmat) * bs[t]
        likelihood *= a[-1].sum()
    return alpha, float(likelihood)


# -- scaling (Rabiner's normalised recursion, errata fixed) ----------------------------------------
def forward_scaled(
    log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
    lengths: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise ``alpha`` at every step; the normalisers ``c[t]`` carry the
    likelihood.

    Returns
    -------
    alpha : ndarray of shape (T, K)
        ``p(z_t | x_0..t)``: each row sums to one.
    log_scaling : ndarray of shape (T,)
        ``log c[t] = log p(x_t | x_0..t-1)``; their sum over a sequence is
        its log-likelihood.
    """
    top = np.max(log_emission, axis=1, keepdims=True)
    # Emissions divided by the step's largest one: exp cannot overflow.
    b = np.exp(log_emission - top)
    alpha = np.empty_like(b)
    c = np.empty(len(b))
    for rows in _sequences(len(b), lengths):
        a, bs, cs = alpha[rows], b[rows], c[rows]
        predicted = startprob
        for t in range(len(bs)):
            unnormalised = predicted * bs[t]
            cs[t] = unnormalised.sum()
            a[t] = unnormalised / cs[t]
            predicted = a[t] @ transmat
    return alpha, np.log(c) + top[:, 0]


def backward_scaled(
    log_emission: ArrayLike, transmat: ArrayLike, log_scaling: ArrayLike,
    lengths: ArrayLike | None = None,
) -> np.ndarray:
    """``beta[t] = A @ (b[t+1] * beta[t+1]) / c[t+1]``, with the forward
    pass's constants.

    With these constants ``alpha[t] * beta[t]`` is the posterior
    ``p(z_t | x)`` with no further normalisation. (Rabiner's tutorial scales
    beta with the same ``c`` but does not write the recursion out; using
    ``c[t]`` instead of ``c[t+1]`` is a common slip.)
    """
    weighted_b = np.exp(log_emission - log_scaling[:, None])  # b[t] / c[t]
    beta = np.empty_like(weighted_b)
    for rows in _sequences(len(beta), lengths):
        bt, wb = beta[rows], weighted_b[rows]
        bt[-1] = 1.0
        for t in range(len(bt) - 2, -1, -1):
            bt[t] = transmat @ (wb[t + 1] * bt[t + 1])
    return beta


def forward_backward_scaled(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                            lengths: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """State posteriors, summed pairwise posteriors and log-likelihood, by scaling.

    Returns
    -------
    posteriors : ndarray of shape (T, K)
    pairwise : ndarray of shape (K, K)
        ``sum_t p(z_t = i, z_t+1 = j | x)`` over all transitions inside the sequences.
    log_likelihood : float
    """
    alpha, log_scaling = forward_scaled(log_emission, startprob, transmat, lengths)
    posteriors, pairwise = smooth_scaled(log_emission, transmat, alpha, log_scaling, lengths)
    return posteriors, pairwise, float(log_scaling.sum())


def smooth_scaled(log_emission: ArrayLike, transmat: ArrayLike, alpha: ArrayLike, log_scaling: ArrayLike,
                  lengths: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The second half of :func:`forward_backward_scaled`: from the forward pass's ``alpha`` and
    ``log_scaling`` (:func:`forward_scaled`) to the posteriors, by the backward pass.

    Returns
    -------
    posteriors : ndarray of shape (T, K)
    pairwise : ndarray of shape (K, K)
        ``sum_t p(z_t = i, z_t+1 = j | x)`` over all transitions inside the sequences.
    """
    beta = backward_scaled(log_emission, transmat, log_scaling, lengths)
    posteriors = alpha * beta
    weighted_b = np.exp(log_emission - log_scaling[:, None])
    pairwise = np.zeros_like(transmat)
    for rows in _sequences(len(alpha), lengths):
        a, bt, wb = alpha[rows], beta[rows], weighted_b[rows]
        # xi_t(i, j) = alpha[t, i] A[i, j] b[t+1, j] beta[t+1, j] / c[t+1], summed over t
        pairwise += transmat * (a[:-1].T @ (wb[1:] * bt[1:]))
    return posteriors, pairwise


# -- log space -------------------------------------------------------------------------------------
def forward_log(
    log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
    lengths: ArrayLike | None = None,
) -> tuple[np.ndarray, float]:
    """``log_alpha[t, k] = log p(x_0..t, z_t = k)`` by log-sum-exp.

    Returns
    -------
    log_alpha : ndarray of shape (T, K)
    log_likelihood : float
        Sum over sequences.
    """
    log_pi, log_a = _log(startprob), _log(transmat)
    log_alpha = np.empty_like(log_emission)
    loglik = 0.0
    for rows in _sequences(len(log_emission), lengths):
        la, le = log_alpha[rows], log_emission[rows]
        la[0] = log_pi + le[0]
        for t in range(1, len(le)):
            previous = la[t - 1][:, None] + log_a  # (from state, to state)
            la[t] = _logsumexp(previous, axis=0) + le[t]
        loglik += _logsumexp(la[-1], axis=0)
    return log_alpha, float(loglik)


def backward_log(log_emission: ArrayLike, transmat: ArrayLike, lengths: ArrayLike | None = None) -> np.ndarray:
    """``log_beta[t, k] = log p(x_t+1..n-1 | z_t = k)`` by log-sum-exp."""
    log_a = _log(transmat)
    log_beta = np.empty_like(log_emission)
    for rows in _sequences(len(log_emission), lengths):
        lb, le = log_beta[rows], log_emission[rows]
        lb[-1] = 0.0
        for t in range(len(le) - 2, -1, -1):
            lb[t] = _logsumexp(log_a + (le[t + 1] + lb[t + 1])[None, :], axis=1)
    return log_beta


def forward_backward_log(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                         lengths: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Same outputs as :func:`forward_backward_scaled`, computed in log space.

    Each posterior row, and the pairwise posteriors of each transition, are
    normalised by their own total (a log-sum-exp) rather than by the
    likelihood: they then sum to one however large the logarithms are.
    """
    log_alpha, _ = forward_log(log_emission, startprob, transmat, lengths)
    log_beta = backward_log(log_emission, transmat, lengths)
    log_a = _log(transmat)
    log_gamma = log_alpha + log_beta
    posteriors = np.exp(log_gamma - _logsumexp(log_gamma, axis=1)[:, None])
    pairwise = np.zeros_like(transmat)
    loglik = 0.0
    for rows in _sequences(len(log_alpha), lengths):
        la, lb, le = log_alpha[rows], log_beta[rows], log_emission[rows]
        loglik += _logsumexp(la[-1], axis=0)
        for t in range(len(le) - 1):
            # log xi_t(i, j), up to a constant; normalised to sum to one
            log_xi = la[t][:, None] + log_a + (le[t + 1] + lb[t + 1])[None, :]
            pairwise += np.exp(log_xi - _logsumexp(log_xi.ravel(), axis=0))
    return posteriors, pairwise, float(loglik)


# -- Viterbi ---------------------------------------------------------------------------------------
def viterbi(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
            lengths: ArrayLike | None = None) -> tuple[np.ndarray, float]:
    """Most probable state path, by dynamic programming on log-probs.

    Returns
    -------
    path : ndarray of shape (T,)
    log_probability : float
        ``log p(x, path)`` summed over sequences.
    """
    log_pi, log_a = _log(startprob), _log(transmat)
    path = np.empty(len(log_emission), dtype=np.int64)
    total = 0.0
    for rows in _sequences(len(log_emission), lengths):
        le = log_emission[rows]
        n, K = le.shape
        delta = log_pi + le[0]
        backpointer = np.zeros((n, K), dtype=np.int64)
        for t in range(1, n):
            # scores[i, j]: best path ending in i, then the step i -> j
            scores = delta[:, None] + log_a
            backpointer[t] = np.argmax(scores, axis=0)
            delta = scores[backpointer[t], np.arange(K)] + le[t]
        p = path[rows]
        p[-1] = np.argmax(delta)
        total += delta[p[-1]]
        for t in range(n - 1, 0, -1):
            p[t - 1] = backpointer[t, p[t]]
    return path, float(total)


# -- sampling --------------------------------------------------------------------------------------
def sample_states(cumulative_startprob: np.ndarray, cumulative_transmat: np.ndarray,
                  uniforms: np.ndarray) -> np.ndarray:
    """A state path from uniform numbers, one per step.

    Each state is the first whose cumulative probability (from the start
    probabilities, then from the row of the previous state) exceeds the
    step's uniform number, which makes it a draw from the chain.
    """
    K = len(cumulative_startprob)
    states = np.empty(len(uniforms), dtype=np.int64)
    thresholds = cumulative_startprob
    for t, u in enumerate(uniforms):
        states[t] = min(np.searchsorted(thresholds, u, side="right"), K - 1)
        thresholds = cumulative_transmat[states[t]]
    return states
