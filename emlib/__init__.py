"""emlib: the EM algorithm for Gaussian mixtures, hidden Markov models and models of your own.

The estimators follow scikit-learn's conventions (``fit``, ``predict``, ``predict_proba``, ``score``,
``sample``; fitted attributes end in ``_``). :mod:`emlib.em` is the loop they all run on, and the one
to reuse for a model of your own.

Submodules are imported on first use, so ``import emlib`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "GaussianMixture": "emlib.mixture",
    "BernoulliMixture": "emlib.mixture",
    "PoissonMixture": "emlib.mixture",
    "GaussianHMM": "emlib.hmm",
    "CategoricalHMM": "emlib.hmm",
    "PoissonHMM": "emlib.hmm",
    "FactorAnalysis": "emlib.factor_analysis",
    "ConvergenceWarning": "emlib.exceptions",
    "DegenerateComponentWarning": "emlib.exceptions",
    "LikelihoodDecreaseWarning": "emlib.exceptions",
    "NotFittedError": "emlib.exceptions",
}
_SUBMODULES = {
    "em", "mixture", "distributions", "datasets", "plotting", "elbo", "exceptions", "hmm", "reporting",
    "factor_analysis", "initialization", "protocols", "chunked",
}

__all__ = [  # noqa: RUF022 (grouped: estimators and warnings, then submodules)
    "GaussianMixture",
    "BernoulliMixture",
    "PoissonMixture",
    "GaussianHMM",
    "CategoricalHMM",
    "PoissonHMM",
    "FactorAnalysis",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "LikelihoodDecreaseWarning",
    "NotFittedError",
    "chunked",
    "datasets",
    "distributions",
    "elbo",
    "reporting",
    "em",
    "exceptions",
    "factor_analysis",
    "hmm",
    "initialization",
    "mixture",
    "plotting",
    "protocols",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"emlib.{name}")
    else:
        raise AttributeError(f"module 'emlib' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
