"""Compiled recursions over time (numba). The readable NumPy versions are in ``reference.py`` (:mod:`emlib.hmm.reference`).

Every kernel takes the concatenated sequences as one (T, K) array plus ``starts`` and ``lengths``
(int64), and loops over the sequences itself, so that many short sequences cost one call.

Status codes returned by the kernels: ``-1`` all went well; a row ``>= 0`` is the first observation
of probability zero (the Python wrappers turn it into an error naming the sequence and the step);
``OUT_OF_RANGE`` (``-2``, scaling kernels only) means a scaled number left the range of doubles
or lost its precision, which happens when the past and the future disagree by more than about
1e308 (say a left-to-right model started far from the data): the wrappers then redo the work in log
space, which cannot overflow. A normaliser below the smallest normal double (1e-308, zero included)
is reported that way too, since in scaled arithmetic it may be underflow rather than impossibility;
log space tells the two apart.

Conventions (scaling method), per sequence with steps ``t = 0 .. n-1``:

- the emission probabilities of a step are handled relative to their largest value,
  ``b[t, k] = exp(log_emission[t, k] - m[t])`` with ``m[t] = max_k log_emission[t, k]``, so a
  density of 1e-400 does not underflow before the recursion even starts;
- ``c[t] = sum_j b[t, j] * (alpha[t-1] @ A)[j]`` and ``alpha[t] = b[t] * (alpha[t-1] @ A) / c[t]``,
  so ``alpha[t]`` is the filtering distribution ``p(z_t | x_0..t)`` (rows sum to one) and
  ``log c[t] + m[t] = log p(x_t | x_0..t-1)``;
- ``beta[n-1] = 1`` and ``beta[t] = A @ (b[t+1] * beta[t+1]) / c[t+1]`` with the *same* constants,
  so that ``alpha[t] * beta[t]`` is exactly the posterior ``p(z_t | x)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}
OUT_OF_RANGE = -2
# A normaliser c[t] below the smallest normal double was computed from subnormal numbers, which
# carry few significant digits (e^-740 has about 7 bits): the scaled pass hands over to log space.
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)
# alpha[t] . beta[t] is exactly one in exact arithmetic; farther from one than this, the scaled
# numbers have lost their precision (or left the range of doubles) and log space takes over.
_TOTAL_TOLERANCE = 1e-6
# Running sums over time (log-likelihood, pairwise posteriors) are added up in blocks of this many
# steps: a million terms added one by one to a total in the millions lose about 1e-7 to rounding.
_BLOCK = 1024


@njit(**_OPTIONS)
def _logsumexp(values):
    top = -np.inf
    for v in values:
        top = max(top, v)
    if top == -np.inf:
        return -np.inf
    total = 0.0
    for v in values:
        total += np.exp(v - top)
    return top + np.log(total)


@njit(**_OPTIONS)
def _flush(block, total):
    """``total += block``, then ``block = 0`` (both (K, K))."""
    K = block.shape[0]
    for i in range(K):
        for j in range(K):
            total[i, j] += block[i, j]
            block[i, j] = 0.0


# -- scaling method ---------------------------------------------------------------------------------
@njit(**_OPTIONS)
def forward_scaled(log_emission, startprob, transmat, starts, lengths, alpha, log_scaling):
    """Scaled forward pass. Fills ``alpha`` (T, K) and ``log_scaling`` (T,); returns the bad row or -1."""
    K = startprob.shape[0]
    b = np.empty(K)
    predicted = np.empty(K)
    for s in range(starts.shape[0]):
        t0 = starts[s]
        for t in range(t0, t0 + lengths[s]):
            top = -np.inf
            for k in range(K):
                top = max(top, log_emission[t, k])
            if top == -np.inf:
                return t
            for k in range(K):
                b[k] = np.exp(log_emission[t, k] - top)
            if t == t0:
                for k in range(K):
                    predicted[k] = startprob[k]
            else:
                predicted[:] = 0.0
                for i in range(K):
                    a = alpha[t - 1, i]
                    for j in range(K):
                        predicted[j] += a * transmat[i, j]
            c = 0.0
            for k in range(K):
                predicted[k] *= b[k]
                c += predicted[k]
            if not c >= _SMALLEST_NORMAL:
                return OUT_OF_RANGE
            for k in range(K):
                alpha[t, k] = predicted[k] / c
            log_scaling[t] = np.log(c) + top
    return -1


@njit(**_OPTIONS)
def backward_scaled(log_emission, transmat, starts, lengths, log_scaling, beta):
    """Scaled backward pass with the forward pass's constants. Fills ``beta`` (T, K)."""
    K = transmat.shape[0]
    weighted = np.empty(K)
    for s in range(starts.shape[0]):
        t0 = starts[s]
        last = t0 + lengths[s] - 1
        for k in range(K):
            beta[last, k] = 1.0
        for t in range(last, t0, -1):
            # b[t] * beta[t] / c[t] in one exponential: log b - log c = log_emission - log_scaling
            for j in range(K):
                weighted[j] = np.exp(log_emission[t, j] - log_scaling[t]) * beta[t, j]
            for i in range(K):
                total = 0.0
                for j in range(K):
                    total += transmat[i, j] * weighted[j]
                beta[t - 1, i] = total
    return beta


@njit(**_OPTIONS)
def forward_backward_scaled(work, startprob, transmat, starts, lengths, posteriors, scale,
                            pairwise, start_counts):
    """Fused E-step: posteriors (T, K), summed pairwise posteriors (K, K), first-step sums (K,).

    ``work`` holds the log-emissions on entry and is overwritten with the scaled emission
    probabilities ``b``; ``scale`` (T,) receives ``c``. ``posteriors`` first holds the forward
    variables, which the backward sweep turns into posteriors in place, so no (T, K, K) array and
    no second (T, K) array are needed. Returns ``(log_likelihood, bad_row)``.
    """
    K = startprob.shape[0]
    predicted = np.empty(K)
    beta = np.empty(K)
    weighted = np.empty(K)
    acc = np.zeros((K, K))  # sum_t alpha[t-1, i] * weighted_t[j]; times A[i, j] at the end
    block = np.zeros((K, K))  # the same sum over the last <= _BLOCK steps
    pairwise[:] = 0.0
    start_counts[:] = 0.0
    loglik = 0.0
    for s in range(starts.shape[0]):
        t0 = starts[s]
        last = t0 + lengths[s] - 1
        block_loglik = 0.0
        # forward
        for t in range(t0, last + 1):
            top = -np.inf
            for k in range(K):
                top = max(top, work[t, k])
            if top == -np.inf:
                return -np.inf, t
            for k in range(K):
                work[t, k] = np.exp(work[t, k] - top)
            if t == t0:
                for k in range(K):
                    predicted[k] = startprob[k]
            else:
                predicted[:] = 0.0
                for i in range(K):
                    a = posteriors[t - 1, i]
                    for j in range(K):
                        predicted[j] += a * transmat[i, j]
            c = 0.0
            for k in range(K):
                predicted[k] *= work[t, k]
                c += predicted[k]
            if not c >= _SMALLEST_NORMAL:
                return -np.inf, OUT_OF_RANGE
            inv = 1.0 / c
            for k in range(K):
                posteriors[t, k] = predicted[k] * inv
            scale[t] = c
            block_loglik += np.log(c) + top
            if (t - t0 + 1) % _BLOCK == 0:
                loglik += block_loglik
                block_loglik = 0.0
        loglik += block_loglik
        # backward, turning alpha into the posterior as it goes; the posterior of step t-1 and
        # the pairwise posteriors of t-1 -> t are divided by their common total, which rounding
        # alone keeps from being exactly one (and over a million steps that would add up)
        total = 0.0
        for k in range(K):
            beta[k] = 1.0
            total += posteriors[last, k]
        for k in range(K):
            posteriors[last, k] /= total
        for t in range(last, t0, -1):
            inv = 1.0 / scale[t]
            for j in range(K):
                weighted[j] = work[t, j] * beta[j] * inv
            total = 0.0
            for i in range(K):
                row = 0.0
                for j in range(K):
                    row += transmat[i, j] * weighted[j]
                beta[i] = row
                total += posteriors[t - 1, i] * row  # alpha[t-1] . beta[t-1]
            if not abs(total - 1.0) <= _TOTAL_TOLERANCE:
                return -np.inf, OUT_OF_RANGE
            inv = 1.0 / total
            for i in range(K):
                a = posteriors[t - 1, i] * inv
                for j in range(K):
                    block[i, j] += a * weighted[j]
                posteriors[t - 1, i] = a * beta[i]
            if (last - t + 1) % _BLOCK == 0:
                _flush(block, acc)
        _flush(block, acc)
        for k in range(K):
            start_counts[k] += posteriors[t0, k]
    for i in range(K):
        for j in range(K):
            pairwise[i, j] = acc[i, j] * transmat[i, j]
            if not np.isfinite(pairwise[i, j]):
                return -np.inf, OUT_OF_RANGE
    return loglik, -1


@njit(**_OPTIONS)
def log_likelihood_scaled(log_emission, startprob, transmat, starts, lengths, per_sequence):
    """Forward pass keeping only the running filter: fills ``per_sequence`` (S,).

    ``-inf`` for a sequence with an observation no state can emit; NaN where the scaled normaliser
    reached zero, which the caller settles in log space.
    """
    K = startprob.shape[0]
    alpha = np.empty(K)
    predicted = np.empty(K)
    for s in range(starts.shape[0]):
        t0 = starts[s]
        total = 0.0
        for t in range(t0, t0 + lengths[s]):
            top = -np.inf
            for k in range(K):
                top = max(top, log_emission[t, k])
            if top == -np.inf:
                total = -np.inf  # no state can emit x_t: probability zero for certain
                break
            if t == t0:
                for k in range(K):
                    predicted[k] = startprob[k]
            else:
                predicted[:] = 0.0
                for i in range(K):
                    a = alpha[i]
                    for j in range(K):
                        predicted[j] += a * transmat[i, j]
            c = 0.0
            for k in range(K):
                predicted[k] *= np.exp(log_emission[t, k] - top)
                c += predicted[k]
            if not c >= _SMALLEST_NORMAL:
                total = np.nan  # zero or underflow: the caller redoes this sequence in log space
                break
            for k in range(K):
                alpha[k] = predicted[k] / c
            total += np.log(c) + top
        per_sequence[s] = total
    return per_sequence


# -- log-space method -------------------------------------------------------------------------------
@njit(**_OPTIONS)
def forward_log(log_emission, log_startprob, log_transmat, starts, lengths, log_alpha):
    """``log_alpha[t, k] = log p(x_0..t, z_t = k)`` (T, K). Returns ``(log_likelihood, bad_row)``."""
    K = log_startprob.shape[0]
    terms = np.empty(K)
    loglik = 0.0
    for s in range(starts.shape[0]):
        t0 = starts[s]
        last = t0 + lengths[s] - 1
        for t in range(t0, last + 1):
            top = -np.inf
            for j in range(K):
                if t == t0:
                    value = log_startprob[j] + log_emission[t, j]
                else:
                    for i in range(K):
                        terms[i] = log_alpha[t - 1, i] + log_transmat[i, j]
                    value = _logsumexp(terms) + log_emission[t, j]
                log_alpha[t, j] = value
                top = max(top, value)
            if top == -np.inf:
                return -np.inf, t
        loglik += _logsumexp(log_alpha[last])
    return loglik, -1


@njit(**_OPTIONS)
def backward_log(log_emission, log_transmat, starts, lengths, log_beta):
    """``log_beta[t, k] = log p(x_t+1..n-1 | z_t = k)`` (T, K)."""
    K = log_transmat.shape[0]
    terms = np.empty(K)
    for s in range(starts.shape[0]):
        t0 = starts[s]
        last = t0 + lengths[s] - 1
        for k in range(K):
            log_beta[last, k] = 0.0
        for t in range(last - 1, t0 - 1, -1):
            for i in range(K):
                for j in range(K):
                    terms[j] = log_transmat[i, j] + log_emission[t + 1, j] + log_beta[t + 1, j]
                log_beta[t, i] = _logsumexp(terms)
    return log_beta


@njit(**_OPTIONS)
def forward_backward_log(log_emission, log_startprob, log_transmat, starts, lengths, posteriors,
                         pairwise, start_counts):
    """Log-space E-step with the outputs of :func:`forward_backward_scaled`.

    Log space has its own form of scaling: each step's ``log_alpha`` is shifted by its
    log-sum-exp (the log of that step's normaliser; they add up to the log-likelihood) and each
    ``log_beta`` by its maximum, so every number stays near zero and no sum of logarithms in the
    millions swallows the differences that decide the posteriors. Each posterior row and each
    step's pairwise posteriors (``xi_t``) are divided by their totals, so they sum to one exactly
    however extreme the log-emissions. ``posteriors`` first holds the shifted ``log_alpha``, which
    the backward sweep turns into posteriors. Returns ``(log_likelihood, bad_row)``.
    """
    K = log_startprob.shape[0]
    log_beta = np.empty(K)
    weights = np.empty(K)  # log_emission[t] + log_beta[t]
    terms = np.empty(K)
    xi = np.empty((K, K))
    block = np.zeros((K, K))  # pairwise posteriors of the last <= _BLOCK steps (summed in blocks)
    pairwise[:] = 0.0
    start_counts[:] = 0.0
    loglik = 0.0
    for s in range(starts.shape[0]):
        t0 = starts[s]
        last = t0 + lengths[s] - 1
        block_loglik = 0.0
        for t in range(t0, last + 1):
            top = -np.inf
            for j in range(K):
                if t == t0:
                    value = log_startprob[j] + log_emission[t, j]
                else:
                    for i in range(K):
                        terms[i] = posteriors[t - 1, i] + log_transmat[i, j]
                    value = _logsumexp(terms) + log_emission[t, j]
                posteriors[t, j] = value
                top = max(top, value)
            if top == -np.inf:
                return -np.inf, t
            total = 0.0
            for j in range(K):
                total += np.exp(posteriors[t, j] - top)
            log_normaliser = top + np.log(total)
            for j in range(K):
                posteriors[t, j] -= log_normaliser
            block_loglik += log_normaliser
            if (t - t0 + 1) % _BLOCK == 0:
                loglik += block_loglik
                block_loglik = 0.0
        loglik += block_loglik
        for k in range(K):
            log_beta[k] = 0.0
        for t in range(last, t0 - 1, -1):
            # posterior of step t: exp(log_alpha + log_beta), divided by its total
            top = -np.inf
            for j in range(K):
                terms[j] = posteriors[t, j] + log_beta[j]
                top = max(top, terms[j])
            if top == -np.inf:
                return -np.inf, t  # cannot happen once the forward pass found p(x) > 0
            total = 0.0
            for j in range(K):
                terms[j] = np.exp(terms[j] - top)
                total += terms[j]
            for j in range(K):
                posteriors[t, j] = terms[j] / total
            if t == t0:
                break
            # xi of the transition t-1 -> t, divided by its total; then log_beta of step t-1
            for j in range(K):
                weights[j] = log_emission[t, j] + log_beta[j]
            top = -np.inf
            for i in range(K):
                for j in range(K):
                    xi[i, j] = posteriors[t - 1, i] + log_transmat[i, j] + weights[j]
                    top = max(top, xi[i, j])
            total = 0.0
            for i in range(K):
                for j in range(K):
                    xi[i, j] = np.exp(xi[i, j] - top)
                    total += xi[i, j]
            inv = 1.0 / total
            for i in range(K):
                for j in range(K):
                    block[i, j] += xi[i, j] * inv
            if (last - t + 1) % _BLOCK == 0:
                _flush(block, pairwise)
            top = -np.inf
            for i in range(K):
                for j in range(K):
                    terms[j] = log_transmat[i, j] + weights[j]
                log_beta[i] = _logsumexp(terms)
                top = max(top, log_beta[i])
            for i in range(K):
                log_beta[i] -= top
        _flush(block, pairwise)
        for k in range(K):
            start_counts[k] += posteriors[t0, k]
    return loglik, -1


# -- Viterbi ----------------------------------------------------------------------------------------
@njit(**_OPTIONS)
def viterbi(log_emission, log_startprob, log_transmat, starts, lengths, path):
    """Most probable state path into ``path`` (T,). Returns ``(log_probability, bad_row)``."""
    K = log_startprob.shape[0]
    longest = 0
    for s in range(lengths.shape[0]):
        longest = max(longest, lengths[s])
    backpointer = np.empty((longest, K), dtype=np.int32)
    delta = np.empty(K)
    new_delta = np.empty(K)
    total = 0.0
    for s in range(starts.shape[0]):
        t0 = starts[s]
        n = lengths[s]
        top = -np.inf
        for k in range(K):
            delta[k] = log_startprob[k] + log_emission[t0, k]
            top = max(top, delta[k])
        if top == -np.inf:
            return -np.inf, t0
        for t in range(1, n):
            top = -np.inf
            for j in range(K):
                best = -np.inf
                arg = 0
                for i in range(K):
                    value = delta[i] + log_transmat[i, j]
                    if value > best:
                        best = value
                        arg = i
                value = best + log_emission[t0 + t, j]
                new_delta[j] = value
                backpointer[t, j] = arg
                top = max(top, value)
            if top == -np.inf:
                return -np.inf, t0 + t
            for k in range(K):
                delta[k] = new_delta[k]
        best = -np.inf
        state = 0
        for k in range(K):
            if delta[k] > best:
                best = delta[k]
                state = k
        total += best
        path[t0 + n - 1] = state
        for t in range(n - 1, 0, -1):
            state = backpointer[t, state]
            path[t0 + t - 1] = state
    return total, -1


# -- sampling ---------------------------------------------------------------------------------------
@njit(**_OPTIONS)
def sample_states(cumulative_startprob, cumulative_transmat, uniforms, states):
    """Draw a state path by inverting the cumulative probabilities with the given uniforms."""
    K = cumulative_startprob.shape[0]
    previous = -1
    for t in range(uniforms.shape[0]):
        u = uniforms[t]
        state = K - 1
        for k in range(K):
            threshold = cumulative_startprob[k] if previous < 0 else cumulative_transmat[previous, k]
            if u < threshold:
                state = k
                break
        states[t] = state
        previous = state
    return states


# -- k-means steps for the starting values ---------------------------------------------------------
@njit(**_OPTIONS)
def lloyd_assign(X, centres, forced, assignment, sums, counts):
    """One Lloyd step's data pass: nearest centre of every row (or ``forced[n]`` when >= 0), with
    the per-centre sums (K, D) and counts (K,). Returns how many rows changed centre."""
    N, D = X.shape
    K = centres.shape[0]
    sums[:] = 0.0
    counts[:] = 0
    changed = 0
    has_forced = forced.shape[0] > 0
    for n in range(N):
        best = 0
        if has_forced and forced[n] >= 0:
            best = forced[n]
        else:
            best_distance = np.inf
            for k in range(K):
                distance = 0.0
                for d in range(D):
                    diff = X[n, d] - centres[k, d]
                    distance += diff * diff
                if distance < best_distance:
                    best_distance = distance
                    best = k
        if assignment[n] != best:
            changed += 1
            assignment[n] = best
        counts[best] += 1
        for d in range(D):
            sums[best, d] += X[n, d]
    return changed
