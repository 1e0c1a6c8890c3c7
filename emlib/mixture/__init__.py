"""Finite mixture models fitted by EM.

E-step: responsibilities ``r[n, k] = p(z_n = k | x_n)`` from the components' ``log_prob`` and the
mixing weights (:func:`responsibilities`), reduced to the components' weighted sufficient
statistics. M-step: ``weights = totals / N`` and each component family's ``fit_statistics``
(weighted maximum likelihood).

- :class:`GaussianMixture` (also with missing entries, ``missing="em"``; see
  :mod:`emlib.mixture.missing`);
- :class:`BernoulliMixture` for binary vectors, :class:`PoissonMixture` for counts;
- :class:`BaseMixture` and :class:`MixtureEM`, what they share, to build a mixture of another family.
"""

from emlib.mixture._base import (
    BaseMixture,
    MixtureData,
    MixtureEM,
    posterior_from_log_prob,
    responsibilities,
)
from emlib.mixture._discrete import BernoulliMixture, PoissonMixture
from emlib.mixture._gaussian import GaussianMixture

__all__ = [
    "BaseMixture",
    "BernoulliMixture",
    "GaussianMixture",
    "MixtureData",
    "MixtureEM",
    "PoissonMixture",
    "posterior_from_log_prob",
    "responsibilities",
]
