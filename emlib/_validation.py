"""Input checks shared by every estimator. Each raises an error that names the argument at fault."""

from __future__ import annotations

import contextlib
import numbers
from contextvars import ContextVar

import numpy as np

# dtype kinds of arrays that as_numeric_array returns as they are: booleans, integers and floats.
_REAL_KINDS = "biuf"
# What fit's validation proved about the arrays it returned, in the current context (see known):
# (array, facts, what has been derived from it) for each enclosing block.
_KNOWN: ContextVar[tuple] = ContextVar("known", default=())

#: Facts that :func:`known` can declare about an array: every entry is a finite number;
FINITE = "finite"
#: every entry is a whole number >= 0 (and finite);
COUNTS = "counts"
#: every entry is 0 or 1.
BINARY = "binary"


def symbols_below(n_symbols: int) -> tuple[str, int]:
    """The fact that an array is 1-D ``int64`` symbols ``0, 1, ..., n_symbols - 1``."""
    return ("symbols below", int(n_symbols))


@contextlib.contextmanager
def known(X, *facts):
    """Inside the block, the checks of the distributions take ``facts`` about this very array
    ``X`` as proven, and pass it without reading it.

    An estimator validates its data once (finite, counts, binary, symbols in range: whatever its
    family's ``check_data`` proves) and runs EM inside this block: each E- and M-step would
    otherwise read all of ``X`` again to prove the same (for Poisson counts, half an iteration's
    time on a short series; a tenth for diagonal Gaussians at 10,000 x 32). Only the object
    itself is trusted, not a copy or a view of it; outside the block the distributions check
    whatever they are given. ``X`` that is not an ndarray (None, say) declares nothing.

    The block also promises that ``X`` does not change inside it: :func:`derived` computes what
    the steps derive from ``X`` alone once per block.
    """
    if not isinstance(X, np.ndarray) or not facts:
        yield
        return
    token = _KNOWN.set(_KNOWN.get() + ((X, frozenset(facts), {}),))
    try:
        yield
    finally:
        _KNOWN.reset(token)


def is_known(X, fact) -> bool:
    """Whether an enclosing :func:`known` block declared ``fact`` about this very array ``X``."""
    for array, facts, _ in _KNOWN.get():
        if X is array and fact in facts:
            return True
    return False


def derived(X, name: str, compute):
    """``compute(X)``: a constant of the data that every E-step needs (the log-factorials of counts,
    say), computed once per enclosing :func:`known` block about this very array ``X`` and read-only;
    outside such blocks, at every call. ``name`` tells the constants of one array apart."""
    for array, _, constants in _KNOWN.get():
        if X is array:
            value = constants.get(name)
            if value is None:
                value = constants[name] = compute(X)
                value.flags.writeable = False
            return value
    return compute(X)


def check_random_state(random_state, name: str = "random_state") -> np.random.Generator:
    """Turn None, a non-negative int or a Generator into a :class:`numpy.random.Generator`."""
    validate_random_state(random_state, name)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(int(random_state))


def validate_random_state(random_state, name: str = "random_state") -> None:
    """The errors of :func:`check_random_state`, without making a generator (which costs more than
    a small fit's iteration) or drawing from a ``RandomState``."""
    if random_state is None or isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"{name} must be None, an int >= 0 or a numpy.random.Generator, got {random_state}")
        return
    raise TypeError(
        f"{name} must be None, an int >= 0 or a numpy.random.Generator, got {type(random_state).__name__}"
    )


def check_data(X, name: str = "X", *, allow_nan: bool = False, nan_hint: str = "",
               what: str = "numbers", dtype=np.float64) -> np.ndarray:
    """Return ``X`` as a C-contiguous 2-D float array of shape (n_samples, n_features).

    1-D input is read as one feature. Non-numeric input, other dimensions, empty input and NaN or
    infinite entries (NaN allowed when ``allow_nan``) raise ``ValueError`` (``TypeError`` for
    entries that are not numbers at all) naming ``name``. ``nan_hint`` is appended to the NaN
    message (e.g. an option that accepts missing values); ``what`` names the expected entries in
    the messages (e.g. "counts").
    """
    array = as_numeric_array(X, name, what)
    if array.ndim == 1:
        array = array[:, None]
    elif array.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_features), got {array.ndim}-D "
            f"with shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: 0 sample(s) (shape={array.shape}) while a minimum of 1 is required")
    if array.shape[1] == 0:
        raise ValueError(f"{name} is empty: 0 feature(s) (shape={array.shape}) while a minimum of 1 is required.")
    array = np.ascontiguousarray(array, dtype=dtype)
    if np.isfinite(array).all():
        largest = np.abs(array).max()
    else:
        if np.isinf(array).any():
            raise ValueError(f"{name} contains infinite values (inf)")
        if not allow_nan:
            raise ValueError(f"{name} contains NaN; remove or impute the missing values{nan_hint}")
        largest = np.nanmax(np.abs(array))
    if largest > MAX_MAGNITUDE:
        advice = (f"Rescale the data (divide by a power of ten that brings them below {MAX_MAGNITUDE:.0e})"
                  if what == "numbers" else f"emlib fits {what} up to {MAX_MAGNITUDE:.0e}")
        raise ValueError(
            f"{name} has values as large as {largest:.3g} in absolute value; their squares overflow double "
            f"precision. {advice}"
        )
    return array


#: Largest absolute value accepted in data: squares and sums of squares of a billion such numbers
#: stay far from overflow.
MAX_MAGNITUDE = 1e100
#: Smallest spread (standard deviation of a feature) of continuous data that the estimators can fit:
#: below it, variances underflow.
MIN_SPREAD = 1e-100


def check_spread(X: np.ndarray, name: str = "X") -> None:
    """A ValueError naming the scale when the features of continuous data vary by less than
    :data:`MIN_SPREAD` (their variances would underflow), unless they do not vary at all."""
    minimum, maximum = X.min(axis=0), X.max(axis=0)  # NaN for a column with missing entries
    if np.isnan(minimum).any():
        with np.errstate(invalid="ignore"):
            minimum, maximum = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    check_column_ranges(minimum, maximum, name)


def check_column_ranges(minimum: np.ndarray, maximum: np.ndarray, name: str = "X") -> None:
    """:func:`check_spread` from the columns' smallest and largest values, (D,) each."""
    with np.errstate(invalid="ignore"):
        spread = np.asarray(maximum) - np.asarray(minimum)
    tiny = np.flatnonzero((spread > 0) & (spread < MIN_SPREAD))
    if tiny.size:
        column = int(tiny[0])
        raise ValueError(
            f"column {column} of {name} varies by only {spread[column]:.3g}; a variance this small "
            f"underflows double precision. Rescale the data (multiply that column by a power of ten "
            f"that brings its spread above {MIN_SPREAD:.0e})"
        )


def as_numeric_array(X, name: str = "X", what: str = "numbers") -> np.ndarray:
    """``X`` as a real numeric (or boolean) array of any shape; object arrays of numbers are converted.

    Raises ``TypeError`` for objects that are not numbers (a dict in an object array) and for sparse
    matrices, ``ValueError`` for strings, ragged nesting and complex values.
    """
    if type(X) is np.ndarray and X.dtype.kind in _REAL_KINDS:  # the common case, at no cost
        return X
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} must be a dense array of {what}; sparse matrices are not supported "
                        "(convert with X.toarray() if it fits in memory)")
    try:
        array = np.asarray(X)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a rectangular array of {what}: {exc}") from None
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must contain {what}: {exc}") from None
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must contain real {what}: Complex data not supported")
    if array.dtype.kind not in _REAL_KINDS:
        # Strings, dates, durations (numpy counts timedelta64 as a number) and the like: a wrong
        # value (as scikit-learn says), not a wrong type.
        raise ValueError(f"{name} must contain {what}, got an array of dtype {array.dtype}")
    return array


def check_n_features(X: np.ndarray, n_features: int, estimator_name: str = "the model",
                     name: str = "X") -> None:
    """A ValueError when ``X`` does not have the ``n_features`` the estimator was fitted with."""
    if X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but {estimator_name} is expecting {n_features} features "
            "as input"
        )


def check_sample_weight(sample_weight, n_samples: int, name: str = "sample_weight") -> np.ndarray:
    """Frequency weights for ``n_samples`` rows: finite, non-negative, not all zero; None is all ones."""
    if sample_weight is None:
        return np.ones(n_samples)
    weight = as_numeric_array(sample_weight, name)
    if weight.ndim == 0:
        raise ValueError(f"{name} must be an array of shape ({n_samples},), got a single number")
    weight = np.asarray(weight, dtype=np.float64)
    if weight.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},) to match X, got {weight.shape}")
    if not np.all(np.isfinite(weight)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(weight < 0):
        raise ValueError(f"{name} must be non-negative, but {name}[{int(np.argmin(weight))}] is {weight.min():g}")
    if not np.any(weight > 0):
        raise ValueError(f"{name} is zero everywhere; at least one sample needs positive weight")
    _check_weight_scale(weight, name, whole=True)
    return weight


def check_chunk_weights(sample_weight, n_samples: int, name: str = "sample_weight") -> np.ndarray:
    """The frequency weights of one chunk of a larger data set: as :func:`check_sample_weight`, but
    a chunk may weigh zero (only the whole data may not)."""
    if sample_weight is None:
        return np.ones(n_samples)
    weight = np.asarray(as_numeric_array(sample_weight, name), dtype=np.float64)
    if weight.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},) to match X, got {weight.shape}")
    if not np.all(np.isfinite(weight)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(weight < 0):
        raise ValueError(f"{name} must be non-negative, but {name}[{int(np.argmin(weight))}] is {weight.min():g}")
    _check_weight_scale(weight, name, whole=False)
    return weight


def _check_weight_scale(weight: np.ndarray, name: str, whole: bool) -> None:
    """A ValueError when the largest weight is beyond :data:`MAX_MAGNITUDE` (sums of weights, or of
    weighted squares, would overflow), or, for the weights of all the data (``whole``), below its
    reciprocal (the reciprocal of their sum would). Only the ratios of frequency weights matter."""
    if weight.size == 0:
        return
    largest = float(weight.max())
    if largest > MAX_MAGNITUDE or (whole and largest < 1.0 / MAX_MAGNITUDE):
        raise ValueError(
            f"{name} has a largest weight of {largest:g}; only the ratios of the weights matter, so "
            f"divide them by their largest (emlib takes a largest weight from {1.0 / MAX_MAGNITUDE:.0e} "
            f"to {MAX_MAGNITUDE:.0e})"
        )


def output_array(out, shape: tuple[int, ...], name: str = "out") -> np.ndarray:
    """``out`` checked as the array a function writes its result into, or a new array (None).

    It must be a writable C-contiguous float64 ndarray of exactly ``shape``.
    """
    if out is None:
        return np.empty(shape)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64:
        raise TypeError(f"{name} must be a float64 numpy array of shape {shape} or None, got "
                        + (f"an array of dtype {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__))
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"{name} must be a writable C-contiguous array")
    return out


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_nonnegative_float(value, name: str) -> float:
    """A finite real number >= 0 (an infinite ``reg_covar`` or prior would only fail later, unnamed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < np.inf:
        raise ValueError(f"{name} must be a non-negative number (finite), got {value!r}")
    return float(value)


def check_flag(value, name: str, levels: bool = False) -> bool:
    """True or False (numpy's booleans too; with ``levels``, an integer verbosity level as scikit-learn
    takes, true when non-zero); ``TypeError`` for anything else, whose truth would be a guess."""
    kinds = (bool, np.bool_, numbers.Integral) if levels else (bool, np.bool_)
    if not isinstance(value, kinds):
        also = " (or an integer level)" if levels else ""
        raise TypeError(f"{name} must be True or False{also}, got {value!r}")
    return bool(value)


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
        )
    return value


_FLOAT64_EPS = float(np.finfo(np.float64).eps)


def _sum_tolerance(given: np.ndarray, n_terms: int, atol: float | None) -> float:
    """How far from one a sum of ``n_terms`` probabilities may be: round-off of the dtype of the
    array ``given``."""
    if atol is not None:
        return atol
    eps = float(np.finfo(given.dtype).eps) if given.dtype.kind == "f" else _FLOAT64_EPS
    return max(1e-8, 4.0 * max(n_terms, 1) * eps)


def check_probability_vector(p, name: str, size: int | None = None, atol: float | None = None) -> np.ndarray:
    """A 1-D array of non-negative numbers summing to one (within the round-off of their dtype)."""
    given = as_numeric_array(p, name, what="probabilities")
    atol = _sum_tolerance(given, given.size, atol)
    array = _as_float_array(given, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{name} must have length {size}, got {array.shape[0]}")
    _check_probabilities(array, name)
    total = array.sum()
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must sum to one, but sums to {total:.10g}")
    return array / total


def check_stochastic_matrix(A, name: str, shape: tuple[int, int] | None = None,
                            atol: float | None = None) -> np.ndarray:
    """A 2-D array of non-negative numbers whose rows each sum to one (within their dtype's round-off)."""
    given = as_numeric_array(A, name, what="probabilities")
    atol = _sum_tolerance(given, given.shape[-1] if given.ndim else 1, atol)
    array = _as_float_array(given, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {array.shape}")
    _check_probabilities(array, name)
    sums = array.sum(axis=1)
    off = np.abs(sums - 1.0) > atol
    if off.any():
        bad = np.flatnonzero(off)
        raise ValueError(
            f"each row of {name} must sum to one, but row {bad[0]} sums to {sums[bad[0]]:.10g}"
        )
    return array / sums[:, None]


def check_lengths(lengths, n_samples: int, name: str = "lengths") -> np.ndarray:
    """Sequence lengths for data of ``n_samples`` rows, as int64 (S,); None means one sequence."""
    if lengths is None:
        return np.array([n_samples], dtype=np.int64)
    array = as_numeric_array(lengths, name, what="positive integers")
    if array.ndim == 0:
        array = array[None]
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of positive integers, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.bool_) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must contain integers, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.integer) and not (
        np.all(np.isfinite(array)) and np.all(array == np.round(array))
    ):
        raise ValueError(f"{name} must contain whole numbers, got dtype {array.dtype} with fractions or NaN")
    bad = np.flatnonzero((array <= 0) | (array > n_samples))
    if bad.size:
        raise ValueError(
            f"{name} must be positive and at most the number of samples {n_samples}, but entry {int(bad[0])} "
            f"is {array[bad[0]]}"
        )
    array = array.astype(np.int64)
    if array.sum() != n_samples:
        raise ValueError(f"{name} must sum to the number of samples {n_samples}, but sums to {array.sum()}")
    return array


def _as_float_array(given: np.ndarray, name: str) -> np.ndarray:
    """A numeric array (:func:`as_numeric_array`'s) as finite float64 numbers."""
    array = np.asarray(given, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _check_probabilities(array: np.ndarray, name: str) -> None:
    if (array < 0).any():
        raise ValueError(f"{name} has negative entries (min {array.min():.3g}); probabilities must be >= 0")
