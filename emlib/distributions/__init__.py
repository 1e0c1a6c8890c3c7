"""Component and emission distributions: each scores data and fits itself to weighted data.

Every class here holds ``K`` components of one family and offers the two operations EM needs:

``log_prob(X) -> (n_samples, K)``
    Log-density (or log-mass) of every sample under every component. The E-step turns these into
    posteriors over the hidden variables.
``fit(X, weights, fixed=())``
    Weighted maximum likelihood: component ``k`` is refitted with sample ``n`` counted ``weights[n, k]``
    times. This *is* the M-step for the component parameters; mixtures and HMMs differ only in where
    the weights come from (responsibilities or forward–backward posteriors).

They also offer ``check_data(X)`` (validation for the family's data), ``sample(components, rng)`` and
``n_parameters``.
"""

from emlib.distributions.bernoulli import Bernoulli
from emlib.distributions.categorical import Categorical
from emlib.distributions.gaussian import COVARIANCE_TYPES, Gaussian, covariance_shape
from emlib.distributions.poisson import Poisson

__all__ = ["COVARIANCE_TYPES", "Bernoulli", "Categorical", "Gaussian", "Poisson", "covariance_shape"]
