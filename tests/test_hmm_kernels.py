"""The compiled HMM kernels against their NumPy twins, and when each of the two runs.

A kernel's twin computes the same outputs and status from emlib.hmm.reference; a kernel that is not
compiled yet runs its twin for small calls (a fresh environment then fits a small model without
waiting for numba). Here each kernel meets its twin on the same arguments, including the failures
(impossible observations, numbers out of range), the budget of twin steps is checked, and a small
first fit in a fresh process is shown to compile nothing.
"""

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

from emlib import GaussianHMM
from emlib.hmm import _inference, _kernels
from emlib.hmm import reference as ref


def random_problem(rng, K, lengths, zeros=False):
    """Log-emissions (T, K), startprob, transmat, starts and lengths (int64)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    T = int(lengths.sum())
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K), size=K)
    log_emission = rng.normal(-3.0, 2.0, size=(T, K))
    if zeros and K > 1:
        startprob[0] = 0.0
        transmat[np.arange(K), (np.arange(K) + 1) % K] = 0.0
        log_emission[rng.random((T, K)) < 0.2] = -np.inf
        startprob /= startprob.sum()
        transmat /= transmat.sum(axis=1, keepdims=True)
    return log_emission, startprob, transmat, _inference.sequence_starts(lengths), lengths


def past_and_future_disagree(n):
    """Left to right, started in state 0; the data move to state 2 at e^-740 odds: scaling fails."""
    log_emission = np.concatenate([np.tile([0.0, -740.0, -740.0], (n, 1)), np.tile([-740.0, -740.0, 0.0], (n, 1))])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    starts, lengths = np.array([0], dtype=np.int64), np.array([2 * n], dtype=np.int64)
    return log_emission, np.array([1.0, 0.0, 0.0]), transmat, starts, lengths


def both(kernel, arguments):
    """Call the compiled kernel (with its NumPy set-up and finish) and its twin, each on its own
    copy of the arguments.

    Returns ``[(result, arguments), (twin's result, twin's arguments)]``; outputs are arguments.
    """
    results = []
    for run in (kernel.run_compiled, kernel.numpy_twin):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in arguments]
        results.append((run(*copies), copies))
    return results


def log(p):
    with np.errstate(divide="ignore"):
        return np.log(p)


def problems():
    rng = np.random.default_rng(20)
    for zeros in (False, True):
        for K, lengths in ((1, [5]), (3, [1, 7, 30, 2]), (4, [60])):
            for _ in range(3):
                yield random_problem(rng, K, lengths, zeros)
    yield past_and_future_disagree(10)
    impossible = random_problem(rng, 3, [4, 6])
    impossible[0][7] = -np.inf  # step 3 of the second sequence
    yield impossible


def not_numbers():
    """A NaN or +inf among the log-emissions: out of range for the scaled kernel (its maxima and
    exponentials are NaN there), not an impossible step."""
    rng = np.random.default_rng(21)
    for bad in (np.nan, np.inf):
        broken = random_problem(rng, 3, [4, 6])
        broken[0][6, 1] = bad
        yield broken


@pytest.mark.parametrize("smooth", [True, False])
def test_scaled_kernel_equals_its_twin(smooth):
    for log_emission, startprob, transmat, starts, lengths in (*problems(), *not_numbers()):
        T, K = log_emission.shape

        arguments = [log_emission, startprob, transmat, starts, lengths, np.empty((T, K)), np.empty(T),
                     np.empty((K, K)), np.empty(K), np.empty((K + 3, K)), smooth]
        ((loglik, status), compiled), ((twin_loglik, twin_status), twin) = both(
            _kernels.forward_backward_scaled, arguments)
        assert status == twin_status
        if status != -1:
            continue
        assert loglik == pytest.approx(twin_loglik, rel=1e-12)
        np.testing.assert_allclose(compiled[5], twin[5], rtol=1e-10, atol=1e-14)  # alpha or posteriors
        np.testing.assert_allclose(compiled[6], twin[6], rtol=1e-12)  # log_scaling
        if smooth:
            np.testing.assert_allclose(compiled[7], twin[7], rtol=1e-10, atol=1e-14)  # pairwise
            np.testing.assert_allclose(compiled[8], twin[8], rtol=1e-10, atol=1e-14)  # start counts


@pytest.mark.parametrize("shape", [(1, 1), (7, 2), (2 * _kernels._ROW_MAXIMA_BLOCK + 3, 5), (5000, 17)])
def test_row_maxima_by_blocks_of_columns_are_numpys(shape):
    """The scaled E-step's shifts (the largest log-emission of each step), found a column at a
    time over blocks of rows, including rows of -inf (impossible steps) and NaN."""
    values = np.random.default_rng(shape[0]).normal(size=shape)
    values[::3, 0] = -np.inf
    values[1::4] = -np.inf
    values[2::50, -1] = np.nan
    np.testing.assert_array_equal(_kernels._row_maxima(values), values.max(axis=1))


def test_scaled_twin_runs_one_forward_pass(monkeypatch):
    """The twin's E-step smooths the forward pass it has checked (reference.smooth_scaled) rather
    than running forward_backward_scaled, which would redo it: the forward pass is most of the
    twin's time."""
    calls = []
    forward = ref.forward_scaled
    monkeypatch.setattr(ref, "forward_scaled", lambda *args: calls.append(1) or forward(*args))
    log_emission, startprob, transmat, starts, lengths = random_problem(np.random.default_rng(3), 3, [5, 9])
    T, K = log_emission.shape
    arguments = [log_emission, startprob, transmat, starts, lengths, np.empty((T, K)), np.empty(T),
                 np.empty((K, K)), np.empty(K), np.empty((K + 3, K)), True]
    with _kernels.use("numpy"):
        loglik, status = _kernels.forward_backward_scaled(*arguments)
    assert status == -1 and len(calls) == 1
    posteriors, pairwise, expected = ref.forward_backward_scaled(log_emission, startprob, transmat, lengths)
    assert loglik == expected
    np.testing.assert_allclose(arguments[5], posteriors, rtol=1e-12)
    np.testing.assert_array_equal(arguments[7], pairwise)


def test_scaled_kernel_sums_blocks_that_span_sequences_like_its_twin():
    """The compiled E-step sums the pairwise posteriors in blocks of ``_BLOCK`` steps, each added
    to the total when full, the last one after the loop: blocks that span sequences (one of them
    a single step) and the partial last block give the twin's sums."""
    rng = np.random.default_rng(22)
    log_emission, startprob, transmat, starts, lengths = random_problem(rng, 3, [700, 1, 900, 1500])
    T, K = log_emission.shape
    assert T - len(lengths) > 3 * _kernels._BLOCK
    arguments = [log_emission, startprob, transmat, starts, lengths, np.empty((T, K)), np.empty(T),
                 np.empty((K, K)), np.empty(K), np.empty((K + 3, K)), True]
    ((loglik, status), compiled), ((twin_loglik, twin_status), twin) = both(
        _kernels.forward_backward_scaled, arguments)
    assert status == twin_status == -1
    assert loglik == pytest.approx(twin_loglik, rel=1e-12)
    np.testing.assert_allclose(compiled[7], twin[7], rtol=1e-10)  # pairwise
    np.testing.assert_allclose(compiled[8], twin[8], rtol=1e-10)  # start counts
    assert compiled[7].sum() == pytest.approx(T - len(lengths), rel=1e-12)  # one per transition


@pytest.mark.parametrize("shift", [True, False])
def test_log_space_kernels_equal_their_twins(shift):
    for log_emission, startprob, transmat, starts, lengths in problems():
        T, K = log_emission.shape
        (status, compiled), (twin_status, twin) = both(_kernels.forward_log, [
            log_emission, log(startprob), log(transmat), starts, lengths, np.empty((T, K)), np.zeros(T),
            np.empty((2, K)), shift])
        assert status == twin_status
        if status == -1:
            np.testing.assert_allclose(compiled[5], twin[5], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(compiled[6], twin[6], rtol=1e-12, atol=1e-12)  # twin: differences
        (_, compiled), (_, twin) = both(_kernels.backward_log, [
            log_emission, log(transmat), starts, lengths, np.empty((T, K)), np.empty(T), np.empty((1, K)), shift])
        np.testing.assert_allclose(compiled[4], twin[4], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(compiled[5], twin[5], rtol=1e-12, atol=1e-12)


def test_backward_viterbi_and_sampling_kernels_equal_their_twins():
    rng = np.random.default_rng(21)
    for log_emission, startprob, transmat, starts, lengths in problems():
        T, K = log_emission.shape
        (result, compiled), (twin_result, twin) = both(_kernels.viterbi_path, [
            log_emission, log(startprob), log(transmat), starts, lengths, np.empty(T, dtype=np.int64),
            np.empty((int(lengths.max()), K), dtype=np.int32), np.empty((2, K))])
        assert result[1] == twin_result[1]
        if result[1] == -1:
            assert result[0] == pytest.approx(twin_result[0], rel=1e-12)
            np.testing.assert_array_equal(compiled[5], twin[5])
            _, log_scaling = ref.forward_scaled(log_emission, startprob, transmat, lengths)
            (_, compiled), (_, twin) = both(_kernels.backward_scaled, [
                log_emission, transmat, starts, lengths, log_scaling, np.empty((T, K)), np.empty(K)])
            np.testing.assert_allclose(compiled[5], twin[5], rtol=1e-12)
        cumulative_start = np.cumsum(startprob)
        cumulative_transmat = np.cumsum(transmat, axis=1)
        uniforms = rng.random(50)
        (_, compiled), (_, twin) = both(_kernels.sample_states, [
            cumulative_start, cumulative_transmat, uniforms, np.empty(50, dtype=np.int64)])
        np.testing.assert_array_equal(compiled[3], twin[3])


def _add_one(values):
    for t in range(values.shape[0]):
        values[t] += 1.0


def test_a_kernel_runs_its_twin_until_the_twin_has_run_numpy_steps(monkeypatch, tmp_path):
    monkeypatch.setattr(_kernels, "NUMPY_STEPS", 10)
    monkeypatch.setattr(_kernels, "_compiler_running", lambda: False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    kernel = _kernels.Kernel(_add_one, "void(float64[::1])")
    _kernels.KERNELS.remove(kernel)
    twin_calls = []

    @kernel.twin
    def _add_one_numpy(values):
        twin_calls.append(values.shape[0])
        values += 1.0

    values = np.zeros(4)
    kernel(values)
    kernel(values)
    assert twin_calls == [4, 4] and kernel._compiled is None
    kernel(values)  # 4 more steps would make 12 > 10: compiled now, and from now on
    kernel(np.zeros(1))
    assert twin_calls == [4, 4] and kernel._compiled is not None
    np.testing.assert_array_equal(values, 3.0)
    with _kernels.use("numpy"):
        kernel(values)
    assert twin_calls == [4, 4, 4]
    with pytest.raises(ValueError, match="mode must be one of"), _kernels.use("fast"):
        pass


def test_a_kernel_in_numbas_cache_skips_its_twin_once_the_compiler_runs(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))

    def fresh_kernel():
        kernel = _kernels.Kernel(_add_one, "void(float64[::1])")
        _kernels.KERNELS.remove(kernel)
        kernel.twin(lambda values: twin_calls.append(values.shape[0]))
        return kernel

    twin_calls = []
    monkeypatch.setattr(_kernels, "_compiler_running", lambda: True)
    fresh_kernel()(np.zeros(3))  # not in the cache: the twin
    assert twin_calls == [3]
    fresh_kernel().compiled()  # compiled, and saved in the cache
    assert any(tmp_path.rglob("*.nbi"))
    loaded = fresh_kernel()
    values = np.zeros(2)
    loaded(values)  # in the cache, and the compiler runs: loaded, no twin
    assert twin_calls == [3] and loaded._compiled is not None
    np.testing.assert_array_equal(values, 1.0)
    monkeypatch.setattr(_kernels, "_compiler_running", lambda: False)
    waiting = fresh_kernel()
    waiting(np.zeros(4))  # in the cache, but starting numba's compiler costs more than the twin
    assert twin_calls == [3, 4] and waiting._compiled is None


def test_a_fit_gives_the_same_model_with_either_tier():
    rng = np.random.default_rng(22)
    X = np.concatenate([rng.normal(m, 1.0, (100, 2)) for m in (-3.0, 0.0, 3.0)])
    lengths = [150, 150]
    results = []
    for mode in ("numpy", "compiled"):
        with _kernels.use(mode):
            model = GaussianHMM(3, random_state=0).fit(X, lengths)
            results.append((model, model.predict_proba(X, lengths), model.score(X, lengths), model.decode(X, lengths),
                            model.filter_proba(X, lengths), model.sample(30, random_state=1)))
    (a, *outputs_a), (b, *outputs_b) = results
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    np.testing.assert_allclose(a.transmat_, b.transmat_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(outputs_a[0], outputs_b[0], atol=1e-10)
    assert outputs_a[1] == pytest.approx(outputs_b[1], rel=1e-12)
    assert outputs_a[2][0] == pytest.approx(outputs_b[2][0], rel=1e-12)
    np.testing.assert_array_equal(outputs_a[2][1], outputs_b[2][1])
    np.testing.assert_allclose(outputs_a[3], outputs_b[3], atol=1e-12)
    np.testing.assert_array_equal(outputs_a[4][1], outputs_b[4][1])


FIRST_FIT = """
import json
import numpy as np
from emlib import GaussianHMM
from emlib.hmm import _kernels
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(m, 1.0, (167, 2)) for m in (-3.0, 0.0, 3.0)])[:500]
model = GaussianHMM(3, random_state=0).fit(X)
model.predict_proba(X); model.score(X); model.decode(X); model.sample(20, random_state=0)
print(json.dumps([kernel.__name__ for kernel in _kernels.KERNELS if kernel._compiled is not None]))
"""


def test_a_small_first_fit_in_a_fresh_process_compiles_no_recursion(tmp_path):
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    output = subprocess.run([sys.executable, "-c", FIRST_FIT], env=environment, capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(output) == []


def test_compile_all_compiles_every_kernel():
    _kernels.compile_all()
    assert all(kernel._compiled is not None for kernel in _kernels.KERNELS)
    assert {kernel.__name__ for kernel in _kernels.KERNELS} == {
        "forward_backward_scaled", "backward_scaled", "forward_log", "backward_log", "viterbi_path", "sample_states",
    }
