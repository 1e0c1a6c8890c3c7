"""The contracts emlib is built on, as :class:`typing.Protocol` classes.

Nothing needs to inherit from these: any object with the right methods fits (structural typing).
They say in code what the loop (:func:`emlib.em.fit`), the estimators and the component families
expect of each other, and a type checker can hold your own model to them.

- :class:`EMModel`: what :func:`emlib.em.fit` drives (your homework model, or an estimator's).
- :class:`ParameterVector`: what ``em.fit(..., accelerate="squarem")`` needs besides: the parameters
  as one vector of unconstrained coordinates.
- :class:`SufficientStatistics`: what an E-step hands to an M-step; sums over the data, so they
  add up across chunks and scale for running averages.
- :class:`Distribution`: a family of ``K`` components (:mod:`emlib.distributions`): scores data,
  reduces weighted data to statistics, and sets its parameters from them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

__all__ = ["Distribution", "EMModel", "ParameterVector", "SufficientStatistics"]

Data_contra = TypeVar("Data_contra", contravariant=True)
Statistics = TypeVar("Statistics")


@runtime_checkable
class EMModel(Protocol[Data_contra, Statistics]):
    """A model that :func:`emlib.em.fit` can run.

    The object holds the current parameters; the three methods change or read them.
    """

    def initialize(self, data: Data_contra, rng: np.random.Generator) -> None:
        """Set starting values; draw every random choice from ``rng``."""
        ...

    def e_step(self, data: Data_contra) -> tuple[Statistics, float]:
        """The expected sufficient statistics under the posterior at the current parameters, and
        the objective there (the log-likelihood, plus the log-prior or penalty the M-step maximises)."""
        ...

    def m_step(self, data: Data_contra, statistics: Statistics) -> None:
        """Set the parameters to the maximiser given the statistics."""
        ...


@runtime_checkable
class ParameterVector(Protocol):
    """A model whose parameters can be read and set as one vector: what acceleration extrapolates.

    The coordinates are *unconstrained*: every finite vector of the right length describes valid
    parameters (logarithms of variances, square roots of probabilities and rates, logits,
    Cholesky factors with log-diagonals for covariance matrices), so that the accelerated loop can
    move along straight lines. emlib's mixture, HMM and factor-analysis models have these methods, and
    its distributions too (with an optional ``fixed``, the parameter names to leave out).
    """

    def get_vector(self) -> np.ndarray:
        """The parameters as a 1-D array of finite numbers, always of the same length."""
        ...

    def set_vector(self, vector: np.ndarray) -> None:
        """Set the parameters from such an array; ``ValueError`` if it describes no valid ones."""
        ...


@runtime_checkable
class SufficientStatistics(Protocol):
    """Weighted sums over the data: ``a + b`` for disjoint parts, ``factor * a`` to rescale."""

    totals: np.ndarray  # (K,): the total weight each component received

    def __add__(self, other: Any) -> Any: ...

    def __mul__(self, factor: float) -> Any: ...


@runtime_checkable
class Distribution(Protocol):
    """``K`` components of one family, scoring data and fitted to weighted statistics."""

    parameter_names: tuple[str, ...]

    @property
    def n_components(self) -> int: ...

    @property
    def n_parameters(self) -> int: ...

    def log_prob(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Log-density of each row under each component, (N, K); written into ``out`` if given (a
        C-contiguous float64 (N, K) array, returned), so that an E-step reuses one array."""
        ...

    def log_penalty(self) -> np.ndarray:
        """Per-component term (K,) added to ``log_prob`` in the objective the M-step maximises."""
        ...

    def statistics(self, X: np.ndarray, weights: np.ndarray) -> SufficientStatistics:
        """Weighted sufficient statistics of ``X`` (N, ...) with ``weights`` (N, K)."""
        ...

    def fit_statistics(self, statistics: Any, fixed: Collection[str] = ()) -> Distribution:
        """The M-step: parameters (except the ``fixed`` ones) set from ``statistics``, in place."""
        ...

    def fit(self, X: np.ndarray, weights: np.ndarray, fixed: Collection[str] = ()) -> Distribution:
        """``fit_statistics(statistics(X, weights), fixed)``."""
        ...

    def sample(self, components: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One draw from component ``components[i]`` for each ``i``."""
        ...
