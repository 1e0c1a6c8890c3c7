"""Compiled recursions over time (numba). The readable NumPy versions are in ``reference.py`` (:mod:`emlib.hmm.reference`).

Every kernel takes the concatenated sequences as one (T, K) array plus ``starts`` and ``lengths``
(int64), and loops over the sequences itself, so that many short sequences cost one call. Work
arrays (``scratch``) come from the caller: a compiled loop allocates nothing.

Compiling a kernel costs in proportion to the code numba generates for it: each loop of the
source costs about the same whether it runs once or a million times, and each kernel's entry from
Python costs as much as a few loops (``benchmarks/hmm_vs_hmmlearn.py`` prints the time of each
kernel). So the loops make as few passes over the states as the arithmetic allows, and what a
call does once, O(K^2) or O(S K) work (zeroing sums, the totals at the end, the last row of each
sequence of a backward pass), is NumPy around the compiled loop (:meth:`Kernel.around`), where it
costs a few microseconds a call and nothing to compile. So is work that NumPy's vectorised loops
do faster than a compiled loop calling ``exp`` or ``log`` one number at a time: the scaled
E-step's exponentials of the log-emissions and logarithms of the normalisers.

Six kernels: :func:`forward_backward_scaled` (the E-step, and with ``smooth=False`` the scaled
forward pass that ``forward``, ``filter_proba`` and ``score`` need), :func:`backward_scaled`,
:func:`forward_log` and :func:`backward_log` (public functions, and the E-step in log space),
:func:`viterbi_path` and :func:`sample_states`.

Compiled on first need, for the one signature the wrappers use (C-contiguous float64 arrays, int64
indices). Until a kernel is compiled, calls that fit in what is left of :data:`NUMPY_STEPS` run its
NumPy twin instead, which computes the same outputs and status from :mod:`emlib.hmm.reference`: a
small first fit in a fresh environment then waits for no compiler, and a kernel that keeps being
called is compiled once the twin has run that many steps (the cost of compiling is paid at most
once, and only where it pays). Loading a kernel from numba's cache costs about 10 ms once numba's
compiler is running in the process (a kernel has been compiled or loaded) but about 0.9 s to start
it: so a kernel found in the cache skips its twin from then on. ``use("numpy")`` and
``use("compiled")`` force either (tests); :func:`compile_all` compiles everything.

Status codes returned by the kernels: ``-1`` all went well; a row ``>= 0`` is the first observation
of probability zero (the Python wrappers turn it into an error naming the sequence and the step);
``OUT_OF_RANGE`` (``-2``, scaling kernels only) means a scaled number left the range of doubles
or lost its precision, which happens when the past and the future disagree by more than about
1e308 (say a left-to-right model started far from the data): the wrappers then redo the work in log
space, which cannot overflow. A normaliser below the smallest normal double (1e-308, zero included)
is reported that way too, since in scaled arithmetic it may be underflow rather than impossibility;
log space tells the two apart.

Conventions, per sequence with steps ``t = 0 .. n-1``. Scaling method:

- the emission probabilities of a step are handled relative to their largest value,
  ``b[t, k] = exp(log_emission[t, k] - m[t])`` with ``m[t] = max_k log_emission[t, k]``, so a
  density of 1e-400 does not underflow before the recursion even starts;
- ``c[t] = sum_j b[t, j] * (alpha[t-1] @ A)[j]`` and ``alpha[t] = b[t] * (alpha[t-1] @ A) / c[t]``,
  so ``alpha[t]`` is the filtering distribution ``p(z_t | x_0..t)`` (rows sum to one) and
  ``log_scaling[t] = log c[t] + m[t] = log p(x_t | x_0..t-1)``;
- ``beta[n-1] = 1`` and ``beta[t] = A @ (b[t+1] * beta[t+1]) / c[t+1]`` with the *same* constants,
  so that ``alpha[t] * beta[t]`` is exactly the posterior ``p(z_t | x)``.

Log space scales too: ``log_alpha[t] = log p(z_t | x_0..t)`` is shifted by its log-sum-exp at every
step (the shifts are the same ``log_scaling``), and ``log_beta[t]`` by its maximum (``log_shift``),
so every number stays near zero and no sum of logarithms in the millions swallows the small
differences that decide the posteriors.
"""

from __future__ import annotations

import contextlib
import functools
import math
import pickle

import numpy as np
from numba import njit
from numba.core.caching import FunctionCache

from emlib.hmm import reference

__all__ = ["NUMPY_STEPS", "OUT_OF_RANGE", "Kernel", "compile_all", "use"]

# Each option below makes numba generate less code, which is what compiling costs (benchmarks/
# hmm_vs_hmmlearn.py times it): "numpy" divisions have no Python-exception path, the kernels are
# only called from Python (no C-callable wrapper), and none of numba's rewrites applies to plain
# loops over scalars (they rewrite array expressions, constant indices, prints and raises).
_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True, "no_cfunc_wrapper": True, "no_rewrites": True}
# For the kernels whose inner loops are sums over states (Kernel's ``reassociate``): LLVM may add
# them in another order, in SIMD lanes, and fuse multiplications with additions. A row of the
# backward pass, sum_j A[i, j] w[j], is otherwise a chain of dependent additions, one state at a
# time (with 64 states the E-step took twice as long). Nothing about NaN or infinity is assumed:
# the kernels test for both.
_REASSOCIATE = {"reassoc", "contract", "nsz"}
OUT_OF_RANGE = -2
# A normaliser c[t] below the smallest normal double was computed from subnormal numbers, which
# carry few significant digits (e^-740 has about 7 bits): the scaled pass hands over to log space.
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)
# alpha[t] . beta[t] is exactly one in exact arithmetic; farther from one than this, the scaled
# numbers have lost their precision (or left the range of doubles) and log space takes over.
_TOTAL_TOLERANCE = 1e-6
# The pairwise posteriors are summed over time in blocks of this many steps: a million terms added
# one by one to totals in the hundreds of thousands lose about 1e-8 to rounding.
_BLOCK = 1024
# Rows of the log-emissions whose maxima are found together (_row_maxima).
_ROW_MAXIMA_BLOCK = 4096

# Time steps a kernel's NumPy twin may run before the kernel is compiled. The twin takes about
# 10-20 microseconds a step, so this is about half a second: roughly what compiling costs.
NUMPY_STEPS = 40_000
_MODES = ("auto", "numpy", "compiled")
_mode = "auto"
KERNELS: list[Kernel] = []

# numba types of the arguments
_F1, _F2, _I1 = "float64[::1]", "float64[:, ::1]", "int64[::1]"


class Kernel:
    """A loop over time, compiled by numba for one explicit signature when first needed.

    Calling the kernel runs the compiled loop (:meth:`run_compiled`), inside the NumPy work that
    :meth:`around` registered, if any; until the loop is compiled, a call that fits in what is left
    of :data:`NUMPY_STEPS` runs the NumPy twin instead (registered with :meth:`twin`: the same
    arguments, outputs and status). The number of steps of a call is the length of argument
    ``steps_from``; with ``reassociate``, sums may be reordered (:data:`_REASSOCIATE`).
    """

    def __init__(self, loop, signature: str, steps_from: int = 0, reassociate: bool = False):
        functools.update_wrapper(self, loop)
        self.loop = loop
        self.signature = signature
        self.steps_from = steps_from
        self.options = dict(_OPTIONS, fastmath=_REASSOCIATE) if reassociate else _OPTIONS
        self.numpy_twin = None
        self.numpy_around = None
        self.numpy_steps = 0  # steps run by the twin so far
        self._compiled = None
        self._cached = None  # whether numba's cache holds the loop: looked up once, when it matters
        KERNELS.append(self)

    def twin(self, function):
        """Register ``function`` as the NumPy twin (decorator); returns it unchanged."""
        self.numpy_twin = function
        return function

    def around(self, function):
        """Register ``function(loop, *args)`` (decorator; returns it unchanged): given the callers'
        arguments, it does the NumPy work of the call before and after running the compiled
        ``loop``, and returns what the kernel returns."""
        self.numpy_around = function
        return function

    def compiled(self):
        """The compiled loop (compiled now, or loaded from numba's cache, the first time)."""
        if self._compiled is None:
            self._compiled = njit(self.signature, **self.options)(self.loop)
        return self._compiled

    def run_compiled(self, *args):
        """What the kernel computes, by the compiled loop (and the NumPy work around it)."""
        if self.numpy_around is None:
            return self.compiled()(*args)
        return self.numpy_around(self.compiled(), *args)

    def __call__(self, *args):
        if _mode == "numpy" or (_mode == "auto" and self._compiled is None and self._twin_can_take(args)):
            return self.numpy_twin(*args)
        return self.run_compiled(*args)

    def _twin_can_take(self, args) -> bool:
        if _compiler_running() and self._in_numba_cache():
            return False
        steps = args[self.steps_from].shape[0]
        if self.numpy_steps + steps > NUMPY_STEPS:
            return False
        self.numpy_steps += steps
        return True

    def _in_numba_cache(self) -> bool:
        if self._cached is None:
            try:  # numba's index of the loop's cached versions: empty if none, or if the source changed
                self._cached = bool(FunctionCache(self.loop)._cache_file._load_index())
            # no usable cache directory, an unreadable index, or numba's internals moved: twin first
            except (AttributeError, EOFError, OSError, RuntimeError, ValueError, pickle.UnpicklingError):
                self._cached = False
        return self._cached


def _compiler_running() -> bool:
    """Whether numba's compiler runs in this process: a kernel has been compiled or loaded."""
    return any(each._compiled is not None for each in KERNELS)


def kernel(signature: str, steps_from: int = 0, reassociate: bool = False):
    """Decorator: the loop below becomes a :class:`Kernel` with this numba signature."""
    return functools.partial(Kernel, signature=signature, steps_from=steps_from, reassociate=reassociate)


@contextlib.contextmanager
def use(mode: str):
    """Run every kernel as ``mode`` inside the block: "numpy" (the twins), "compiled" or "auto"."""
    global _mode
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    previous, _mode = _mode, mode
    try:
        yield
    finally:
        _mode = previous


def compile_all() -> None:
    """Compile every kernel now (or load it from numba's cache)."""
    for each in KERNELS:
        each.compiled()


# -- scaling method ---------------------------------------------------------------------------------
@kernel(f"int64({_F2}, {_F1}, {_F2}, {_I1}, {_I1}, {_F2}, {_F1}, {_F2}, {_F1}, {_F2}, boolean)",
        reassociate=True)
def forward_backward_scaled(work, startprob, transmat, starts, lengths, posteriors, log_scaling, pairwise,
                            start_counts, scratch, smooth):
    """The scaled forward pass and, if ``smooth``, the backward pass: the E-step, without a second
    (T, K) array or any (T, K, K) one.

    On entry (from :func:`_forward_backward_scaled_around`, which turns the log-emissions into
    them) ``work`` holds the emission probabilities relative to each step's largest,
    ``b[t] = exp(log_emission[t] - m[t])``; it is overwritten with ``b[t] / c[t]``. The forward
    pass fills ``posteriors`` (T, K) with the filter ``alpha`` and ``log_scaling`` (T,) with the
    normalisers ``c[t]`` (their logarithms are taken around the loop). The backward pass turns
    ``alpha`` into the posteriors in place and fills the pairwise posteriors summed over the
    transitions (K, K) and the posteriors of the first steps summed (K,). ``scratch`` is
    (K + 3, K). Returns the status: -1, or the first step whose normaliser is not a normal
    number (the wrapper tells an impossible observation from numbers out of range), or
    ``OUT_OF_RANGE`` from the backward pass. The sums start from zero and the pairwise ones are
    multiplied by ``A`` and checked in NumPy, around the compiled loop.
    """
    K = startprob.shape[0]
    PREDICTED, BETA, WEIGHTED = K, K + 1, K + 2  # rows of scratch; rows 0..K-1 are a block of sums
    until_flush = _BLOCK
    for s in range(starts.shape[0]):
        t0 = starts[s]
        last = t0 + lengths[s] - 1
        for t in range(t0, last + 1):
            c = 0.0
            if K <= 8:  # few states: one pass, a dot product with each column of A
                for j in range(K):
                    p = startprob[j]
                    if t > t0:
                        p = 0.0
                        for i in range(K):
                            p += posteriors[t - 1, i] * transmat[i, j]
                    p *= work[t, j]
                    scratch[PREDICTED, j] = p
                    c += p
            else:  # many: a pass over each row of A, which vectorises
                for k in range(K):
                    scratch[PREDICTED, k] = startprob[k] if t == t0 else 0.0
                if t > t0:
                    for i in range(K):
                        a = posteriors[t - 1, i]
                        for j in range(K):
                            scratch[PREDICTED, j] += a * transmat[i, j]
                for k in range(K):
                    p = scratch[PREDICTED, k] * work[t, k]
                    scratch[PREDICTED, k] = p
                    c += p
            if not c >= _SMALLEST_NORMAL:
                return t
            inverse = 1.0 / c
            for k in range(K):
                posteriors[t, k] = scratch[PREDICTED, k] * inverse
                work[t, k] *= inverse
            log_scaling[t] = c
        if not smooth:
            continue
        # backward, turning alpha into the posterior as it goes. Each beta[t-1] is divided by
        # alpha[t-1] . beta[t-1], which is one but for rounding: so the rounding of one step never
        # carries over to the next, and the pairwise posteriors of every step sum to one within
        # rounding (over a million steps, rounding carried along would add up to 1e-7)
        total = 0.0
        for k in range(K):
            scratch[BETA, k] = 1.0
            total += posteriors[last, k]
        for k in range(K):
            posteriors[last, k] /= total
        inverse = 1.0  # 1 / (alpha[t] . beta[t]) of the step before, by which its beta is divided
        for t in range(last, t0, -1):
            for j in range(K):
                scratch[WEIGHTED, j] = work[t, j] * scratch[BETA, j] * inverse
            until_flush -= 1  # at zero, the block goes into pairwise, each row once it has this step
            total = 0.0
            for i in range(K):
                a = posteriors[t - 1, i]  # still alpha[t-1]
                row = 0.0
                for j in range(K):
                    weighted = scratch[WEIGHTED, j]
                    scratch[i, j] += a * weighted
                    row += transmat[i, j] * weighted
                scratch[BETA, i] = row
                total += a * row
                if until_flush == 0:
                    for j in range(K):
                        pairwise[i, j] += scratch[i, j]
                        scratch[i, j] = 0.0
            if until_flush == 0:
                until_flush = _BLOCK
            if not abs(total - 1.0) <= _TOTAL_TOLERANCE:
                return OUT_OF_RANGE
            inverse = 1.0 / total
            for i in range(K):
                posteriors[t - 1, i] *= scratch[BETA, i] * inverse
        for k in range(K):
            start_counts[k] += posteriors[t0, k]
    return -1


@forward_backward_scaled.around
def _forward_backward_scaled_around(loop, work, startprob, transmat, starts, lengths, posteriors, log_scaling,
                                    pairwise, start_counts, scratch, smooth):
    # The exponentials are taken here, in NumPy's vectorised loop, at a few times less than the
    # compiled loop's calls of exp one by one: with few states these were a third of its time.
    with np.errstate(all="ignore"):  # a row of -inf (an impossible step) gives NaN, caught below
        top = _row_maxima(work)  # m[t]
        np.subtract(work, top[:, None], out=work)
        np.exp(work, out=work)
    block = scratch[:startprob.shape[0]]  # alpha[t-1, i] * weighted_t[j] summed since the last flush
    pairwise.fill(0.0)
    block.fill(0.0)
    start_counts.fill(0.0)
    status = loop(work, startprob, transmat, starts, lengths, posteriors, log_scaling, pairwise, start_counts,
                  scratch, smooth)
    if status >= 0:  # no normal normaliser at this step: impossible if every emission is
        return -math.inf, (status if top[status] == -math.inf else OUT_OF_RANGE)
    if status == OUT_OF_RANGE:
        return -math.inf, status
    with np.errstate(all="ignore"):  # a log-likelihood beyond -1e308 is -inf, as the loop's own sum was
        np.log(log_scaling, out=log_scaling)
        log_scaling += top
        loglik = float(log_scaling.sum())
    if smooth:
        pairwise += block
        pairwise *= transmat
        if not math.isfinite(pairwise.sum()):  # the sums are >= 0: finite if each term is
            return -math.inf, OUT_OF_RANGE
    return loglik, -1


def _row_maxima(values: np.ndarray) -> np.ndarray:
    """The largest entry of each row of ``values`` (T, K), shape (T,).

    One column at a time, over blocks of rows that stay in cache: NumPy's own reduction along
    rows as short as these costs 30-200 ns a row (more than the exponentials it would spare).
    """
    top = np.empty(values.shape[0])
    for start in range(0, values.shape[0], _ROW_MAXIMA_BLOCK):
        block, largest = values[start:start + _ROW_MAXIMA_BLOCK], top[start:start + _ROW_MAXIMA_BLOCK]
        largest[:] = block[:, 0]
        for k in range(1, values.shape[1]):
            np.maximum(largest, block[:, k], out=largest)
    return top


@forward_backward_scaled.twin
def _forward_backward_scaled_numpy(work, startprob, transmat, starts, lengths, posteriors, log_scaling,
                                   pairwise, start_counts, scratch, smooth):
    with np.errstate(all="ignore"):
        alpha, log_scaling[:] = reference.forward_scaled(work, startprob, transmat, lengths)
        top = _row_maxima(work)
        failed = ~(np.exp(log_scaling - top) >= _SMALLEST_NORMAL)
    if failed.any():
        row = int(np.argmax(failed))
        return -np.inf, (row if top[row] == -np.inf else OUT_OF_RANGE)
    if not smooth:
        posteriors[:] = alpha
        return float(log_scaling.sum()), -1
    with np.errstate(all="ignore"):  # the backward half, from this forward pass
        gamma, xi = reference.smooth_scaled(work, transmat, alpha, log_scaling, lengths)
    totals = gamma.sum(axis=1)
    if not (np.all(np.abs(totals - 1.0) <= _TOTAL_TOLERANCE) and np.all(np.isfinite(xi))):
        return -np.inf, OUT_OF_RANGE
    np.divide(gamma, totals[:, None], out=posteriors)
    pairwise[:] = xi
    start_counts[:] = posteriors[starts].sum(axis=0)
    return float(log_scaling.sum()), -1


@kernel(f"void({_F2}, {_F2}, {_I1}, {_I1}, {_F1}, {_F2}, {_F1})", reassociate=True)
def backward_scaled(log_emission, transmat, starts, lengths, log_scaling, beta, scratch):
    """Scaled backward pass with the forward pass's constants: fills ``beta`` (T, K); ``scratch``
    is (K,). (The last row of each sequence, all ones, is set around the compiled loop.)"""
    K = transmat.shape[0]
    for s in range(starts.shape[0]):
        t0 = starts[s]
        for t in range(t0 + lengths[s] - 1, t0, -1):
            # b[t] * beta[t] / c[t] in one exponential: log b - log c = log_emission - log_scaling
            for j in range(K):
                scratch[j] = math.exp(log_emission[t, j] - log_scaling[t]) * beta[t, j]
            for i in range(K):
                total = 0.0
                for j in range(K):
                    total += transmat[i, j] * scratch[j]
                beta[t - 1, i] = total


@backward_scaled.around
def _backward_scaled_around(loop, log_emission, transmat, starts, lengths, log_scaling, beta, scratch):
    beta[starts + lengths - 1] = 1.0
    loop(log_emission, transmat, starts, lengths, log_scaling, beta, scratch)


@backward_scaled.twin
def _backward_scaled_numpy(log_emission, transmat, starts, lengths, log_scaling, beta, scratch):
    with np.errstate(all="ignore"):
        beta[:] = reference.backward_scaled(log_emission, transmat, log_scaling, lengths)


# -- log space --------------------------------------------------------------------------------------
@kernel(f"int64({_F2}, {_F1}, {_F2}, {_I1}, {_I1}, {_F2}, {_F1}, {_F2}, boolean)")
def forward_log(log_emission, log_startprob, log_transmat, starts, lengths, log_alpha, log_scaling, scratch,
                shift):
    """Forward pass in log space: fills ``log_alpha`` (T, K); ``scratch`` is (2, K) or larger.

    With ``shift``, ``log_alpha[t] = log p(z_t | x_0..t)`` and ``log_scaling[t] = log p(x_t | x_0..t-1)``
    (T,), the shift of step ``t``; without, ``log_alpha[t] = log p(x_0..t, z_t)``, the textbook
    recursion (its values grow with ``t``; ``log_scaling`` is left alone). Returns the first row of
    probability zero, else -1.
    """
    K = log_startprob.shape[0]
    for s in range(starts.shape[0]):
        t0 = starts[s]
        for t in range(t0, t0 + lengths[s]):
            top = -math.inf
            for j in range(K):
                if t == t0:
                    value = log_startprob[j] + log_emission[t, j]
                else:  # log-sum-exp over i of log_alpha[t-1, i] + log A[i, j]
                    largest = -math.inf
                    for i in range(K):
                        term = log_alpha[t - 1, i] + log_transmat[i, j]
                        scratch[0, i] = term
                        largest = max(largest, term)
                    value = -math.inf
                    if largest > -math.inf:
                        total = 0.0
                        for i in range(K):
                            total += math.exp(scratch[0, i] - largest)
                        value = largest + math.log(total) + log_emission[t, j]
                scratch[1, j] = value
                top = max(top, value)
            if top == -math.inf:
                return t
            offset = 0.0
            if shift:
                total = 0.0
                for j in range(K):
                    total += math.exp(scratch[1, j] - top)
                offset = top + math.log(total)
                log_scaling[t] = offset
            for j in range(K):
                log_alpha[t, j] = scratch[1, j] - offset
    return -1


@forward_log.twin
def _forward_log_numpy(log_emission, log_startprob, log_transmat, starts, lengths, log_alpha, log_scaling, scratch,
                       shift):
    with np.errstate(all="ignore"):
        joint, _ = reference.forward_log(log_emission, np.exp(log_startprob), np.exp(log_transmat), lengths)
        log_evidence = reference._logsumexp(joint, axis=1)  # log p(x_0..t)
    impossible = np.isneginf(log_evidence)
    if not shift:
        log_alpha[:] = joint
    else:
        with np.errstate(all="ignore"):
            np.subtract(joint, log_evidence[:, None], out=log_alpha)
            log_scaling[:] = np.diff(log_evidence, prepend=0.0)
        log_scaling[starts] = log_evidence[starts]
    return int(np.argmax(impossible)) if impossible.any() else -1


@kernel(f"void({_F2}, {_F2}, {_I1}, {_I1}, {_F2}, {_F1}, {_F2}, boolean)")
def backward_log(log_emission, log_transmat, starts, lengths, log_beta, log_shift, scratch, shift):
    """Backward pass in log space: fills ``log_beta`` (T, K); ``scratch`` is (1, K) or larger.

    Without ``shift``, ``log_beta[t] = log p(x_t+1..n-1 | z_t)``, the textbook recursion. With it,
    each step is shifted by its maximum, kept in ``log_shift`` (T,): the unshifted values are
    ``log_beta[t]`` plus ``log_shift[t:]`` summed to the end of the sequence. (The last row of each
    sequence, zeros, is set around the compiled loop.)
    """
    K = log_transmat.shape[0]
    for s in range(starts.shape[0]):
        t0 = starts[s]
        for t in range(t0 + lengths[s] - 2, t0 - 1, -1):
            top = -math.inf
            for i in range(K):  # log-sum-exp over j of log A[i, j] + log b[t+1, j] + log_beta[t+1, j]
                largest = -math.inf
                for j in range(K):
                    term = log_transmat[i, j] + log_emission[t + 1, j] + log_beta[t + 1, j]
                    scratch[0, j] = term
                    largest = max(largest, term)
                value = -math.inf
                if largest > -math.inf:
                    total = 0.0
                    for j in range(K):
                        total += math.exp(scratch[0, j] - largest)
                    value = largest + math.log(total)
                log_beta[t, i] = value
                top = max(top, value)
            if not shift or top == -math.inf:
                top = 0.0  # (all -inf: no future is possible from any state, the row stays -inf)
            for i in range(K):
                log_beta[t, i] -= top
            log_shift[t] = top


@backward_log.around
def _backward_log_around(loop, log_emission, log_transmat, starts, lengths, log_beta, log_shift, scratch, shift):
    lasts = starts + lengths - 1
    log_beta[lasts] = 0.0
    log_shift[lasts] = 0.0
    loop(log_emission, log_transmat, starts, lengths, log_beta, log_shift, scratch, shift)


@backward_log.twin
def _backward_log_numpy(log_emission, log_transmat, starts, lengths, log_beta, log_shift, scratch, shift):
    with np.errstate(all="ignore"):
        unshifted = reference.backward_log(log_emission, np.exp(log_transmat), lengths)
    top = unshifted.max(axis=1)
    dead = np.isneginf(top)  # no future is possible from any state
    top[dead | (not shift)] = 0.0
    np.subtract(unshifted, top[:, None], out=log_beta)
    later = np.append(top[1:], 0.0)
    later[starts[1:] - 1] = 0.0  # the last step of each sequence
    np.subtract(top, later, out=log_shift)
    log_shift[dead] = 0.0


# -- Viterbi ----------------------------------------------------------------------------------------
def viterbi(log_emission, log_startprob, log_transmat, starts, lengths, path):
    """Most probable state path into ``path`` (T,). Returns ``(log_probability, bad_row)``."""
    K = log_startprob.shape[0]
    backpointer = np.empty((int(lengths.max()), K), dtype=np.int32)
    return viterbi_path(log_emission, log_startprob, log_transmat, starts, lengths, path, backpointer,
                        np.empty((2, K)))


@kernel(f"Tuple((float64, int64))({_F2}, {_F1}, {_F2}, {_I1}, {_I1}, int64[::1], int32[:, ::1], {_F2})")
def viterbi_path(log_emission, log_startprob, log_transmat, starts, lengths, path, backpointer, delta):
    """:func:`viterbi` with its work arrays: ``backpointer`` (longest sequence, K), and ``delta``
    (2, K), the best log-probabilities of each state at the steps of even and of odd number."""
    K = log_startprob.shape[0]
    total = 0.0
    for s in range(starts.shape[0]):
        t0 = starts[s]
        n = lengths[s]
        for t in range(n):
            now, before = t & 1, 1 - (t & 1)  # rows of delta
            top = -math.inf  # the best of this step, and its state
            state = 0
            for j in range(K):
                best = log_startprob[j]
                arg = 0
                if t > 0:
                    best = -math.inf
                    for i in range(K):
                        value = delta[before, i] + log_transmat[i, j]
                        if value > best:
                            best = value
                            arg = i
                value = best + log_emission[t0 + t, j]
                delta[now, j] = value
                backpointer[t, j] = arg
                if value > top:
                    top = value
                    state = j
            if top == -math.inf:
                return -math.inf, t0 + t
        total += top
        path[t0 + n - 1] = state
        for t in range(n - 1, 0, -1):
            state = backpointer[t, state]
            path[t0 + t - 1] = state
    return total, -1


@viterbi_path.twin
def _viterbi_numpy(log_emission, log_startprob, log_transmat, starts, lengths, path, backpointer, delta):
    startprob, transmat = np.exp(log_startprob), np.exp(log_transmat)
    with np.errstate(all="ignore"):
        best_path, log_probability = reference.viterbi(log_emission, startprob, transmat, lengths)
    if log_probability == -np.inf:  # the first row no path can reach
        joint, _ = reference.forward_log(log_emission, startprob, transmat, lengths)
        return -np.inf, int(np.argmax(np.all(np.isneginf(joint), axis=1)))
    path[:] = best_path
    return log_probability, -1


# -- sampling ---------------------------------------------------------------------------------------
@kernel(f"void({_F1}, {_F2}, {_F1}, int64[::1])", steps_from=2)
def sample_states(cumulative_startprob, cumulative_transmat, uniforms, states):
    """Draw a state path into ``states`` by inverting the cumulative probabilities with the given
    uniforms."""
    K = cumulative_startprob.shape[0]
    previous = -1
    for t in range(uniforms.shape[0]):
        u = uniforms[t]
        state = K - 1
        for k in range(K):
            threshold = cumulative_startprob[k] if previous < 0 else cumulative_transmat[previous, k]
            if u < threshold:
                state = k
                break
        states[t] = state
        previous = state


@sample_states.twin
def _sample_states_numpy(cumulative_startprob, cumulative_transmat, uniforms, states):
    states[:] = reference.sample_states(cumulative_startprob, cumulative_transmat, uniforms)
