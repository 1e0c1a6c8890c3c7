"""Warnings and errors raised by emlib's estimators."""


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
    ``hasattr(model, "means_")`` is ``False`` before fitting.
    """
