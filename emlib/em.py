"""The EM loop that every model in emlib runs on, and that you can reuse for your own model.

A *model* is any object with three methods:

``initialize(data, rng)``
    Set starting values for the parameters. ``rng`` is a :class:`numpy.random.Generator`; draw every random
    choice from it, so that ``random_state`` makes a run reproducible and each restart starts elsewhere.
``e_step(data) -> (expected_statistics, loglik)``
    The E-step: compute the posterior over the hidden variables under the current parameters and return
    whatever the M-step needs from it (responsibilities, expected counts, ...), together with the
    log-likelihood of the data under the *current* parameters. That number is what EM climbs.
``m_step(data, expected_statistics)``
    The M-step: set the parameters to the weighted maximum-likelihood estimate, the hidden variables'
    posterior supplying the weights.

:func:`fit` alternates the two steps, records the log-likelihood after every step, stops when it no longer
changes, and warns if it ever goes down (EM cannot decrease it, so a decrease is a bug).

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
        ``m_step(data, expected_statistics)`` (see the module docstring).
    data : object
        Passed unchanged to the model's methods.
    max_iter : int, default 100
        Largest number of iterations (one E-step and one M-step each) per restart. ``0`` only
        initializes and evaluates the starting values.
    tol : float, default 1e-6
        Convergence threshold on the change of the log-likelihood, relative to its size: a restart stops
        when ``abs(change) <= tol * max(1, abs(loglik))``. ``0`` runs exactly ``max_iter`` iterations.
    n_init : int, default 1
        Number of restarts from different starting values; the restart with the highest final
        log-likelihood is kept. With ``n_init > 1`` each restart runs on a copy of ``model``, and
        only the kept restart's warnings are shown.
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
    RuntimeWarning
        If the log-likelihood decreases by more than round-off. EM never decreases it, so for a model
        of your own this nearly always means the M-step does not maximise the expected complete-data
        log-likelihood, or the E-step returns a log-likelihood for other parameters than the current ones.

    Raises
    ------
    FloatingPointError
        If the log-likelihood becomes NaN or +inf.
    ValueError
        If the starting values give the data zero probability (log-likelihood of -inf).
    """
    max_iter = _check_count(max_iter, "max_iter", minimum=0)
    n_init = _check_count(n_init, "n_init", minimum=1)
    if not isinstance(tol, (int, float, np.floating, np.integer)) or not tol >= 0:
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    rng = check_random_state(random_state)

    if n_init == 1:
        best = _run_one(model, data, rng, max_iter, tol, callback, verbose)
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
            run = _run_one(copy.deepcopy(model), data, rng, max_iter, tol, callback, verbose)
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


def _run_one(model, data, rng, max_iter, tol, callback, verbose) -> EMResult:
    model.initialize(data, rng)
    stats, loglik = model.e_step(data)
    loglik = _check_loglik(loglik, iteration=0)
    history = [loglik]
    if verbose:
        print(f"iteration {0:4d}  log-likelihood {loglik: .8g}")
    if callback is not None:
        callback(model, 0, loglik)

    converged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):
        model.m_step(data, stats)
        stats, loglik = model.e_step(data)
        loglik = _check_loglik(loglik, iteration)
        previous = history[-1]
        history.append(loglik)
        change = loglik - previous
        if verbose:
            print(f"iteration {iteration:4d}  log-likelihood {loglik: .8g}  change {change: .3e}")
        if change < -_DECREASE_SLACK * max(1.0, abs(previous)):
            warnings.warn(
                f"log-likelihood decreased at iteration {iteration}, from {previous:.10g} to "
                f"{loglik:.10g}. EM cannot decrease it: for a model of your own this nearly always "
                "means a bug in the M-step (it does not maximise the expected complete-data "
                "log-likelihood), or an E-step that returns the log-likelihood of other parameters "
                "than the current ones.",
                RuntimeWarning,
                stacklevel=3,
            )
        if callback is not None:
            callback(model, iteration, loglik)
        if tol > 0 and abs(change) <= tol * max(1.0, abs(loglik)):
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
