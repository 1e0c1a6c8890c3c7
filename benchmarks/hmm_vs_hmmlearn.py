"""Speed of emlib's HMMs against hmmlearn, from the same starting parameters, in one process.

Cases (issue 4):
  (a) Gaussian HMM, diagonal covariances, K = 3 and K = 10, one sequence of T = 100,000 steps
      (D = 2 features), 10 Baum–Welch iterations;
  (b) 50 sequences of length 100, 1-D Gaussian, K = 2, 4, 10, 5 iterations;
  (c) forward–backward (posteriors) and Viterbi alone, K = 10, T = 100,000.

Both libraries start from identical parameters and run exactly the same number of iterations (checked:
their fitted means agree). hmmlearn has two implementations ("log", its default, and "scaling"); the
ratio is taken against the faster of the two, so it is the stricter comparison. Times are the best of a
few repeats (at least three, more for short cases, up to about a second each; the machine is shared).
numba compilation is excluded: every kernel is compiled (``_kernels.compile_all()``) and a warm-up
run comes first.

What a fresh environment pays is measured in fresh processes with an empty numba cache
(``NUMBA_CACHE_DIR`` a new empty folder), median of five: the time of a first small fit after the
import (GaussianHMM(3) on 500 x 2 points), and the time to compile every kernel (then run a small
fit). The second is split, in CPU seconds: numba's own start-up, which the first compilation in a
process pays whatever it compiles (its registries, and the import of scipy.linalg; timed on a
one-line function), then each kernel. That time is noisy on a shared machine; the number of
instructions it executes (``valgrind --tool=cachegrind``) is not, and is the better measure of a
change to the kernels.

The last part fits a K = 4 Gaussian HMM to T = 10,000,000 steps in a child process and prints its peak
resident memory (it must stay under 4 GiB: no T x K x K arrays).

Run: ``python benchmarks/hmm_vs_hmmlearn.py`` (add ``--quick`` to skip the 10-million-step run).
The last line is ``ratio <worst emlib/hmmlearn time ratio>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")  # ConvergenceWarning for fixed iteration counts, hmmlearn's chatter

from hmmlearn import hmm as hmmlearn_hmm

from emlib import GaussianHMM
from emlib.hmm import _kernels

REPEATS = 3  # at least this many runs per measurement ...
BUDGET = 1.0  # ... and more, up to 30, while they fit in this many seconds (short cases are noisy)


def best_time(function, repeats=REPEATS, budget=BUDGET) -> float:
    best, spent, runs = np.inf, 0.0, 0
    while runs < repeats or (spent < budget and runs < 30):
        start = time.perf_counter()
        function()
        elapsed = time.perf_counter() - start
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
    return best


def make_data(K, D, lengths, seed):
    """Observations from a sticky Gaussian HMM, and starting parameters both libraries share."""
    rng = np.random.default_rng(seed)
    transmat = np.full((K, K), 0.1 / (K - 1))
    np.fill_diagonal(transmat, 0.9)
    truth = GaussianHMM(K, covariance_type="diag").set_parameters(
        startprob=np.full(K, 1.0 / K), transmat=transmat,
        means=rng.normal(0.0, 3.0, (K, D)), covariances=rng.uniform(0.5, 1.5, (K, D)),
    )
    X = np.concatenate([truth.sample(n, random_state=rng)[0] for n in lengths])
    start = {
        "startprob": np.full(K, 1.0 / K),
        "transmat": rng.dirichlet(np.full(K, 5.0), size=K),
        "means": X[rng.choice(X.shape[0], K, replace=False)] + 0.1,
        "covariances": np.tile(X.var(axis=0), (K, 1)),
    }
    return X, start


def emlib_model(K, start, n_iter):
    return GaussianHMM(
        K, covariance_type="diag", startprob_init=start["startprob"], transmat_init=start["transmat"],
        means_init=start["means"], covariances_init=start["covariances"], reg_covar=0.0,
        max_iter=n_iter, tol=0.0,
    )


def hmmlearn_model(K, start, n_iter, implementation):
    model = hmmlearn_hmm.GaussianHMM(
        K, covariance_type="diag", n_iter=n_iter, tol=-np.inf, params="stmc", init_params="",
        covars_prior=0.0, min_covar=0.0, implementation=implementation,
    )
    model.startprob_ = start["startprob"].copy()
    model.transmat_ = start["transmat"].copy()
    model.means_ = start["means"].copy()
    model.covars_ = start["covariances"].copy()
    return model


def compare_fit(label, K, D, lengths, n_iter, seed):
    X, start = make_data(K, D, lengths, seed)
    lengths = np.asarray(lengths)
    emlib_model(K, start, 1).fit(X, lengths)  # warm-up (compilation excluded)
    ours = best_time(lambda: emlib_model(K, start, n_iter).fit(X, lengths))
    theirs = {}
    for implementation in ("log", "scaling"):
        theirs[implementation] = best_time(
            lambda impl=implementation: hmmlearn_model(K, start, n_iter, impl).fit(X, lengths)
        )
    # Same work: the fitted parameters agree.
    a = emlib_model(K, start, n_iter).fit(X, lengths)
    b = hmmlearn_model(K, start, n_iter, "scaling").fit(X, lengths)
    assert np.allclose(a.means_, b.means_, rtol=1e-6, atol=1e-8), "emlib and hmmlearn disagree"
    return report(label, ours, theirs)


def compare_inference(K, D, T, seed):
    X, start = make_data(K, D, [T], seed)
    ours_model = emlib_model(K, start, 0).fit(X)
    ours_model.predict_proba(X)
    ours_model.decode(X)
    ratios = []
    for name, ours_call, their_call in (
        ("forward-backward", lambda: ours_model.predict_proba(X), lambda m: m.predict_proba(X)),
        ("viterbi", lambda: ours_model.decode(X), lambda m: m.decode(X, algorithm="viterbi")),
    ):
        ours = best_time(ours_call)
        theirs = {}
        for implementation in ("log", "scaling"):
            model = hmmlearn_model(K, start, 0, implementation)
            model.n_features = D
            theirs[implementation] = best_time(lambda m=model, call=their_call: call(m))
        ratios.append(report(f"(c) {name}, K={K}, T={T:,}", ours, theirs))
    return ratios


def report(label, ours, theirs) -> float:
    reference = min(theirs.values())
    ratio = ours / reference
    print(
        f"{label:<44s} emlib {ours * 1e3:9.1f} ms   hmmlearn log {theirs['log'] * 1e3:9.1f} ms, "
        f"scaling {theirs['scaling'] * 1e3:9.1f} ms   ratio {ratio:.3f}",
        flush=True,
    )
    return ratio


FIRST_FIT_SCRIPT = textwrap.dedent("""
    import time, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from emlib import GaussianHMM
    rng = np.random.default_rng(0)
    transmat = np.full((3, 3), 0.05) + 0.85 * np.eye(3)
    states = [0]
    for _ in range(499):
        states.append(rng.choice(3, p=transmat[states[-1]]))
    means = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, 0.0]])
    X = means[states] + rng.normal(size=(500, 2))
    from emlib.hmm import _kernels
    start, cpu = time.perf_counter(), time.process_time()
    model = GaussianHMM(3, random_state=0).fit(X)
    compiled = sum(each._compiled is not None for each in _kernels.KERNELS)
    print(time.perf_counter() - start, time.process_time() - cpu, model.n_iter_, compiled)
""")

COMPILE_SCRIPT = textwrap.dedent("""
    import time, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from numba import njit
    from emlib import GaussianHMM
    from emlib.hmm import _kernels
    start, cpu = time.perf_counter(), time.process_time()
    njit("float64(float64)")(lambda x: x + 1.0)  # numba's start-up
    each = [time.process_time() - cpu]
    for kernel in _kernels.KERNELS:  # what _kernels.compile_all() does, one kernel at a time
        before = time.process_time()
        kernel.compiled()
        each.append(time.process_time() - before)
    # and a small fit, so that any numba code a fit runs besides the kernels is counted too
    GaussianHMM(2, max_iter=1, random_state=0).fit(np.random.default_rng(0).normal(size=(200, 1)))
    print(time.perf_counter() - start, time.process_time() - cpu, *each)
    print(*(kernel.__name__ for kernel in _kernels.KERNELS))
""")


def fresh_process_time(script: str, runs: int = 5) -> tuple[float, float, list[float], list[str]]:
    """Medians of the numbers on the first line ``script`` prints (elapsed and CPU seconds first),
    each run in a new process with an empty numba cache; also the words of the last run's second
    line. (On a busy machine the CPU time is the steadier of the two.)"""
    numbers = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            lines = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                   check=True).stdout.splitlines()
        numbers.append([float(word) for word in lines[0].split()])
        words = lines[1].split() if len(lines) > 1 else []
    elapsed, cpu, *rest = np.median(numbers, axis=0).tolist()
    return elapsed, cpu, rest, words


MEMORY_SCRIPT = textwrap.dedent("""
    import resource, time, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from emlib import GaussianHMM
    K, T = 4, 10_000_000
    transmat = np.full((K, K), 0.02); np.fill_diagonal(transmat, 0.94)
    truth = GaussianHMM(K).set_parameters(startprob=np.full(K, 0.25), transmat=transmat,
        means=[[-3.0], [-1.0], [1.0], [3.0]], covariances=np.full((K, 1, 1), 0.5))
    X, _ = truth.sample(T, random_state=0)
    start = time.perf_counter()
    model = GaussianHMM(K, covariance_type="diag", max_iter=5, tol=0, random_state=0).fit(X)
    elapsed = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{elapsed:.1f} {peak_gib:.2f} {np.sort(model.means_.ravel()).round(2).tolist()}")
""")


def memory_run() -> str:
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True,
                         check=True).stdout.split(maxsplit=2)
    return f"K=4 diag fit, T=10,000,000, 5 iterations: {out[0]} s, peak RSS {out[1]} GiB, means {out[2]}"


def main() -> None:
    quick = "--quick" in sys.argv
    _kernels.compile_all()  # compilation is excluded from the comparisons
    ratios = []
    for K in (3, 10):
        ratios.append(compare_fit(f"(a) diag, K={K}, T=100,000, D=2, 10 iter", K, 2, [100_000], 10, seed=K))
    for K in (2, 4, 10):
        ratios.append(compare_fit(f"(b) 50 x 100, 1-D, K={K}, 5 iter", K, 1, [100] * 50, 5, seed=20 + K))
    ratios.extend(compare_inference(10, 2, 100_000, seed=30))
    first_fit, cpu, (iterations, compiled), _ = fresh_process_time(FIRST_FIT_SCRIPT)
    print(f"fresh environment: first GaussianHMM(3) fit on 500 x 2 points ({iterations:.0f} iterations) "
          f"{first_fit:.2f} s after the import (CPU {cpu:.2f} s; kernels it compiled: {compiled:.0f})")
    compiled, cpu, (startup, *each), names = fresh_process_time(COMPILE_SCRIPT)
    print(f"fresh environment: compiling every kernel {compiled:.2f} s (CPU {cpu:.2f} s; excluded above)")
    print(textwrap.fill(
        f"  of which (CPU s) numba's start-up {startup:.2f}, " + ", ".join(f"{n}={t:.2f}" for n, t in zip(names, each)),
        width=100, subsequent_indent="    "))
    if not quick:
        print(memory_run())
    print(f"ratio {max(ratios):.3f}")


if __name__ == "__main__":
    main()
