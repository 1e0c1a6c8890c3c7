"""Hidden Markov models: inference as pure functions, and estimators trained by EM.

Inference functions take the log-emission probabilities ``log_emission[t, k] = log p(x_t | z_t = k)``
(T, K), so they serve every emission model, with ``startprob`` (K,), ``transmat`` (K, K) and optional
``lengths`` for several sequences stacked in the rows:

- scaling (Rabiner's normalised recursion): :func:`forward`, :func:`backward`;
- log space (log-sum-exp): :func:`forward_log`, :func:`backward_log`;
- both, for the E-step: :func:`forward_backward` (``method="scaling"`` or ``"log"``);
- :func:`viterbi` for the most probable path, :func:`log_likelihood` for ``log p(x)`` alone;
- for teaching: :func:`forward_unscaled` (underflows), :func:`pairwise_posteriors` (per step),
  :func:`evidence_lower_bound` (log-likelihood = bound + KL).

Estimators: :class:`GaussianHMM`, :class:`CategoricalHMM`, :class:`PoissonHMM`, all run on
:func:`emlib.em.fit` through :class:`HMMEM` (E-step: forward–backward reduced to
:class:`HMMStatistics`; M-step: normalised expected counts and the emission's ``fit_statistics``);
``fit(X, lengths, states)`` does supervised, semi-supervised or unsupervised (Baum–Welch) training;
``partial_fit(X, lengths)`` updates a fit with whole sequences of a stream (stepwise EM), and ``fit``
takes a dask array whose chunks hold whole sequences (:func:`hmm_statistics` runs on each).

The readable NumPy recursions the compiled kernels are tested against are in
:mod:`emlib.hmm.reference`.

Example: the recursions on a two-state model::

    import numpy as np
    from emlib import hmm

    log_emission = np.log([[0.9, 0.2], [0.1, 0.8], [0.9, 0.2]])   # p(x_t | z_t), three steps
    startprob, transmat = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]])
    posteriors, pairwise, loglik = hmm.forward_backward(log_emission, startprob, transmat)
    path, logprob = hmm.viterbi(log_emission, startprob, transmat)
"""

from emlib.hmm._base import (
    HMMEM,
    BaseHMM,
    HMMSettings,
    HMMStatistics,
    SequenceData,
    hmm_statistics,
)
from emlib.hmm._elbo import evidence_lower_bound
from emlib.hmm._inference import (
    backward,
    backward_log,
    forward,
    forward_backward,
    forward_log,
    forward_unscaled,
    log_likelihood,
    pairwise_posteriors,
    viterbi,
)
from emlib.hmm.models import CategoricalHMM, GaussianHMM, PoissonHMM

__all__ = [
    "HMMEM",
    "BaseHMM",
    "CategoricalHMM",
    "GaussianHMM",
    "HMMSettings",
    "HMMStatistics",
    "PoissonHMM",
    "SequenceData",
    "backward",
    "backward_log",
    "evidence_lower_bound",
    "forward",
    "forward_backward",
    "forward_log",
    "forward_unscaled",
    "hmm_statistics",
    "log_likelihood",
    "pairwise_posteriors",
    "viterbi",
]
