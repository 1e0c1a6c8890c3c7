"""Sufficient statistics are the M-step contract: additive over rows, and fit = fit_statistics(statistics).

Also the contracts in code (emlib.protocols) and the promise that follows from exact M-steps: no
emlib estimator ever reports a decrease of the objective it climbs.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlib import (
    BernoulliMixture,
    CategoricalHMM,
    FactorAnalysis,
    GaussianHMM,
    GaussianMixture,
    PoissonHMM,
    PoissonMixture,
)
from emlib.distributions import (
    COVARIANCE_TYPES,
    Bernoulli,
    Categorical,
    Gaussian,
    Poisson,
    WeightedMoments,
    WeightedSums,
    covariance_shape,
)
from emlib.exceptions import ConvergenceWarning, LikelihoodDecreaseWarning
from emlib.hmm import HMMStatistics
from emlib.protocols import Distribution, EMModel, SufficientStatistics


def family(name, rng, K=3, D=4, covariance_type="full"):
    """A distribution of each family with random parameters, and data it can score."""
    if name == "gaussian":
        means = rng.normal(size=(K, D)) * 3 + 10.0  # off the origin: centres matter
        A = rng.normal(size=(K, D, D))
        full = A @ np.swapaxes(A, 1, 2) + np.eye(D)
        covariances = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
                       "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1)}[covariance_type]
        assert covariances.shape == covariance_shape(covariance_type, K, D)
        return Gaussian(means, covariances, covariance_type), rng.normal(size=(50, D)) * 2 + 10.0
    if name == "bernoulli":
        return Bernoulli(rng.uniform(0.1, 0.9, (K, D))), (rng.random((50, D)) < 0.5).astype(float)
    if name == "poisson":
        return Poisson(rng.uniform(0.5, 8.0, (K, D))), rng.poisson(3.0, (50, D)).astype(float)
    return Categorical(rng.dirichlet(np.ones(D), size=K)), rng.integers(0, D, 50)


FAMILIES = [("gaussian", ctype) for ctype in COVARIANCE_TYPES] + [("bernoulli", None), ("poisson", None),
                                                                  ("categorical", None)]


def same_parameters(a, b, rtol=1e-10):
    for name in a.parameter_names:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize(("name", "covariance_type"), FAMILIES)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), split=st.integers(1, 49))
def test_statistics_add_up_over_rows(name, covariance_type, seed, split):
    """Statistics of two halves added (and rescaled) are those of the whole: what a stream or a
    cluster sums."""
    rng = np.random.default_rng(seed)
    dist, X = family(name, rng, covariance_type=covariance_type or "full")
    weights = rng.dirichlet(np.ones(3), size=len(X)) * rng.uniform(0.1, 3.0, (len(X), 1))
    whole = dist.statistics(X, weights)
    first, second = dist.statistics(X[:split], weights[:split]), dist.statistics(X[split:], weights[split:])
    assert isinstance(whole, SufficientStatistics)
    by_parts, by_whole = type(dist)(*_copy_args(dist)), type(dist)(*_copy_args(dist))
    by_parts.fit_statistics(first + second)
    by_whole.fit_statistics(whole)
    same_parameters(by_parts, by_whole, rtol=1e-9)
    # Scaling every statistic leaves the maximiser unchanged (running averages rely on it).
    scaled = type(dist)(*_copy_args(dist)).fit_statistics(0.25 * whole)
    same_parameters(scaled, by_whole, rtol=1e-9)
    np.testing.assert_allclose((first + second).totals, whole.totals, rtol=1e-12)


def _copy_args(dist):
    if isinstance(dist, Gaussian):
        return dist.means.copy(), dist.covariances.copy(), dist.covariance_type, dist.reg_covar
    if isinstance(dist, Bernoulli):
        return (dist.probabilities.copy(),)
    if isinstance(dist, Poisson):
        return (dist.rates.copy(),)
    return (dist.probabilities.copy(),)


@pytest.mark.parametrize(("name", "covariance_type"), FAMILIES)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fit_is_fit_statistics_of_statistics(name, covariance_type, seed):
    rng = np.random.default_rng(seed)
    dist, X = family(name, rng, covariance_type=covariance_type or "full")
    weights = rng.uniform(0.0, 2.0, (len(X), 3))
    direct = type(dist)(*_copy_args(dist)).fit(X, weights)
    by_statistics = type(dist)(*_copy_args(dist)).fit_statistics(dist.statistics(X, weights))
    same_parameters(direct, by_statistics, rtol=1e-12)


def test_the_weighted_maximum_likelihood_of_a_gaussian_from_its_statistics():
    """Against the formulas: weighted mean and weighted covariance about it, plus reg_covar."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3)) + 1e4  # far from the origin: cancellation would show
    w = rng.uniform(size=(200, 2))
    g = Gaussian(np.full((2, 3), 1e4), np.stack([np.eye(3)] * 2), reg_covar=1e-3).fit(X, w)
    for k in range(2):
        mean = w[:, k] @ X / w[:, k].sum()
        cov = ((X - mean) * w[:, [k]]).T @ (X - mean) / w[:, k].sum() + 1e-3 * np.eye(3)
        np.testing.assert_allclose(g.means[k], mean, rtol=1e-14)
        np.testing.assert_allclose(g.covariances[k], cov, rtol=1e-10)


def test_moments_about_different_centres_add_exactly():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 2)) * 1e-3 + 5e3
    w = np.ones((100, 1))
    g = Gaussian([[5e3, 5e3]], [np.eye(2) * 1e-6])
    a, b = g.statistics(X[:30], w[:30]), g.statistics(X[30:], w[30:])
    assert not np.array_equal(a.centres, b.centres)  # each half about its own mean
    total = a + b
    exact = (X - X.mean(axis=0)).T @ (X - X.mean(axis=0))
    np.testing.assert_allclose(total.scatter()[0], exact, rtol=0, atol=1e-9 * np.abs(exact).max())
    with pytest.raises(ValueError, match="different shapes"):
        _ = a + WeightedMoments(np.ones(2), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="scaled by a finite number >= 0"):
        _ = a * -1.0
    assert WeightedSums(np.ones(1), np.ones((1, 2))).__add__(a) is NotImplemented


def test_hmm_statistics_add_up_over_sequences():
    """An HMM's expected statistics of a set of sequences are the sums over the sequences."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(0, 1, (80, 1)), rng.normal(4, 1, (70, 1))])
    lengths = [80, 70]
    model = GaussianHMM(2, random_state=0, max_iter=3, tol=0).fit(X, lengths)
    from emlib.hmm._base import HMMEM, SequenceData, _HMMStart
    from emlib.hmm._inference import sequence_starts

    settings_ = model._check_parameters()

    def statistics(rows, lens):
        em_model = HMMEM(settings_, _HMMStart(model.startprob_, model.transmat_, None))
        em_model.startprob, em_model.transmat, em_model.emission = model.startprob_, model.transmat_, model.emission_
        em_model.set_structure(model.startprob_ > 0, model.transmat_ > 0)
        lens = np.asarray(lens)
        data = SequenceData(X[rows], lens, sequence_starts(lens), None, None, False)
        return em_model.e_step(data)

    whole, loglik = statistics(slice(None), lengths)
    first, loglik_1 = statistics(slice(0, 80), [80])
    second, loglik_2 = statistics(slice(80, None), [70])
    assert isinstance(whole, HMMStatistics)
    summed = first + second
    np.testing.assert_allclose(summed.start_counts, whole.start_counts, rtol=1e-12)
    np.testing.assert_allclose(summed.transition_counts, whole.transition_counts, rtol=1e-12)
    assert loglik_1 + loglik_2 == pytest.approx(loglik, rel=1e-12)
    one = type(model.emission_)(model.means_.copy(), model.covariances_.copy()).fit_statistics(summed.emission)
    other = type(model.emission_)(model.means_.copy(), model.covariances_.copy()).fit_statistics(whole.emission)
    same_parameters(one, other, rtol=1e-10)


# -- contracts in code ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "covariance_type"), FAMILIES)
def test_every_family_is_a_distribution(name, covariance_type):
    dist, _ = family(name, np.random.default_rng(0), covariance_type=covariance_type or "full")
    assert isinstance(dist, Distribution)


def test_the_models_em_fit_drives_are_em_models():
    from emlib.factor_analysis import _FactorEM
    from emlib.hmm import HMMEM
    from emlib.mixture import MixtureEM

    for model in (MixtureEM(None), HMMEM(None, None), _FactorEM(None)):
        assert isinstance(model, EMModel)


# -- log_prob into a given array; E-steps that reuse their arrays --------------------------------
@pytest.mark.parametrize(("name", "covariance_type"), FAMILIES)
def test_log_prob_writes_into_out(name, covariance_type):
    dist, X = family(name, np.random.default_rng(1), covariance_type=covariance_type or "full")
    expected = dist.log_prob(X)
    out = np.full((len(X), dist.n_components), np.nan)
    assert dist.log_prob(X, out=out) is out
    np.testing.assert_array_equal(out, expected)  # the same arithmetic, bit for bit


@pytest.mark.parametrize(("name", "covariance_type"), [("gaussian", "diag"), ("poisson", None),
                                                       ("bernoulli", None), ("categorical", None)])
@pytest.mark.parametrize(("out", "error", "match"), [
    (np.empty((50, 3), dtype=np.float32), TypeError, "out must be a float64 numpy array"),
    ([[0.0] * 3] * 50, TypeError, "got list"),
    (np.empty((50, 4)), ValueError, r"out must have shape \(50, 3\), got \(50, 4\)"),
    (np.empty((3, 50)).T, ValueError, "writable C-contiguous"),
])
def test_log_prob_refuses_a_bad_out(name, covariance_type, out, error, match):
    dist, X = family(name, np.random.default_rng(1), covariance_type=covariance_type or "full")
    with pytest.raises(error, match=match):
        dist.log_prob(X, out=out)


def _spy_on_log_prob(monkeypatch, cls):
    """Record the ``out`` argument of every ``cls.log_prob`` call."""
    seen = []
    original = cls.log_prob

    def spy(self, X, out=None):
        seen.append(out)
        return original(self, X, out=out)

    monkeypatch.setattr(cls, "log_prob", spy)
    return seen


@pytest.mark.parametrize("weighted", [False, True])
def test_mixture_e_steps_reuse_one_set_of_arrays(monkeypatch, weighted):
    """Every E-step of a fit scores into the same (N, K) array and puts the responsibilities in the
    same (K, N) one: arrays of megabytes allocated afresh each iteration cost page faults."""
    from emlib.mixture import MixtureData, MixtureEM, mixture_statistics

    rng = np.random.default_rng(0)
    X = _mixture_data(rng)
    sample_weight = rng.uniform(0.5, 2.0, len(X)) if weighted else np.ones(len(X))
    components = Gaussian(np.array([[-2.0] * 3, [2.0] * 3]), np.ones((2, 3)), "diag")
    model = MixtureEM(lambda X, w, rng: (components, np.array([0.5, 0.5])))
    data = MixtureData(X, sample_weight, not weighted)
    model.initialize(data, rng)
    seen = _spy_on_log_prob(monkeypatch, Gaussian)
    first, _ = model.e_step(data)
    kept = model._workspace.array("responsibilities", (2, len(X)))
    model.m_step(data, first)
    second, loglik = model.e_step(data)
    assert len(seen) == 2 and seen[0] is not None and seen[0] is seen[1]
    assert model._workspace.array("responsibilities", (2, len(X))) is kept
    # and the statistics are those of the E-step without a workspace, bit for bit
    expected, expected_loglik = mixture_statistics(data, model.components, model.weights)
    np.testing.assert_array_equal(second.totals, expected.totals)
    np.testing.assert_array_equal(second.first, expected.first)
    assert loglik == expected_loglik


def test_hmm_e_steps_score_into_their_buffers(monkeypatch):
    seen = _spy_on_log_prob(monkeypatch, Poisson)
    counts = np.random.default_rng(0).poisson(4.0, (200, 1))
    PoissonHMM(2, random_state=0, max_iter=3, tol=0).fit(counts)
    fit_calls = [out for out in seen if out is not None and out.shape == (200, 2)]
    assert len(fit_calls) >= 4 and all(out is fit_calls[0] for out in fit_calls)


# -- EM climbs: no estimator ever reports a decrease ----------------------------------------------------
def _mixture_data(rng, n=300):
    return np.concatenate([rng.normal(-2, 1, (n // 2, 3)), rng.normal(2, 0.5, (n - n // 2, 3))])


def _cases():
    rng = np.random.default_rng(0)
    X = _mixture_data(rng)
    Xm = X.copy()
    Xm[rng.random(X.shape) < 0.2] = np.nan
    counts = rng.poisson(np.where(np.arange(300)[:, None] < 150, 2.0, 9.0), (300, 2))
    binary = (rng.random((300, 5)) < np.where(np.arange(300)[:, None] < 150, 0.8, 0.2)).astype(int)
    symbols = rng.integers(0, 4, 300)
    weights = rng.uniform(0.2, 2.0, 300)
    cases = []
    for ctype in COVARIANCE_TYPES:
        for reg in (0.0, 1e-6, 0.5):
            cases.append((f"gmm-{ctype}-reg{reg}", GaussianMixture(3, covariance_type=ctype, reg_covar=reg), X, {}))
            cases.append((f"gmm-missing-{ctype}-reg{reg}",
                          GaussianMixture(2, covariance_type=ctype, reg_covar=reg, missing="em"), Xm, {}))
            cases.append((f"hmm-{ctype}-reg{reg}", GaussianHMM(3, covariance_type=ctype, reg_covar=reg), X, {}))
        cases.append((f"gmm-{ctype}-weights", GaussianMixture(2, covariance_type=ctype), X,
                      {"sample_weight": weights}))
    cases += [
        ("bernoulli", BernoulliMixture(3), binary, {}),
        ("bernoulli-weights", BernoulliMixture(2), binary, {"sample_weight": weights}),
        ("poisson", PoissonMixture(3), counts, {}),
        ("poisson-hmm", PoissonHMM(3), counts, {}),
        ("poisson-hmm-priors", PoissonHMM(2, startprob_prior=1.0, transmat_prior=2.0), counts, {}),
        ("categorical-hmm", CategoricalHMM(3), symbols, {}),
        ("categorical-hmm-prior", CategoricalHMM(3, emissionprob_prior=1.0, transmat_prior=0.5), symbols, {}),
        ("gaussian-hmm-fixed", GaussianHMM(2, fixed=("means",), transmat_prior=1.0), X, {}),
        ("gaussian-hmm-semi", GaussianHMM(2), X, {"states": np.where(np.arange(300) % 10 == 0,
                                                                       (np.arange(300) >= 150).astype(int), -1)}),
        ("factor-analysis", FactorAnalysis(2), np.column_stack([X, X @ rng.normal(size=(3, 3))
                                                                 + rng.normal(size=(300, 3))]), {}),
        ("factor-analysis-random", FactorAnalysis(1, init="random"), np.column_stack([X, X[:, :1] * 2]), {}),
    ]
    return cases


@pytest.mark.parametrize("accelerate", [None, "squarem"])
@pytest.mark.parametrize(("label", "estimator", "X", "fit_kwargs"), _cases(), ids=[c[0] for c in _cases()])
def test_no_emlib_estimator_reports_a_decrease(label, estimator, X, fit_kwargs, accelerate):
    """Plain or accelerated (whose extrapolated points are kept only when they do not lower it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for seed in range(3):
            estimator.set_params(random_state=seed, max_iter=60, tol=0, accelerate=accelerate)
            estimator.fit(X, **fit_kwargs)
            history = estimator.loglik_history_
            assert np.all(np.diff(history) >= -1e-9 * np.maximum(1.0, np.abs(history[1:]))), label
    decreases = [w for w in caught if issubclass(w.category, (LikelihoodDecreaseWarning, RuntimeWarning))
                 and not issubclass(w.category, ConvergenceWarning)]
    assert not decreases, [str(w.message) for w in decreases]


def test_pooled_moments_add_shift_and_scale_like_the_per_component_ones():
    """A tied covariance's statistics pool the second moments over the components: (D, D)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(120, 3)) * [1.0, 3.0, 0.2] + [5.0, -2.0, 100.0]
    w = rng.dirichlet(np.ones(4), size=120) * rng.uniform(0.5, 2.0, (120, 1))
    full = Gaussian(rng.normal(size=(4, 3)), np.stack([np.eye(3)] * 4), "full")
    tied = Gaussian(full.means, np.eye(3), "tied")
    per_component, pooled = full.statistics(X, w), tied.statistics(X, w)
    assert pooled.pooled and not pooled.diagonal_only and pooled.second.shape == (3, 3)
    np.testing.assert_allclose(pooled.scatter(), per_component.scatter().sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(pooled.means, per_component.means, rtol=1e-12)
    np.testing.assert_allclose(per_component.pool().second, per_component.second.sum(axis=0))
    # About other centres: the sum of the per-component shifts.
    centres = rng.normal(size=(4, 3))
    np.testing.assert_allclose(pooled.about(centres).second, per_component.about(centres).second.sum(axis=0),
                               rtol=1e-10)
    # Halves about different centres add up; full moments pool when added to pooled ones.
    a, b = tied.statistics(X[:50], w[:50]), full.statistics(X[50:], w[50:])
    for total in (a + b, b + a, a + b.pool()):
        assert total.pooled
        np.testing.assert_allclose(total.scatter(), pooled.scatter(), rtol=1e-10)
    np.testing.assert_allclose((0.5 * pooled).second, 0.5 * pooled.second)
    assert (0.5 * pooled).pooled
    # What cannot be done with them: per-component covariances, and pooling diagonal moments.
    with pytest.raises(ValueError, match="pooled over the components"):
        full.fit_statistics(pooled)
    diagonal = Gaussian(full.means, np.ones((4, 3)), "diag").statistics(X, w)
    with pytest.raises(ValueError, match="diagonal-only moments cannot be pooled"):
        _ = pooled + diagonal
    with pytest.raises(ValueError, match="different shapes"):
        _ = pooled + Gaussian(full.means[:2], np.eye(3), "tied").statistics(X, w[:, :2])
    # Tied covariances still take per-component moments (EM with missing entries hands them over).
    from_full = Gaussian(full.means, np.eye(3), "tied").fit_statistics(per_component)
    from_pooled = Gaussian(full.means, np.eye(3), "tied").fit_statistics(pooled)
    np.testing.assert_allclose(from_full.covariances, from_pooled.covariances, rtol=1e-10)
    np.testing.assert_allclose(from_full.means, from_pooled.means, rtol=1e-12)


@pytest.mark.parametrize("kernels", ["numpy", "compiled"])
def test_traced_moments_add_shift_and_scale_like_the_diagonal_ones(kernels, monkeypatch):
    """A spherical covariance's statistics keep only the trace of each second moment: (K,)."""
    from emlib.distributions import _gaussian_kernels, gaussian

    chosen = _gaussian_kernels if kernels == "compiled" else None
    monkeypatch.setattr(gaussian, "_compiled_kernels", lambda *args, **kwargs: chosen)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(121, 3)) * [1.0, 3.0, 0.2] + [5.0, -2.0, 100.0]
    w = rng.dirichlet(np.ones(4), size=121) * rng.uniform(0.5, 2.0, (121, 1))
    means = rng.normal(size=(4, 3)) + [5.0, -2.0, 100.0]
    diag = Gaussian(means, np.ones((4, 3)), "diag")
    full = Gaussian(means, np.stack([np.eye(3)] * 4), "full")
    spherical = Gaussian(means, np.ones(4), "spherical")
    diagonal, traced = diag.statistics(X, w), spherical.statistics(X, w)
    assert traced.traced and not traced.diagonal_only and not traced.pooled and traced.second.shape == (4,)
    np.testing.assert_allclose(traced.scatter(), diagonal.scatter().sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(traced.means, diagonal.means, rtol=1e-12)
    np.testing.assert_allclose(diagonal.trace().second, diagonal.second.sum(axis=1))
    per_component = full.statistics(X, w)
    np.testing.assert_allclose(per_component.trace().scatter(), traced.scatter(), rtol=1e-10)
    # About other centres: the sum of the diagonal shifts.
    centres = rng.normal(size=(4, 3))
    np.testing.assert_allclose(traced.about(centres).second, diagonal.about(centres).second.sum(axis=1),
                               rtol=1e-10)
    # Halves about different centres add up; diagonal and full moments trace when added to traced ones.
    a = spherical.statistics(X[:50], w[:50])
    for b in (diag.statistics(X[50:], w[50:]), full.statistics(X[50:], w[50:])):
        for total in (a + b, b + a, a + b.trace()):
            assert total.traced
            np.testing.assert_allclose(total.scatter(), traced.scatter(), rtol=1e-10)
    assert (0.5 * traced).traced
    np.testing.assert_allclose((0.5 * traced).second, 0.5 * traced.second)
    # The same spherical covariance from traced, diagonal and full moments.
    fitted = [Gaussian(means, np.ones(4), "spherical").fit_statistics(s) for s in (traced, diagonal, per_component)]
    for other in fitted[1:]:
        np.testing.assert_allclose(other.covariances, fitted[0].covariances, rtol=1e-10)
        np.testing.assert_allclose(other.means, fitted[0].means, rtol=1e-12)
    kept = Gaussian(means, np.ones(4), "spherical").fit_statistics(traced, fixed=("means",))
    np.testing.assert_allclose(kept.covariances, Gaussian(means, np.ones(4), "spherical").fit_statistics(
        diagonal, fixed=("means",)).covariances, rtol=1e-10)
    # What cannot be done with them: other covariance types, pooling, tracing pooled moments.
    for other in (diag, full, Gaussian(means, np.eye(3), "tied")):
        with pytest.raises(ValueError, match="needs more than the traces"):
            other.fit_statistics(traced)
    with pytest.raises(ValueError, match="traced moments cannot be pooled"):
        traced.pool()
    pooled = Gaussian(means, np.eye(3), "tied").statistics(X, w)
    with pytest.raises(ValueError, match="traced moments cannot be pooled"):
        _ = traced + pooled
    with pytest.raises(ValueError, match="pooled moments cannot be traced"):
        pooled.trace()


@pytest.mark.parametrize("rows", [50, 40_000])  # tested at once; by a sum first (over 65,536 entries)
def test_finite_check_sees_every_bad_entry_and_no_overflow(rows):
    from emlib.distributions import _statistics
    from emlib.distributions._statistics import check_finite

    assert (rows * 3 > _statistics._DIRECT_TEST_ENTRIES) == (rows > 50)
    X = np.full((rows, 3), 1e308)  # finite, but their sum overflows: the entries are looked at
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and the overflow is no reason for a warning
        check_finite(X)
    for bad in (np.nan, np.inf, -np.inf):
        for where in ((0, 0), (rows - 1, 2), (17, 1)):
            Y = X.copy() if np.isinf(bad) else np.ones((rows, 3))
            Y[where] = bad
            with pytest.raises(ValueError, match="Y contains NaN or infinite values"):
                check_finite(Y, "Y")
    Z = np.ones((rows, 2))
    Z[1, 0], Z[2, 1] = np.inf, -np.inf  # infinities of both signs: the sum is NaN
    with pytest.raises(ValueError, match="Z contains NaN"):
        check_finite(Z, "Z")


def test_known_arrays_pass_unread_inside_the_block_only():
    from emlib._validation import BINARY, FINITE, is_known, known
    from emlib.distributions._statistics import check_finite

    bad = np.ones((10, 2))
    bad[3, 1] = np.nan
    with known(bad, FINITE):
        check_finite(bad)  # the very object passes unread
        with pytest.raises(ValueError, match="X contains NaN"):
            check_finite(bad.copy())  # an equal array is still read
        with pytest.raises(ValueError, match="X contains NaN"):
            check_finite(bad[:5])  # and so is a view of it
        with known(bad, BINARY), known(None, FINITE), known([1.0], FINITE):  # non-arrays declare nothing
            check_finite(bad)  # blocks nest
            assert is_known(bad, BINARY) and not is_known([1.0], FINITE)
        assert not is_known(bad, BINARY)  # each fact only in its own block
    with pytest.raises(ValueError, match="X contains NaN"):
        check_finite(bad)
    with known(bad), pytest.raises(ValueError, match="X contains NaN"):  # no facts, nothing declared
        check_finite(bad)


def test_known_facts_skip_only_their_own_checks():
    from emlib._validation import BINARY, COUNTS, FINITE, known, symbols_below

    counts = np.array([[1.0], [2.5]])  # not counts: declared so, they pass unread (the caller's word)
    with known(counts, FINITE, COUNTS):
        Poisson([1.0, 2.0]).log_prob(counts)
        with pytest.raises(ValueError, match="must be binary"):
            Bernoulli([[0.5], [0.5]]).log_prob(counts)  # a fact about counts says nothing of binary
    with pytest.raises(ValueError, match="must contain counts"):
        Poisson([1.0, 2.0]).log_prob(counts)
    binary = np.array([[0.0, 2.0]])
    with known(binary, FINITE, BINARY):
        Bernoulli([[0.5, 0.5]]).log_prob(binary)
    symbols = np.array([0, 1, 5])
    with known(symbols, symbols_below(6)):
        assert Categorical(np.full((2, 6), 1 / 6)).log_prob(symbols).shape == (3, 2)
        with pytest.raises(ValueError, match="model knows only n_symbols=3"):
            Categorical(np.full((2, 3), 1 / 3)).log_prob(symbols)  # in range for 6 symbols, not for 3


def test_em_reads_discrete_data_only_in_fit_validation(monkeypatch):
    """Counts, binary data and symbols are validated once by fit; no E- or M-step reads them again
    to prove it (the distributions' checks of them read only outside fit)."""
    from emlib.distributions import bernoulli, categorical, poisson

    reads = []

    def counting(module, name):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda X, *args, **kw: reads.append(name) or real(X, *args, **kw))

    counting(poisson, "_read_counts")
    counting(bernoulli, "_read_binary")
    counting(categorical, "check_symbols")
    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, size=(200, 2)).astype(float)
    binary = (rng.random((200, 4)) < 0.3).astype(float)
    symbols = rng.integers(0, 4, size=200)
    fitted = [PoissonMixture(2, max_iter=5, tol=0, random_state=0).fit(counts),
              PoissonHMM(2, max_iter=5, tol=0, random_state=0).fit(counts),
              BernoulliMixture(2, max_iter=5, tol=0, random_state=0).fit(binary),
              CategoricalHMM(2, max_iter=5, tol=0, random_state=0).fit(symbols),
              CategoricalHMM(2, n_features=6, max_iter=5, tol=0, random_state=0).fit(symbols)]
    assert reads == []
    for model, X in zip(fitted, (counts, counts, binary, symbols, symbols)):
        model.score(X)
    # outside fit, the distributions check what they are given
    assert sorted(set(reads)) == ["_read_binary", "_read_counts", "check_symbols"]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_em_reads_the_data_for_finiteness_only_in_fit_validation(monkeypatch, covariance_type):
    from emlib.distributions import _statistics

    reads = []
    real = _statistics._all_finite
    monkeypatch.setattr(_statistics, "_all_finite", lambda X: reads.append(X.shape) or real(X))
    X = np.random.default_rng(0).normal(size=(300, 3))
    GaussianMixture(2, covariance_type=covariance_type, max_iter=5, tol=0, random_state=0).fit(X)
    GaussianHMM(2, covariance_type=covariance_type, max_iter=5, tol=0, random_state=0).fit(X)
    assert reads == []  # X was validated once by fit; no E-step read it again
    GaussianMixture(2, covariance_type=covariance_type, max_iter=1, tol=0, random_state=0).fit(X).score(X)
    assert (300, 3) in reads  # outside fit, the distributions check what they are given
