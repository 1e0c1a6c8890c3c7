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

        def initialize(self, heads_tails, rng: np.random.Generator):
            pass  # start from the values given to __init__

        def e_step(self, heads_tails):
            heads, tails = heads_tails[:, :1], heads_tails[:, 1:]
            joint = 0.5 * self.theta**heads * (1 - self.theta)**tails   # (n_sets, 2)
            evidence = joint.sum(axis=1, keepdims=True)
            return joint / evidence, np.log(evidence).sum()

        def m_step(self, heads_tails, responsibilities: ArrayLike | None):
            expected = responsibilities.T @ heads_tails                  # (2, [heads, tails])
            self.theta = expected[:, 0] / expected.sum(axis=1)

    data = np.array([[5, 5], [9, 1], [8, 2], [4, 6], [7, 3]])
    result = em.fit(TwoCoins(0.6, 0.5), data, max_iter=10)
    result.model.theta          # array([0.797..., 0.519...])

EM converges slowly when much information is missing (overlapping clusters, say): each iteration
closes only a fixed fraction of the remaining gap. ``fit(..., accelerate="squarem")`` runs SQUAREM
(Varadhan & Roland, 2008, *Scandinavian Journal of Statistics* 35, 335-353, with their step length
SqS3): each iteration takes two EM steps and extrapolates along them, often many EM steps' worth at
once. It needs two more methods (:class:`emlib.protocols.ParameterVector`), since it moves the
parameters along straight lines:

``get_vector() -> ndarray``
    The parameters as one 1-D array, always of the same length, in *unconstrained* coordinates:
    coordinates in which every vector of finite numbers describes valid parameters. Logarithms for
    scales (variances), logits for a probability, for a covariance matrix its Cholesky factor with
    the diagonal by its logarithm, unconstrained parameters (means) as they are. emlib writes
    parameters whose maximum may be at or near zero (probabilities that sum to one, Poisson rates,
    the noise variances of factor analysis) by their square roots (squared, and divided by their
    sum, to map back), so that one that tends to zero converges to a finite coordinate instead of
    running off to -inf as its logarithm would (``emlib._unconstrained``).
``set_vector(vector)``
    Set the parameters from such an array. Raise ``ValueError`` for one that describes no valid
    parameters (values that overflow, say); the loop then falls back to the plain EM step, as it
    does when the extrapolated point gives a NaN or infinite objective or a lower one than EM
    reached. So the objective recorded after each iteration still never decreases.

Every model in emlib has them. For the two coins above, the logits will do::

    def get_vector(self):
        return np.log(self.theta) - np.log1p(-self.theta)

    def set_vector(self, logits):
        self.theta = 1 / (1 + np.exp(-logits))
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from emlib._validation import check_flag, check_random_state
from emlib.exceptions import LikelihoodDecreaseWarning

if TYPE_CHECKING:
    from emlib._typing import RandomState
    from emlib.protocols import EMModel

__all__ = ["ACCELERATIONS", "EMResult", "check_accelerate", "fit"]

# A fall of the log-likelihood smaller than this (relative to its size) is round-off, not a bug.
_DECREASE_SLACK = 1e-9
# Restarts whose final objectives differ by less than this times max(1, |objective|) are tied: two
# runs that reach one maximum by mirror-image paths (its components in another order) differ in
# the last bits, which another CPU's arithmetic (a BLAS or SIMD path) can turn the other way.
_ROUND_OFF = 1e-13
# SQUAREM: after this many refused extrapolations in a row, the longest step allowed becomes a
# quarter of the step just refused (see _run_squarem).
_REFUSALS_IN_A_ROW = 3


@dataclass
class EMResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : object
        The fitted model (the same object that was passed in, holding the best restart's parameters).
    loglik_history : numpy.ndarray of shape (n_iter + 1,)
        Log-likelihood at the starting values (entry 0) and after each iteration (entry ``i``;
        with acceleration, after each accepted step).
    converged : bool
        Whether the change in log-likelihood fell below the tolerance before ``max_iter`` iterations.
    n_iter : int
        Number of iterations run by the best restart: M-steps for plain EM; with
        ``accelerate="squarem"``, accelerated steps (see ``n_e_steps`` for their cost).
    expected_statistics : object
        The E-step's output for the final parameters (for mixtures, the responsibilities).
    restart_logliks : numpy.ndarray of shape (n_init,)
        Final log-likelihood of every restart, in the order they were run.
    best_restart : int
        Index of the restart whose parameters were kept.
    n_e_steps : int
        Number of E-steps run by the best restart, the starting values' included: ``n_iter + 1``
        for plain EM; with ``accelerate="squarem"``, what its iterations cost (two or three each).
    """

    model: Any
    loglik_history: np.ndarray
    converged: bool
    n_iter: int
    expected_statistics: Any = None
    restart_logliks: np.ndarray = field(default_factory=lambda: np.empty(0))
    best_restart: int = 0
    n_e_steps: int = 0

    @property
    def loglik(self) -> float:
        """Final log-likelihood of the kept restart."""
        return float(self.loglik_history[-1])


def fit(model: EMModel, data: Any, *, max_iter: int = 100, tol: float = 1e-6, tol_scale: float | None = None,
        n_init: int = 1, random_state: RandomState = None,
        callback: Callable[[Any, int, float], Any] | None = None, verbose: bool = False,
        accelerate: str | None = None) -> EMResult:
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
        objective is kept, the first of those whose objectives differ only by round-off (by at
        most ``1e-13 * max(1, |objective|)``), so that which one is kept does not depend on the
        machine. With ``n_init > 1`` each restart runs on a copy (``copy.deepcopy``) of
        ``model``, and only the kept restart's warnings are shown.
    random_state : None, int or numpy.random.Generator
        Seed for the generator handed to ``model.initialize``.
    callback : callable, optional
        Called as ``callback(model, iteration, loglik)`` at the starting values (iteration 0) and after
        every iteration, e.g. to record snapshots of the parameters.
    verbose : bool, default False
        Print one line per iteration: iteration, log-likelihood, change. An integer is a level, as
        the estimators take (any but 0 prints).
    accelerate : {None, "squarem"}, default None
        ``None``: plain EM. ``"squarem"``: EM accelerated by SQUAREM (Varadhan & Roland, 2008,
        step length SqS3) for a model that also has ``get_vector()`` and ``set_vector(vector)``
        (:class:`emlib.protocols.ParameterVector`); see the module docstring. Each iteration then
        runs two EM steps and extrapolates along them, keeping the extrapolated point only if it is
        valid and no lower than the first EM step reached, so the objective still never decreases.
        ``tol`` applies to the first EM step of each iteration, so a run stops by the same rule as
        plain EM, usually after far fewer E-steps (``EMResult.n_e_steps``).

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
        non-callable method, an ``e_step`` that does not return a pair, (with ``n_init > 1``) a
        model that cannot be copied, or (with ``accelerate``) no ``get_vector``/``set_vector``, or
        a ``get_vector`` that does not return one 1-D array of a fixed length; or if ``verbose`` is
        neither a boolean nor an integer.
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
    accelerate = check_accelerate(accelerate)
    _check_model(model, accelerate)
    verbose = check_flag(verbose, "verbose", levels=True)
    rng = check_random_state(random_state)
    settings = _Settings(max_iter, float(tol), None if tol_scale is None else float(tol_scale), callback,
                         verbose, accelerate)

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
        if best is None or run.loglik > best.loglik + _ROUND_OFF * max(1.0, abs(best.loglik)):
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
    accelerate: str | None = None


_PROTOCOL = (
    "initialize(data, rng) to set starting values, e_step(data) returning (expected_statistics, "
    "loglik), and m_step(data, expected_statistics)"
)


#: The values of ``accelerate``: None (plain EM) and "squarem" (SQUAREM, scheme SqS3).
ACCELERATIONS = (None, "squarem")

_VECTOR_PROTOCOL = (
    "accelerated EM needs get_vector() returning the parameters as one 1-D array of unconstrained "
    "coordinates, always of the same length, and set_vector(vector) setting them from such an array"
)


def check_accelerate(accelerate: str | None) -> str | None:
    """``accelerate`` if it is one of :data:`ACCELERATIONS`, else a ``ValueError`` naming it."""
    if accelerate is None or (isinstance(accelerate, str) and accelerate in ACCELERATIONS):
        return accelerate
    raise ValueError(f"accelerate must be None (plain EM) or 'squarem', got {accelerate!r}")


def _check_model(model, accelerate: str | None = None) -> None:
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
    if accelerate is not None:
        for name in ("get_vector", "set_vector"):
            if not callable(getattr(model, name, None)):
                raise TypeError(
                    f"accelerate={accelerate!r}, but model ({type(model).__name__}) has no method {name}; "
                    f"{_VECTOR_PROTOCOL} (emlib.protocols.ParameterVector)"
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
        _e_step_shape_error(result, f"iteration {iteration}")
    stats, loglik = result
    return stats, _check_loglik(loglik, iteration)


def _e_step_shape_error(result, where: str):
    got = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
    raise TypeError(f"e_step must return a pair (expected_statistics, loglik); at {where} it returned {got}")


def _run_one(model, data, rng, settings: _Settings) -> EMResult:
    if settings.accelerate == "squarem":
        return _run_squarem(model, data, rng, settings)
    model.initialize(data, rng)
    stats, loglik = _e_step(model, data, 0)
    history = [loglik]
    _report(model, 0, loglik, None, settings)

    converged = False
    iteration = 0
    for iteration in range(1, settings.max_iter + 1):
        model.m_step(data, stats)
        stats, loglik = _e_step(model, data, iteration)
        previous = history[-1]
        history.append(loglik)
        _warn_if_decreased(previous, loglik, iteration)
        _report(model, iteration, loglik, loglik - previous, settings)
        if _converged(loglik - previous, loglik, settings):
            converged = True
            break

    return EMResult(
        model=model,
        loglik_history=np.array(history),
        converged=converged,
        n_iter=iteration,
        expected_statistics=stats,
        n_e_steps=iteration + 1,
    )


def _run_squarem(model, data, rng, settings: _Settings) -> EMResult:
    """EM accelerated by SQUAREM (Varadhan & Roland, 2008, scheme SqS3), never descending.

    One iteration from ``theta0`` (vector ``x0``): two EM steps give ``x1`` and ``x2``; with
    ``r = x1 - x0``, ``v = x2 - 2 x1 + x0`` and the step ``s = |r| / |v|`` (kept in
    ``[1, step_max]``), the extrapolated point is ``x0 + 2 s r + s^2 v`` (``s = 1`` gives ``x2``).
    It is kept if the model accepts it and its objective is at least that of ``x1``; otherwise the
    iteration ends at ``x2``, the plain EM step. ``step_max`` starts at 1 and grows fourfold each
    time a step that long is accepted, shrinks fourfold each time one is refused (the R package
    SQUAREM's rule), and after three refusals in a row becomes a quarter of the step just refused,
    however short of ``step_max`` it was: a refused iteration costs three E-steps for the progress
    of two EM steps, and a slowly converging problem can propose about the same too-long step at
    every iteration (a sticky two-state HMM took 335 E-steps instead of 133). The stopping rule is
    plain EM's, applied to the first EM step of every iteration: stop when one EM step changes
    the objective by at most the tolerance.
    """
    model.initialize(data, rng)
    stats, loglik = _e_step(model, data, 0)
    n_e_steps = 1
    history = [loglik]
    _report(model, 0, loglik, None, settings)
    base = _get_vector(model, None, 0)
    step_max = 1.0
    refusals = 0

    converged = False
    iteration = 0
    for iteration in range(1, settings.max_iter + 1):
        model.m_step(data, stats)
        stats_first, loglik_first = _e_step(model, data, iteration)
        n_e_steps += 1
        _warn_if_decreased(loglik, loglik_first, iteration)
        if _converged(loglik_first - loglik, loglik_first, settings):
            history.append(loglik_first)
            _report(model, iteration, loglik_first, loglik_first - loglik, settings)
            stats, loglik, converged = stats_first, loglik_first, True
            break
        first = _get_vector(model, base.size, iteration)
        model.m_step(data, stats_first)
        second = _get_vector(model, base.size, iteration)
        r = first - base
        v = second - first - r
        step = _squarem_step(r, v, step_max)
        point = None
        if step > 1.0:
            point, evaluated = _try_point(model, data, base + (2.0 * step) * r + (step * step) * v)
            n_e_steps += evaluated
            if point is not None and point[1] < loglik_first:
                point = None
            if point is None:  # back to the plain EM step
                _restore(model, second)
        if point is None:
            stats, new_loglik = _e_step(model, data, iteration)
            n_e_steps += 1
            _warn_if_decreased(loglik_first, new_loglik, iteration)
            base = second
        else:
            stats, new_loglik, caught = point
            for record in caught:  # warnings raised at the accepted point are the run's own
                warnings.warn_explicit(record.message, record.category, record.filename, record.lineno,
                                       source=record.source)
            base = _get_vector(model, base.size, iteration)
        refused = step > 1.0 and point is None
        refusals = refusals + 1 if refused else 0
        if refused and (step == step_max or refusals >= _REFUSALS_IN_A_ROW):  # shorter steps from now on
            step_max = max(1.0, step / 4.0)
        elif step == step_max:  # a step as long as allowed, and kept (or EM's own): allow longer ones
            step_max *= 4.0
        history.append(new_loglik)
        _report(model, iteration, new_loglik, new_loglik - loglik, settings,
                f"  extrapolated, step {step:.3g}" if point is not None else "  EM steps")
        loglik = new_loglik

    return EMResult(
        model=model,
        loglik_history=np.array(history),
        converged=converged,
        n_iter=iteration,
        expected_statistics=stats,
        n_e_steps=n_e_steps,
    )


def _restore(model, vector: np.ndarray) -> None:
    try:
        model.set_vector(vector)
    except ValueError as error:
        raise TypeError(
            f"model.set_vector refused a vector that model.get_vector returned ({error}); {_VECTOR_PROTOCOL}"
        ) from error


def _squarem_step(r: np.ndarray, v: np.ndarray, step_max: float) -> float:
    """SqS3's step length ``|r| / |v|``, kept in ``[1, step_max]``."""
    rr, vv = float(r @ r), float(v @ v)
    if rr == 0.0:
        return 1.0
    if not vv > 0.0:  # the two EM steps were equal: as far as allowed
        return step_max
    return min(max(math.sqrt(rr / vv), 1.0), step_max)


def _try_point(model, data, vector: np.ndarray):
    """``((statistics, objective, warnings), evaluated)`` at the extrapolated ``vector``.

    The first item is None if the point is invalid: ``set_vector`` refuses it, the E-step finds
    the data impossible there, or the objective is NaN or infinite. ``evaluated`` says whether an
    E-step ran (it counts, kept or not). Warnings are held back, to be shown only if the point is
    kept.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.set_vector(vector)
        except ValueError:  # refused: no valid parameters there
            return None, False
        try:
            result = model.e_step(data)
        except (ValueError, ArithmeticError):  # impossible data there (LinAlgError is a ValueError)
            return None, True
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        _e_step_shape_error(result, "an extrapolated point")
    stats, loglik = result
    try:
        value = float(loglik)
    except (TypeError, ValueError):
        return None, True
    if not math.isfinite(value):
        return None, True
    return (stats, value, caught), True


def _get_vector(model, size: int | None, iteration: int) -> np.ndarray:
    try:  # a copy: a model may hand out a view of parameters that its M-step changes in place
        vector = np.array(model.get_vector(), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"model.get_vector() must return a 1-D array of numbers; {_VECTOR_PROTOCOL}") from None
    if vector.ndim != 1 or (size is not None and vector.shape[0] != size):
        raise TypeError(
            f"model.get_vector() returned shape {vector.shape} at iteration {iteration}"
            + ("" if size is None else f", but shape ({size},) before")
            + f"; {_VECTOR_PROTOCOL}"
        )
    if not np.isfinite(vector).all():
        raise ValueError(
            f"model.get_vector() returned NaN or infinite values at iteration {iteration}: its coordinates "
            "must be finite (a probability that may be zero, say, by its square root, not its logarithm)"
        )
    return vector


def _converged(change: float, loglik: float, settings: _Settings) -> bool:
    scale = settings.tol_scale if settings.tol_scale is not None else max(1.0, abs(loglik))
    return settings.tol > 0 and abs(change) <= settings.tol * scale


def _report(model, iteration: int, loglik: float, change: float | None, settings: _Settings,
            note: str = "") -> None:
    if settings.verbose:
        changed = "" if change is None else f"  change {change: .3e}"
        print(f"iteration {iteration:4d}  log-likelihood {loglik: .8g}{changed}{note}")
    if settings.callback is not None:
        settings.callback(model, iteration, loglik)


def _warn_if_decreased(previous: float, loglik: float, iteration: int) -> None:
    if loglik - previous < -_DECREASE_SLACK * max(1.0, abs(previous)):
        warnings.warn(
            LikelihoodDecreaseWarning(
                f"log-likelihood decreased at iteration {iteration}, from {previous:.10g} to "
                f"{loglik:.10g}. EM cannot decrease it: for a model of your own this nearly always "
                "means a bug in the M-step (it does not maximise the expected complete-data "
                "log-likelihood), or an E-step that returns the log-likelihood of other parameters "
                "than the current ones.",
                iteration, previous, loglik,
            ),
            stacklevel=4,
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
