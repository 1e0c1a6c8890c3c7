"""The base every emlib estimator stands on: scikit-learn's estimator API, without depending on it.

What scikit-learn's tools (``clone``, ``Pipeline``, ``GridSearchCV``, ``check_is_fitted``, its
estimator checks) need from an estimator, written once:

- ``get_params`` / ``set_params`` read the parameter names off ``__init__``'s signature; ``__init__``
  only stores its arguments, unchanged (validation happens in ``fit``);
- a ``repr`` that shows the parameters that differ from their defaults;
- ``__sklearn_is_fitted__`` and one fitted check raising :class:`~emlib.exceptions.NotFittedError`;
- estimator tags for scikit-learn 1.6+ (``__sklearn_tags__``) and for 1.4–1.5 (``_get_tags``),
  built only when scikit-learn asks, so that ``import emlib`` never imports it;
- running :func:`emlib.em.fit` with the estimator's settings: its warnings passed on once each, one
  convergence warning, decreases of the objective explained by type (never by their text);
- stepwise (online) EM for ``partial_fit``: the running statistics, their step sizes and the
  update, written once for mixtures and HMMs alike.
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings
from typing import Any, ClassVar

import numpy as np

from emlib import em
from emlib._validation import (
    FINITE,
    check_flag,
    check_nonnegative_float,
    check_positive_int,
    known,
    validate_random_state,
)
from emlib.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    LikelihoodDecreaseWarning,
    not_fitted_error,
)

__all__ = ["LEARNING_DECAY", "LEARNING_OFFSET", "EMEstimator", "user_stacklevel"]

#: The default learning schedule of ``partial_fit`` (every mixture and HMM): the running
#: statistics move by ``(t + LEARNING_OFFSET) ** -LEARNING_DECAY`` at update ``t``.
LEARNING_DECAY = 0.7
LEARNING_OFFSET = 10.0

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first caller outside emlib.

    Call it as the argument of ``warnings.warn``: the warning then points at the user's line,
    however many emlib functions lie between (``fit_predict`` calling ``fit``, say).
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


_PARAM_NAMES: dict[type, tuple[str, ...]] = {}  # _get_param_names' cache, one entry per class


class EMEstimator:
    """Shared base of the estimators: parameters, repr, fitted check, tags and the EM run.

    Subclasses set ``_fitted_attribute`` (an attribute that ``fit`` sets last; its presence means
    "fitted") and, for scikit-learn's tags, ``_sklearn_estimator_type`` and :meth:`_update_tags`.
    """

    _fitted_attribute: ClassVar[str] = ""
    _sklearn_estimator_type: ClassVar[str | None] = None

    # -- parameters -------------------------------------------------------------------------------
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The parameters of ``__init__``, sorted (scikit-learn's convention)."""
        # Read from the signature once per class: every fit asks, and inspect is slow.
        names = _PARAM_NAMES.get(cls)
        if names is None:
            names = _PARAM_NAMES[cls] = cls._init_parameter_names()
        return list(names)

    @classmethod
    def _init_parameter_names(cls) -> tuple[str, ...]:
        if cls.__init__ is object.__init__:
            return ()
        names = []
        for parameter in inspect.signature(cls.__init__).parameters.values():
            if parameter.name == "self":
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise RuntimeError(f"{cls.__name__}.__init__ must name its parameters (no *args, **kwargs)")
            names.append(parameter.name)
        return tuple(sorted(names))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters, as given to ``__init__`` or :meth:`set_params`.

        Parameters
        ----------
        deep : bool, default True
            Accepted for scikit-learn; emlib estimators hold no other estimators.
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> EMEstimator:
        """Set parameters by name (as ``__init__`` takes them); returns the estimator.

        Raises ``ValueError`` for a name the estimator does not have. Values are checked when
        ``fit`` runs.
        """
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. Valid parameters "
                    f"are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        signature = inspect.signature(type(self).__init__).parameters
        shown = []
        for name in signature:
            if name == "self":
                continue
            value, default = getattr(self, name), signature[name].default
            if _differs(value, default):
                shown.append(f"{name}={_short_repr(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- fitted state -----------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return self._fitted_attribute in self.__dict__

    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise not_fitted_error(
                f"this {type(self).__name__} is not fitted yet; call fit before using it"
            )

    def _fitted_settings(self) -> dict[str, Any]:
        """The settings that shape the fitted model, as it has them (subclasses: ``n_components``
        and, say, ``covariance_type``)."""
        return {}

    def _check_continues_fit(self, action: str, remedy: str) -> None:
        """A ValueError when ``action`` (a warm start, a ``partial_fit`` update), which continues
        the fitted model, would run with settings that no longer describe it."""
        for name, fitted in self._fitted_settings().items():
            value = getattr(self, name)
            if value != fitted:
                raise ValueError(
                    f"{name}={value!r}, but the fitted model has {name}={fitted!r}; {action} continues "
                    f"it. {remedy}"
                )

    # -- scikit-learn's tags ----------------------------------------------------------------------
    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags, TransformerTags

        tags = Tags(
            estimator_type=self._sklearn_estimator_type,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags() if hasattr(type(self), "transform") else None,
        )
        self._update_tags(tags)
        return tags

    def _update_tags(self, tags) -> None:
        """Adjust scikit-learn's tags (``tags.input_tags.positive_only``, say) for this estimator."""

    def _more_tags(self) -> dict[str, Any]:
        """The same tags in the dictionary form of scikit-learn 1.4–1.5."""
        from sklearn.utils import InputTags, Tags, TargetTags

        tags = Tags(estimator_type=None, target_tags=TargetTags(required=False), input_tags=InputTags())
        self._update_tags(tags)
        return {
            "requires_y": False,
            "allow_nan": tags.input_tags.allow_nan,
            "requires_positive_X": tags.input_tags.positive_only,
            "non_deterministic": tags.non_deterministic,
        }

    def _get_tags(self) -> dict[str, Any]:
        from sklearn.utils._tags import _DEFAULT_TAGS

        return {**_DEFAULT_TAGS, **self._more_tags()}

    # -- running EM -------------------------------------------------------------------------------
    def _check_run_parameters(self) -> None:
        """Check the settings every estimator shares (``n_init``, ``warm_start`` and the learning
        schedule only where there are some)."""
        names = self._get_param_names()
        if "n_init" in names:
            check_positive_int(self.n_init, "n_init")
        if "learning_decay" in names:
            decay = self.learning_decay
            if isinstance(decay, bool) or not isinstance(decay, (int, float, np.integer, np.floating)) or not (
                    0.5 < decay <= 1):
                raise ValueError(f"learning_decay must be a number in (0.5, 1], got {decay!r}")
            check_nonnegative_float(self.learning_offset, "learning_offset")
        if "warm_start" in names:
            check_flag(self.warm_start, "warm_start")
        check_positive_int(self.max_iter, "max_iter", minimum=0)
        check_nonnegative_float(self.tol, "tol")
        em.check_accelerate(self.accelerate)
        validate_random_state(self.random_state)
        check_flag(self.verbose, "verbose", levels=True)

    def _validated_facts(self, data) -> tuple:
        """What fit's validation proved about ``data.X`` (facts of :func:`emlib._validation.known`),
        which EM's steps then need not check again: finite numbers, unless a subclass says more
        (counts, binary, symbols in range) or less (missing entries)."""
        return (FINITE,)

    def _run_em(self, model, data, *, tol_scale: float | None, n_init: int = 1) -> em.EMResult:
        """:func:`emlib.em.fit` with this estimator's settings; warnings passed on to the caller of fit.

        EM would warn at every iteration in which, say, a component stays empty: each warning is
        passed on once. A decrease of the objective (:class:`~emlib.exceptions.LikelihoodDecreaseWarning`)
        is explained by :meth:`_explain_decreases`. Then one :class:`~emlib.exceptions.ConvergenceWarning`
        if EM stopped at ``max_iter`` (not with ``tol=0``, which asks for exactly ``max_iter``).
        """
        # fit validated the in-memory data: no E- or M-step needs to prove the same again.
        with warnings.catch_warnings(record=True) as caught, known(getattr(data, "X", None),
                                                                   *self._validated_facts(data)):
            warnings.simplefilter("always")
            result = em.fit(model, data, max_iter=self.max_iter, tol=self.tol, tol_scale=tol_scale,
                            n_init=n_init, random_state=self.random_state, verbose=bool(self.verbose),
                            accelerate=self.accelerate)
        seen = set()
        decreases = [r.message for r in caught if issubclass(r.category, LikelihoodDecreaseWarning)]
        for record in caught:
            if issubclass(record.category, LikelihoodDecreaseWarning):
                continue
            key = (record.category, str(record.message))
            if key not in seen:
                seen.add(key)
                warnings.warn(record.message, stacklevel=user_stacklevel())
        if decreases:
            self._explain_decreases(decreases, degenerate=any(
                issubclass(r.category, DegenerateComponentWarning) for r in caught))
        if not result.converged and self.max_iter > 0 and self.tol > 0:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations: the last change of the "
                f"objective was more than tol={self.tol:g}"
                + (" per sample" if tol_scale is not None else " times its size")
                + ". Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        return result

    # -- stepwise EM for streams (partial_fit) ----------------------------------------------------
    def _has_stream(self) -> bool:
        """Whether the running statistics of a stream exist (set by ``fit`` and ``partial_fit``)."""
        return "statistics_" in self.__dict__

    def _begin_stream(self, statistics, weight: float) -> None:
        """Start the running statistics from a fit's: ``statistics`` summed over a batch of total
        weight ``weight``, stored per unit of weight."""
        self.statistics_ = (1.0 / weight) * statistics
        self.n_samples_seen_ = float(weight)
        self.n_steps_ = 0

    def _stream_step(self, model, data, weight: float) -> None:
        """One step of stepwise EM (Cappé & Moulines, 2009; Liang & Klein, 2009) on a batch.

        The E-step on the batch (total weight ``weight``) at the current parameters gives the
        batch's statistics; the running statistics, kept per unit of weight, move towards them,
        ``s <- (1 - g) s + g * batch / weight`` with ``g = (t + learning_offset) ** -learning_decay``
        at step ``t`` (1, 2, ...), and the M-step sets ``model``'s parameters from them. The M-step
        sees them multiplied by the weight seen so far, so that a prior (pseudo-counts) weighs as
        in a batch fit of everything seen; without one the scale does not matter. Memory: the
        statistics alone, whatever the length of the stream. With ``g = 1`` this is one EM
        iteration on the batch. Warnings are passed on once each, pointing at the caller.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            statistics, _ = model.e_step(data)
            if self._has_stream():
                step = (self.n_steps_ + 1 + float(self.learning_offset)) ** -float(self.learning_decay)
                running = (1.0 - step) * self.statistics_ + (step / weight) * statistics
                seen, steps = self.n_samples_seen_ + weight, self.n_steps_ + 1
            else:  # fitted without a stream (parameters set by hand): this batch starts one
                running, seen, steps = (1.0 / weight) * statistics, float(weight), 0
            model.m_step(data, seen * running)
        self.statistics_, self.n_samples_seen_, self.n_steps_ = running, seen, steps
        seen_messages = set()
        for record in caught:
            key = (record.category, str(record.message))
            if key not in seen_messages:
                seen_messages.add(key)
                warnings.warn(record.message, stacklevel=user_stacklevel())

    def _explain_decreases(self, decreases: list[LikelihoodDecreaseWarning], degenerate: bool) -> None:
        first = decreases[0]
        where = (f"{len(decreases)} iteration(s) (first: iteration {first.iteration}, from "
                 f"{first.previous:.10g} to {first.current:.10g})")
        if degenerate:
            warnings.warn(
                f"the objective decreased in {where}. Not a bug: a component degenerated (see the "
                "other warning) and the M-step could not maximise exactly there.",
                DegenerateComponentWarning,
                stacklevel=user_stacklevel(),
            )
            return
        warnings.warn(
            LikelihoodDecreaseWarning(
                f"the objective decreased in {where}, which EM cannot do. This is a bug in emlib: "
                "please report it with the data and settings that show it.",
                first.iteration, first.previous, first.current,
            ),
            stacklevel=user_stacklevel(),
        )


def _differs(value, default) -> bool:
    if value is default:
        return False
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return True
    try:
        return bool(value != default)
    except (TypeError, ValueError):
        return True


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "..." + text[-6:]
