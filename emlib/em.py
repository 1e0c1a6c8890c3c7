"""The EM loop that every model in emlib runs on, and that you can reuse for your own model.

A *model* is any object with three methods:

``initialize(data, rng)``
    Set starting values for the parameters. ``rng`` is a :class:`numpy.random.Generator`; draw every random
    choice from it, so that ``random_state`` makes a run reproducible and each restart starts elsewhere.
``e_step(data) -> (expected_statistics, loglik)``
    The E-step: compute the posterior over the hidden variables under the current parameters and return
    whatever the M-step needs from it (expected sufficient statistics, responsibilities, expected
    counts, ...), together with the log-likelihood of the data under the *current* parameters. That
    number is what EM climbs. A model whose M-step maximises a penalised objective (MAP-EM with a
    prior, a regularised covariance) returns that objective instead: the log-likelihood plus the
    log-prior or penalty, which EM climbs just as surely.
``m_step(data, expected_statistics)``
    The M-step: set the parameters to the maximiser of the expected complete-data log-likelihood
    (plus any log-prior), which the expected statistics determine.

:class:`emlib.protocols.EMModel` states this contract. :func:`fit` alternates the two steps, records the
objective after every step, stops when it no longer changes, and warns
(:class:`~emlib.exceptions.LikelihoodDecreaseWarning`) if it ever goes down: EM cannot decrease it, so a
decrease is a bug.

Example: a mixture of two biased coins (Do & Batzoglou, 2008)::

    import numpy as np
    from emlib import em

    class TwoCoins:
        def __init__(self, theta_a, theta_b):
            self.theta = np.array([theta_a, theta_b])

        def initialize(self, heads_tails, rng):
            pass  # start from the values given to __init__

        def e_step(self, heads_tails):
            heads, tails = heads_tails[:, :1], heads_tails[:, 1:]
            joint = 0.5 * self.theta**heads * (1 - self.theta)**tails   # (n_sets, 2)
            evidence = joint.sum(axis=1, keepdims=True)
            return joint / evidence, np.log(evidence).sum()

        def m_step(self, heads_tails, responsibilities):
            expected = responsibilities.T @ heads_tails                  # (2, [heads, tails])
            self.theta = expected[:, 0] / expected.sum(axis=1)

    data = np.array([[5, 5], [9, 1], [8, 2], [4, 6], [7, 3]])
    result = em.fit(TwoCoins(0.6, 0.5), data, max_iter=10)
    result.model.theta          # array([0.797..., 0.519...])
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emlib._validation import check_random_state
from emlib.exceptions import LikelihoodDecreaseWarning

__all__ = ["EMResult", "fit"]

# A fall of the log-likelihood smaller than this (relative to its size) is round-off, not a bug.
_DECREASE_SLACK = 1e-9


@dataclass
class EMResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : object
        The fitted model (the same object that was passed in, holding the best restart's parameters).
    loglik_history : numpy.ndarray of shape (n_iter + 1,)
        Log-likelihood at the starting values (entry 0) and after each iteration (entry ``i``).
    converged : bool
        Whether the change in log-likelihood fell below the tolerance before ``max_iter`` iterations.
    n_iter : int
        Number of iterations (M-steps) run by the best restart.
    expected_statistics : object
        The E-step's output for the final parameters (for mixtures, the responsibilities).
    restart_logliks : numpy.ndarray of shape (n_init,)
        Final log-likelihood of every restart, in the order they were run.
    best_restart : int
        Index of the restart whose parameters were kept.
    """

    model: Any
    loglik_history: np.ndarray
    converged: bool
    n_iter: int
    expected_statistics: Any = None
    restart_logliks: np.ndarray = field(default_factory=lambda: np.empty(0))
    best_restart: int = 0

    @property
    def loglik(self) -> float:
        """Final log-likelihood of the kept restart."""
        return float(self.loglik_history[-1])


def fit(
    model,
    data,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
    tol_scale: float | None = None,
    n_init: int = 1,
    random_state=None,
    callback: Callable[[Any, int, float], Any] | None = None,
    verbose: bool = False,
) -> EMResult:
    """Fit ``model`` to ``data`` by expectation–maximization.

    Parameters
    ----------
    model : object
        Anything with ``initialize(data, rng)``, ``e_step(data) -> (expected_statistics, loglik)`` and
        ``m_step(data, expected_statistics)`` (see the module docstring and
        :class:`emlib.protocols.EMModel`).
    data : object
        Passed unchanged to the model's methods.
    max_iter : int, default 100
        Largest number of iterations (one E-step and one M-step each) per restart. ``0`` only
        initializes and evaluates the starting values.
    tol : float, default 1e-6
        Convergence threshold on the change of the objective in one iteration. ``0`` runs exactly
        ``max_iter`` iterations.
    tol_scale : float, optional
        What ``tol`` is relative to. By default, to the objective's size: a restart stops when
        ``abs(change) <= tol * max(1, abs(loglik))``. Given a number (the number of samples, say),
        it stops when ``abs(change) <= tol * tol_scale``: a change per sample, which, unlike the
        size of a log-density, does not depend on the units of continuous data.
    n_init : int, default 1
        Number of restarts from different starting values; the restart with the highest final
        objective is kept. With ``n_init > 1`` each restart runs on a copy (``copy.deepcopy``) of
        ``model``, and only the kept restart's warnings are shown.
    random_state : None, int or numpy.random.Generator
        Seed for the generator handed to ``model.initialize``.
    callback : callable, optional
        Called as ``callback(model, iteration, loglik)`` at the starting values (iteration 0) and after
        every iteration, e.g. to record snapshots of the parameters.
    verbose : bool, default False
        Print one line per iteration: iteration, log-likelihood, change.

    Returns
    -------
    EMResult

    Warns
    -----
    emlib.exceptions.LikelihoodDecreaseWarning
        If the objective decreases by more than round-off. EM never decreases it, so for a model
        of your own this nearly always means the M-step does not maximise the expected complete-data
        log-likelihood, or the E-step returns a log-likelihood for other parameters than the current ones.

    Raises
    ------
    TypeError
        If ``model`` does not follow the protocol: a class instead of an instance, a missing or
        non-callable method, an ``e_step`` that does not return a pair, or (with ``n_init > 1``) a
        model that cannot be copied.
    FloatingPointError
        If the log-likelihood becomes NaN or +inf.
    ValueError
        If the starting values give the data zero probability (log-likelihood of -inf).
    """
    max_iter = _check_count(max_iter, "max_iter", minimum=0)
    n_init = _check_count(n_init, "n_init", minimum=1)
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)) or not tol >= 0:
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    if tol_scale is not None and (
        isinstance(tol_scale, bool) or not isinstance(tol_scale, (int, float, np.floating, np.integer))
        or not (0 < tol_scale < math.inf)
    ):
        raise ValueError(f"tol_scale must be None or a positive number, got {tol_scale!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(model, iteration, loglik), got {callback!r}")
    _check_model(model)
    rng = check_random_state(random_state)
    settings = _Settings(max_iter, float(tol), None if tol_scale is None else float(tol_scale), callback,
                         bool(verbose))

    if n_init == 1:
        best = _run_one(model, data, rng, settings)
        best.restart_logliks = np.array([best.loglik])
        return best

    best, best_warnings = None, []
    restart_logliks = []
    for restart in range(n_init):
        if verbose:
            print(f"restart {restart + 1} of {n_init}")
        # A discarded restart's warnings (a component that collapsed there, say) would only
        # mislead; keep each restart's warnings and pass on those of the one that is kept.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = _run_one(_copy_model(model), data, rng, settings)
        restart_logliks.append(run.loglik)
        if best is None or run.loglik > best.loglik:
            best, best_warnings = run, caught
            best.best_restart = restart
    for record in best_warnings:
        warnings.warn_explicit(record.message, record.category, record.filename, record.lineno,
                               source=record.source)

    model.__dict__.update(best.model.__dict__)
    best.model = model
    best.restart_logliks = np.array(restart_logliks)
    return best


@dataclass(frozen=True)
class _Settings:
    max_iter: int
    tol: float
    tol_scale: float | None
    callback: Callable | None
    verbose: bool


_PROTOCOL = (
    "initialize(data, rng) to set starting values, e_step(data) returning (expected_statistics, "
    "loglik), and m_step(data, expected_statistics)"
)


def _check_model(model) -> None:
    if isinstance(model, type):
        raise TypeError(
            f"model must be an instance, got the class {model.__name__}; create one first, e.g. "
            f"em.fit({model.__name__}(...), data)"
        )
    for name in ("initialize", "e_step", "m_step"):
        method = getattr(model, name, None)
        if method is None:
            raise TypeError(f"model ({type(model).__name__}) has no method {name}; an EM model needs {_PROTOCOL}")
        if not callable(method):
            raise TypeError(
                f"model.{name} must be a method, got a {type(method).__name__}; an EM model needs {_PROTOCOL}"
            )


def _copy_model(model):
    try:
        return copy.deepcopy(model)
    except Exception as error:  # whatever the model's attributes raise when copied
        raise TypeError(
            f"with n_init > 1 each restart runs on a copy of the model, but copy.deepcopy failed on "
            f"{type(model).__name__}: {error}. Give the model a __deepcopy__ method, or use n_init=1."
        ) from error


def _e_step(model, data, iteration: int):
    result = model.e_step(data)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        raise TypeError(
            f"e_step must return a pair (expected_statistics, loglik); at iteration {iteration} it "
            f"returned {got}"
        )
    stats, loglik = result
    return stats, _check_loglik(loglik, iteration)


def _run_one(model, data, rng, settings: _Settings) -> EMResult:
    model.initialize(data, rng)
    stats, loglik = _e_step(model, data, 0)
    history = [loglik]
    if settings.verbose:
        print(f"iteration {0:4d}  log-likelihood {loglik: .8g}")
    if settings.callback is not None:
        settings.callback(model, 0, loglik)

    converged = False
    iteration = 0
    for iteration in range(1, settings.max_iter + 1):
        model.m_step(data, stats)
        stats, loglik = _e_step(model, data, iteration)
        previous = history[-1]
        history.append(loglik)
        change = loglik - previous
        if settings.verbose:
            print(f"iteration {iteration:4d}  log-likelihood {loglik: .8g}  change {change: .3e}")
        if change < -_DECREASE_SLACK * max(1.0, abs(previous)):
            warnings.warn(
                LikelihoodDecreaseWarning(
                    f"log-likelihood decreased at iteration {iteration}, from {previous:.10g} to "
                    f"{loglik:.10g}. EM cannot decrease it: for a model of your own this nearly always "
                    "means a bug in the M-step (it does not maximise the expected complete-data "
                    "log-likelihood), or an E-step that returns the log-likelihood of other parameters "
                    "than the current ones.",
                    iteration, previous, loglik,
                ),
                stacklevel=3,
            )
        if settings.callback is not None:
            settings.callback(model, iteration, loglik)
        scale = settings.tol_scale if settings.tol_scale is not None else max(1.0, abs(loglik))
        if settings.tol > 0 and abs(change) <= settings.tol * scale:
            converged = True
            break

    return EMResult(
        model=model,
        loglik_history=np.array(history),
        converged=converged,
        n_iter=iteration,
        expected_statistics=stats,
    )


def _check_loglik(loglik, iteration: int) -> float:
    try:
        value = float(loglik)
    except (TypeError, ValueError):
        raise TypeError(
            f"e_step must return (expected_statistics, loglik) with loglik a number; at iteration "
            f"{iteration} loglik was {type(loglik).__name__}"
        ) from None
    if math.isnan(value) or value == math.inf:
        raise FloatingPointError(
            f"log-likelihood is {value} at iteration {iteration}; check the model's e_step and m_step "
            "for divisions by zero or logarithms of zero"
        )
    if value == -math.inf:
        raise ValueError(
            f"log-likelihood is -inf at iteration {iteration}: the "
            + ("starting values give" if iteration == 0 else "parameters give")
            + " some observation zero probability"
        )
    return value


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
