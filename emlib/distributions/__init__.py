"""Component and emission distributions: each scores data and fits itself to weighted statistics.

Every class here holds ``K`` components of one family and offers what EM needs:

``log_prob(X) -> (n_samples, K)``
    Log-density (or log-mass) of every sample under every component. The E-step turns these into
    posteriors over the hidden variables.
``statistics(X, weights) -> statistics``
    The weighted sufficient statistics, component ``k`` counting sample ``n`` ``weights[n, k]``
    times: :class:`WeightedSums` or :class:`WeightedMoments`. They are sums over the rows, so
    statistics of parts of the data add up (``a + b``) to those of the whole.
``fit_statistics(statistics, fixed=())``
    The M-step: set the parameters to the maximiser given the statistics. Mixtures and HMMs differ
    only in where the weights come from (responsibilities or forward–backward posteriors).
``fit(X, weights, fixed=())``
    Both at once: weighted maximum likelihood.

They also offer ``log_penalty()`` (the per-observation term of the objective a regularised M-step
maximises; zeros for most families), ``check_data(X)`` (validation for the family's data),
``sample(components, rng)`` and ``n_parameters``. :class:`emlib.protocols.Distribution` states the
contract.
"""

from emlib.distributions._statistics import WeightedMoments, WeightedSums
from emlib.distributions.bernoulli import Bernoulli
from emlib.distributions.categorical import Categorical
from emlib.distributions.gaussian import COVARIANCE_TYPES, Gaussian, covariance_shape
from emlib.distributions.poisson import Poisson

__all__ = [
    "COVARIANCE_TYPES",
    "Bernoulli",
    "Categorical",
    "Gaussian",
    "Poisson",
    "WeightedMoments",
    "WeightedSums",
    "covariance_shape",
]
