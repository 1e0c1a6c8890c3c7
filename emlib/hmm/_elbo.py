"""The evidence lower bound of an HMM for any first-order Markov distribution over the states.

For a distribution ``q`` over state paths that is a Markov chain (the exact posterior is one), ``q``
is fixed by its marginals: the state marginals ``q_t(i)`` and the pairwise marginals
``q_t(i, j)`` of every transition. Then, for each sequence,

    log q(z)           = log q_0(z_0) + sum_t [log q_t(z_t, z_t+1) - log q_t(z_t)]
    L(q)               = E_q[log p(x, z)] + H(q)
    E_q[log p(x, z)]   = sum_i q_0(i) log pi_i + sum_t sum_ij q_t(i, j) log A_ij
                         + sum_t sum_i q_t(i) log b_t(i)
    KL(q || p(z | x))  = E_q[log q(z) - log p(z | x)]

and ``log p(x) = L(q) + KL(q || p(z | x))``. The KL term is computed here from the exact posterior
marginals directly, not as the difference, so the identity is a real check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emlib._validation import as_numeric_array
from emlib.elbo import Decomposition
from emlib.hmm import _inference
from emlib.hmm._inference import prepare, transition_rows

if TYPE_CHECKING:
    from emlib._typing import ArrayLike

__all__ = ["evidence_lower_bound"]

_ATOL = 1e-8  # how far marginals may be from consistent (round-off in user-built q)


def evidence_lower_bound(log_emission: ArrayLike, startprob: ArrayLike, transmat: ArrayLike,
                         state_posteriors: ArrayLike, pairwise_posteriors: ArrayLike,
                         lengths: ArrayLike | None = None) -> Decomposition:
    """Split the log-likelihood of an HMM into the evidence lower bound and a KL divergence.

    Parameters
    ----------
    log_emission : array-like of shape (T, K)
        ``log p(x_t | z_t = k)``.
    startprob : array-like of shape (K,)
    transmat : array-like of shape (K, K)
    state_posteriors : array-like of shape (T, K)
        ``q(z_t = k)``; each row sums to one.
    pairwise_posteriors : array-like of shape (T - n_sequences, K, K)
        ``q(z_t = i, z_t+1 = j)`` for every transition inside the sequences, in order (the layout
        of :func:`~emlib.hmm.pairwise_posteriors`). Each must sum over ``j`` to row ``t`` and over
        ``i`` to row ``t + 1`` of ``state_posteriors``.
    lengths : array-like of int, optional

    Returns
    -------
    emlib.elbo.Decomposition
        The named pair ``(bound, kl)``, as for the mixtures: ``bound`` is
        ``L(q) = E_q[log p(x, z)] + H(q)`` (``-inf`` if ``q`` puts mass on an impossible path);
        ``kl`` is ``KL(q || p(z | x)) >= 0``, zero exactly when ``q`` is the posterior.
        ``bound + kl`` (the ``loglik`` property) is the log-likelihood ``log p(x)``.

    Raises
    ------
    ValueError
        If the marginals are not probabilities or not consistent with each other, or if the data
        have probability zero under the model.
    """
    log_emission, startprob, transmat, lengths, starts = prepare(log_emission, startprob, transmat, lengths)
    T, K = log_emission.shape
    first, second = transition_rows(lengths)
    q = _check_marginals(state_posteriors, pairwise_posteriors, T, K, first, second)
    qq = np.asarray(pairwise_posteriors, dtype=np.float64)

    # Exact posterior marginals (raises for data of probability zero).
    exact_pairs = _inference.pairwise_posteriors(log_emission, startprob, transmat, lengths)
    exact_states, _, _ = _inference.forward_backward(log_emission, startprob, transmat, lengths, method="log")

    # Expected complete-data log-likelihood (0 log 0 = 0; mass on a zero-probability event: -inf).
    expected = (
        _expect(q[starts], startprob, log_of=True)
        + _expect(qq, transmat[None], log_of=True)
        + _expect(q, log_emission, log_of=False)
    )
    # Entropy of the Markov chain q: H(z_0) + sum_t H(z_t+1 | z_t).
    entropy = -_xlogx(qq) - _xlogx(q[starts]) + _xlogx(q[first])
    bound = expected + entropy

    kl = (
        _relative(qq, exact_pairs)
        + _relative(q[starts], exact_states[starts])
        - _relative(q[first], exact_states[first])
    )
    if not np.isfinite(bound):
        return Decomposition(float("-inf"), float("inf"))
    return Decomposition(float(bound), float(max(kl, 0.0)))


def _check_marginals(state_posteriors, pairs, T, K, first, second) -> np.ndarray:
    q = np.asarray(as_numeric_array(state_posteriors, "state_posteriors", what="probabilities"), dtype=np.float64)
    if q.shape != (T, K):
        raise ValueError(f"state_posteriors must have shape {(T, K)}, got {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError("state_posteriors must contain non-negative finite probabilities")
    if not np.allclose(q.sum(axis=1), 1.0, rtol=0, atol=_ATOL):
        raise ValueError("each row of state_posteriors must sum to one")
    qq = np.asarray(as_numeric_array(pairs, "pairwise_posteriors", what="probabilities"), dtype=np.float64)
    expected_shape = (first.shape[0], K, K)
    if qq.shape != expected_shape:
        raise ValueError(
            f"pairwise_posteriors must have shape {expected_shape} (one K x K matrix per transition "
            f"inside the sequences), got {qq.shape}"
        )
    if not np.all(np.isfinite(qq)) or np.any(qq < 0):
        raise ValueError("pairwise_posteriors must contain non-negative finite probabilities")
    if not np.allclose(qq.sum(axis=2), q[first], rtol=0, atol=_ATOL) or not np.allclose(
        qq.sum(axis=1), q[second], rtol=0, atol=_ATOL
    ):
        raise ValueError(
            "pairwise_posteriors must marginalise to state_posteriors: summing matrix t over its "
            "columns must give row t, over its rows row t + 1 (of the same sequence)"
        )
    return q


def _expect(q: np.ndarray, values: np.ndarray, log_of: bool) -> float:
    """``sum q * log(values)`` (or ``sum q * values`` for values already in log space), 0 where q = 0."""
    values = np.broadcast_to(values, q.shape)
    with np.errstate(divide="ignore"):
        logs = np.log(values) if log_of else values
    positive = q > 0
    if np.any(logs[positive] == -np.inf):
        return float("-inf")
    return float(np.sum(q[positive] * logs[positive]))


def _xlogx(p: np.ndarray) -> float:
    positive = p > 0
    return float(np.sum(p[positive] * np.log(p[positive])))


def _relative(q: np.ndarray, p: np.ndarray) -> float:
    """``sum q log(q / p)`` over q > 0: +inf if q > 0 where p = 0."""
    positive = q > 0
    if np.any(p[positive] == 0):
        return float("inf")
    return float(np.sum(q[positive] * (np.log(q[positive]) - np.log(p[positive]))))
