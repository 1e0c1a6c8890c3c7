"""Finite mixture models fitted by EM.

E-step: responsibilities ``r[n, k] = p(z_n = k | x_n)`` from the components' ``log_prob`` and the
mixing weights (:func:`responsibilities`), reduced to the components' weighted sufficient
statistics. M-step: ``weights = totals / N`` and each component family's ``fit_statistics``
(weighted maximum likelihood).

- :class:`GaussianMixture` (also with missing entries, ``missing="em"``; see
  :mod:`emlib.mixture.missing`);
- :class:`BernoulliMixture` for binary vectors, :class:`PoissonMixture` for counts;
- :class:`BaseMixture` and :class:`MixtureEM`, what they share, to build a mixture of another family;
  :func:`mixture_statistics`, the E-step as a pure function (what each chunk of a dask array runs).

Every mixture fits a stream batch by batch (``partial_fit``, stepwise EM) and a ``dask.array``
chunk by chunk (``fit``).
"""

from emlib.mixture._base import (
    BaseMixture,
    EStepWorkspace,
    MixtureData,
    MixtureEM,
    mixture_statistics,
    posterior_from_log_prob,
    responsibilities,
)
from emlib.mixture._discrete import BernoulliMixture, PoissonMixture
from emlib.mixture._gaussian import GaussianMixture

__all__ = [
    "BaseMixture",
    "BernoulliMixture",
    "EStepWorkspace",
    "GaussianMixture",
    "MixtureData",
    "MixtureEM",
    "PoissonMixture",
    "mixture_statistics",
    "posterior_from_log_prob",
    "responsibilities",
]
