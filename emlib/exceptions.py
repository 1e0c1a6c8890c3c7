"""Warnings and errors raised by emlib's estimators and its EM loop."""

import functools
import sys


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled."""


class DegenerateComponentWarning(ConvergenceWarning):
    """A component lost all its weight or collapsed onto (nearly) a single point.

    The fit goes on: a collapsed covariance is held positive definite by ``reg_covar``, and a component
    with no weight keeps its previous parameters. The warning says the answer may be a degenerate
    maximum (infinite likelihood at a single point) rather than a useful one.
    """


class NotFittedError(ValueError, AttributeError):
    """An estimator was used (``predict``, ``score``, ``means_``, ...) before ``fit``.

    It is both a ``ValueError`` and an ``AttributeError``, as in scikit-learn, so that
    ``hasattr(model, "means_")`` is ``False`` before fitting. When scikit-learn has been imported,
    the error raised is also an instance of scikit-learn's ``NotFittedError`` (see
    :func:`not_fitted_error`), so code written for scikit-learn catches it too.
    """


def not_fitted_error(message: str) -> NotFittedError:
    """A :class:`NotFittedError` carrying ``message``.

    If scikit-learn is already imported, the error also derives from
    ``sklearn.exceptions.NotFittedError``; emlib never imports scikit-learn itself.
    """
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError(message)
    return _with_sklearn_base(sklearn_exceptions.NotFittedError)(message)


@functools.cache
def _with_sklearn_base(sklearn_error: type) -> type:
    def __reduce__(self):  # pickled by what it says, not by its (generated) class
        return not_fitted_error, (str(self),)

    return type("NotFittedError", (NotFittedError, sklearn_error),
                {"__module__": __name__, "__doc__": NotFittedError.__doc__, "__reduce__": __reduce__})


class LikelihoodDecreaseWarning(RuntimeWarning):
    """The objective that EM climbs went down between two iterations.

    EM never decreases it, so for a model of your own this nearly always means a bug: an M-step that
    does not maximise the expected complete-data log-likelihood (plus the log-prior, for MAP-EM), or
    an E-step that reports the objective at other parameters than the current ones. emlib's own
    estimators report the exact objective their M-steps maximise, so they do not raise it on
    ordinary data.

    Attributes
    ----------
    iteration : int
        The iteration after which the objective was lower.
    previous, current : float
        The objective before and after that iteration.
    """

    def __init__(self, message: str, iteration: int = 0, previous: float = float("nan"),
                 current: float = float("nan")):
        super().__init__(message)
        self.iteration = iteration
        self.previous = previous
        self.current = current
