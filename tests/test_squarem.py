"""SQUAREM acceleration (em.fit(..., accelerate="squarem")): the same maximum in fewer E-steps.

- The loop: falls back to the plain EM step whenever an extrapolated point is refused, gives a
  NaN or infinite objective, makes the E-step fail, or lowers the objective; counts every E-step;
  states the optional protocol in its errors.
- The unconstrained coordinates of every family and model: they round-trip, and any finite vector
  gives valid parameters or a ValueError.
- Every estimator and option, accelerated, reaches the plain run's maximum.
- On slowly converging problems, far fewer E-steps: the benchmark's problems
  (benchmarks/squarem.py) and others of the same kinds.
"""

import copy
import importlib.util
import io
import warnings
from contextlib import redirect_stdout
from pathlib import Path

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
    em,
)
from emlib.datasets import load_earthquakes
from emlib.distributions import (
    COVARIANCE_TYPES,
    Bernoulli,
    Categorical,
    Gaussian,
    Poisson,
)
from emlib.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    LikelihoodDecreaseWarning,
)
from emlib.protocols import ParameterVector

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("squarem_benchmark", ROOT / "benchmarks" / "squarem.py")
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)

SAME_OPTIMUM = 1e-8  # relative difference of final objectives that counts as the same maximum


# -- the loop --------------------------------------------------------------------------------------
class TwoCoins:
    """Do & Batzoglou's two coins, with the probabilities of heads by their logits as the vector."""

    def __init__(self, theta_a=0.6, theta_b=0.5):
        self.theta = np.array([theta_a, theta_b])

    def initialize(self, counts, rng):
        pass

    def e_step(self, counts):
        heads, tails = counts[:, :1], counts[:, 1:]
        joint = 0.5 * self.theta**heads * (1 - self.theta) ** tails
        evidence = joint.sum(axis=1, keepdims=True)
        return joint / evidence, float(np.log(evidence).sum())

    def m_step(self, counts, responsibilities):
        expected = responsibilities.T @ counts
        self.theta = expected[:, 0] / expected.sum(axis=1)

    def get_vector(self):
        return np.log(self.theta) - np.log1p(-self.theta)

    def set_vector(self, logits):
        self.theta = 1 / (1 + np.exp(-np.asarray(logits)))


COUNTS = np.array([[5, 5], [9, 1], [8, 2], [4, 6], [7, 3]])


class Hostile(TwoCoins):
    """Two coins whose extrapolated points (vectors it never handed out) all go wrong one way."""

    def __init__(self, failure):
        super().__init__()
        self.failure = failure
        self.handed_out = []
        self.at_extrapolated_point = False
        self.refused = self.evaluated = 0  # extrapolated points refused, and evaluated

    def get_vector(self):
        vector = super().get_vector()
        self.handed_out.append(vector.copy())
        return vector

    def set_vector(self, vector):
        known = any(np.array_equal(vector, seen) for seen in self.handed_out)
        if not known and self.failure == "refused":
            self.refused += 1
            raise ValueError("not a vector this model accepts")
        super().set_vector(vector)
        self.at_extrapolated_point = not known

    def m_step(self, counts, responsibilities):
        super().m_step(counts, responsibilities)
        self.at_extrapolated_point = False

    def e_step(self, counts):
        stats, loglik = super().e_step(counts)
        if self.at_extrapolated_point:
            self.evaluated += 1
            if self.failure == "raises":
                raise FloatingPointError("overflow at this point")
            loglik = {"nan": np.nan, "-inf": -np.inf, "+inf": np.inf, "lower": loglik - 1e3}[self.failure]
        return stats, loglik


def test_two_coins_accelerated_reach_the_same_maximum_in_fewer_e_steps():
    plain = em.fit(TwoCoins(), COUNTS, max_iter=1000, tol=1e-14)
    fast = em.fit(TwoCoins(), COUNTS, max_iter=1000, tol=1e-14, accelerate="squarem")
    assert plain.converged and fast.converged
    np.testing.assert_allclose(fast.model.theta, plain.model.theta, rtol=1e-6)
    np.testing.assert_allclose(fast.model.theta, [0.7968, 0.5196], atol=1e-4)  # Do & Batzoglou
    assert abs(fast.loglik - plain.loglik) <= 1e-12 * abs(plain.loglik)
    assert plain.n_e_steps == plain.n_iter + 1
    assert fast.n_e_steps < plain.n_e_steps
    assert len(fast.loglik_history) == fast.n_iter + 1
    assert np.all(np.diff(fast.loglik_history) >= -1e-12 * abs(plain.loglik))


@pytest.mark.parametrize("failure", ["refused", "nan", "-inf", "+inf", "raises", "lower"])
def test_every_failed_extrapolation_falls_back_to_the_em_step(failure):
    """When no extrapolated point is kept, an accelerated iteration is exactly two EM steps."""
    plain = em.fit(TwoCoins(), COUNTS, max_iter=20, tol=0)
    model = Hostile(failure)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed point must not leak a warning
        fast = em.fit(model, COUNTS, max_iter=10, tol=0, accelerate="squarem")
    np.testing.assert_allclose(fast.loglik_history, plain.loglik_history[::2], rtol=1e-13)
    np.testing.assert_allclose(fast.model.theta, plain.model.theta, rtol=1e-12)
    assert model.refused + model.evaluated >= 3  # extrapolation was tried, and failed each time
    # Two E-steps per iteration, and one more per point evaluated and thrown away.
    assert fast.n_e_steps == 1 + 2 * 10 + model.evaluated


def test_the_stopping_rule_is_plain_ems():
    """An accelerated run stops when one EM step changes the objective by at most tol: its last
    recorded change is that EM step's."""
    fast = em.fit(TwoCoins(), COUNTS, max_iter=1000, tol=1e-9, tol_scale=1.0, accelerate="squarem")
    assert fast.converged and 0 <= np.diff(fast.loglik_history)[-1] <= 1e-9
    plain = em.fit(TwoCoins(), COUNTS, max_iter=1000, tol=1e-9, tol_scale=1.0)
    assert abs(fast.loglik - plain.loglik) < 1e-8


def test_verbose_callback_and_restarts():
    seen = []
    output = io.StringIO()
    with redirect_stdout(output):
        result = em.fit(TwoCoins(), COUNTS, max_iter=100, tol=1e-12, accelerate="squarem", verbose=True,
                        callback=lambda model, iteration, loglik: seen.append((iteration, loglik)))
    assert "extrapolated, step" in output.getvalue()
    assert [i for i, _ in seen] == list(range(result.n_iter + 1))
    np.testing.assert_array_equal([value for _, value in seen], result.loglik_history)
    restarts = em.fit(TwoCoins(), COUNTS, max_iter=100, tol=1e-12, accelerate="squarem", n_init=3)
    assert restarts.restart_logliks.shape == (3,) and restarts.n_e_steps > 1


def test_warnings_at_a_kept_point_are_passed_on():
    class Noisy(TwoCoins):
        def e_step(self, counts):
            warnings.warn("from the E-step", UserWarning, stacklevel=2)
            return super().e_step(counts)

    with pytest.warns(UserWarning, match="from the E-step") as caught:
        result = em.fit(Noisy(), COUNTS, max_iter=5, tol=0, accelerate="squarem")
    assert len(caught) == result.n_e_steps


class NoVector(TwoCoins):
    get_vector = None


class ShapeShifter(TwoCoins):
    calls = 0

    def get_vector(self):
        self.calls += 1
        return np.zeros(2 + self.calls % 2)


class Flat(TwoCoins):
    def get_vector(self):
        return np.zeros((1, 2))


class Infinite(TwoCoins):
    def get_vector(self):
        return np.array([-np.inf, 0.0])


class Stubborn(TwoCoins):
    def set_vector(self, vector):
        raise ValueError("never")


@pytest.mark.parametrize(("model", "error", "match"), [
    (NoVector(), TypeError, "has no method get_vector.*ParameterVector"),
    (Stubborn(), TypeError, "refused a vector that model.get_vector returned"),
    (ShapeShifter(), TypeError, r"returned shape \(2,\).*but shape \(3,\) before"),
    (Flat(), TypeError, r"returned shape \(1, 2\)"),
    (Infinite(), ValueError, "NaN or infinite values"),
])
def test_the_vector_protocol_is_checked(model, error, match):
    with pytest.raises(error, match=match):
        em.fit(model, COUNTS, max_iter=5, tol=0, accelerate="squarem")


@pytest.mark.parametrize("accelerate", ["SQUAREM", "fast", 1, True, np.array(["squarem"])])
def test_unknown_acceleration_is_refused(accelerate):
    with pytest.raises(ValueError, match="accelerate must be None"):
        em.fit(TwoCoins(), COUNTS, accelerate=accelerate)
    with pytest.raises(ValueError, match="accelerate must be None"):
        GaussianMixture(accelerate=accelerate).fit(np.arange(10.0))


def test_a_model_without_vectors_still_runs_plain_em():
    class Plain(TwoCoins):
        get_vector = set_vector = None

    assert em.fit(Plain(), COUNTS, max_iter=50).converged


# -- unconstrained coordinates ---------------------------------------------------------------------
def families(rng, K=3, D=4):
    A = rng.normal(size=(K, D, D))
    full = A @ np.swapaxes(A, 1, 2) + np.eye(D)
    variances = np.diagonal(full, axis1=1, axis2=2).copy()
    means = rng.normal(size=(K, D)) * 3
    covariances = {"full": full, "tied": full[0], "diag": variances, "spherical": variances.mean(axis=1)}
    X = {"gaussian": rng.normal(size=(30, D)) * 2, "bernoulli": (rng.random((30, D)) < 0.5).astype(float),
         "poisson": rng.poisson(3.0, (30, D)).astype(float), "categorical": rng.integers(0, D, 30)}
    probabilities = rng.dirichlet(np.ones(D), size=K)
    probabilities[0, 1] = 0.0  # a structural zero
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    rates = rng.uniform(0.5, 8.0, (K, D))
    rates[1, 2] = 0.0  # a component that only emits zeros there
    out = [(f"gaussian-{t}", Gaussian(means, c, t, reg_covar=1e-3), X["gaussian"]) for t, c in covariances.items()]
    return out + [
        ("bernoulli", Bernoulli(rng.uniform(0.05, 0.95, (K, D))), X["bernoulli"]),
        ("poisson", Poisson(rates), X["poisson"][:, :] * (np.arange(D) != 2)),
        ("categorical", Categorical(probabilities), X["categorical"][X["categorical"] != 1]),
    ]


FAMILY_NAMES = [name for name, _, _ in families(np.random.default_rng(0))]


def family(name, rng):
    """The distribution called ``name`` in :func:`families`, and data it can score."""
    return next((distribution, X) for label, distribution, X in families(rng) if label == name)


def consistent(distribution, X):
    """The distribution scores X as a freshly built one with the same parameters does."""
    rebuilt = copy.deepcopy(distribution)
    for name in distribution.parameter_names:
        value = getattr(distribution, name)
        if name == "covariances":
            rebuilt.covariances = np.array(value)
        elif name == "probabilities" and isinstance(distribution, Bernoulli):
            rebuilt.probabilities = np.array(value)
        else:
            setattr(rebuilt, name, np.array(value))
    # Rebuilding refactorises the covariances: digits lost to their conditioning, no more.
    rtol = 1e-8
    if getattr(distribution, "covariance_type", None) in ("full", "tied"):
        eigenvalues = np.linalg.eigvalsh(distribution.full_covariances())
        rtol = max(rtol, 1e-13 * np.max(eigenvalues[:, -1] / eigenvalues[:, 0]))
    np.testing.assert_allclose(distribution.log_prob(X), rebuilt.log_prob(X), rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(distribution.log_penalty(), rebuilt.log_penalty(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_vectors_round_trip(name):
    distribution, X = family(name, np.random.default_rng(1))
    assert isinstance(distribution, ParameterVector)
    for fixed in [(), *[(p,) for p in distribution.parameter_names], distribution.parameter_names]:
        vector = distribution.get_vector(fixed)
        assert vector.ndim == 1 and np.all(np.isfinite(vector))
        twin = copy.deepcopy(distribution).set_vector(vector, fixed)
        np.testing.assert_allclose(twin.log_prob(X), distribution.log_prob(X), rtol=1e-12, atol=1e-12)
        for parameter in distribution.parameter_names:
            np.testing.assert_allclose(getattr(twin, parameter), getattr(distribution, parameter),
                                       rtol=1e-12, atol=1e-14)
        with pytest.raises(ValueError, match="vector must be a vector of length"):
            copy.deepcopy(distribution).set_vector(np.append(vector, 0.0), fixed)


@pytest.mark.parametrize("name", FAMILY_NAMES)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([0.1, 1.0, 10.0, 1e3]))
def test_every_finite_vector_gives_valid_parameters_or_a_value_error(name, seed, scale):
    """What extrapolation relies on: any finite vector is either valid parameters (consistent with
    themselves, structural zeros kept) or refused with a ValueError that changes nothing."""
    rng = np.random.default_rng(seed)
    distribution, X = family(name, rng)
    vector = distribution.get_vector() + scale * rng.standard_normal(distribution.get_vector().size)
    before = copy.deepcopy(distribution)
    try:
        distribution.set_vector(vector)
    except ValueError:
        for parameter in distribution.parameter_names:
            np.testing.assert_array_equal(getattr(distribution, parameter), getattr(before, parameter))
        return
    consistent(distribution, X)
    if name == "categorical":
        assert distribution.probabilities[0, 1] == 0.0
        np.testing.assert_allclose(distribution.probabilities.sum(axis=1), 1.0)
    if name == "poisson":
        assert np.all(distribution.rates >= 0)
    if name == "bernoulli":
        assert np.all((distribution.probabilities >= 1e-10) & (distribution.probabilities <= 1 - 1e-10))


def test_covariances_that_overflow_or_are_singular_are_refused():
    gaussian = Gaussian(np.zeros((1, 2)), np.eye(2)[None], "full")
    for vector in ([0, 0, 0, 400.0, 0], [0, 0, 1e200, 0, 0], [0, 0, 1e8, 0, 0]):
        with pytest.raises(ValueError, match="overflows|singular"):
            gaussian.set_vector(np.array(vector))
    np.testing.assert_array_equal(gaussian.covariances, np.eye(2)[None])
    with pytest.raises(ValueError, match="variance overflows"):
        Gaussian(np.zeros((1, 2)), np.ones((1, 2)), "diag").set_vector(np.array([0, 0, 800.0, 0]))


def fitted_models():
    """The models that the estimators hand to em.fit, after a fit, with their data."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-2, 1, (60, 2)), rng.normal(2, 1, (60, 2))])
    holes = np.where(rng.random(X.shape) < 0.1, np.nan, X)
    holes = holes[~np.isnan(holes).all(axis=1)]
    captured = []
    original = em.fit

    def spy(model, data, **kwargs):
        result = original(model, data, **kwargs)
        captured.append((model, data))
        return result

    estimators = [
        (GaussianMixture(2, covariance_type="tied", random_state=0), X, {}),
        (GaussianMixture(2, missing="em", random_state=0), holes, {}),
        (GaussianHMM(2, transmat_init=[[0.9, 0.1], [0.0, 1.0]], fixed=("means",), random_state=0), X, {}),
        (CategoricalHMM(2, random_state=0, startprob_init=[1.0, 0.0]), rng.integers(0, 3, 100), {}),
        (PoissonHMM(2, fixed=("startprob", "transmat"), random_state=0), rng.poisson(3, (80, 2)), {}),
        (FactorAnalysis(1), X @ rng.normal(size=(2, 3)) + rng.normal(size=(120, 3)), {}),
    ]
    em.fit = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for estimator, data, kwargs in estimators:
                estimator.fit(data, **kwargs)
    finally:
        em.fit = original
    return captured


def test_models_round_trip_and_keep_structural_zeros():
    for model, data in fitted_models():
        assert isinstance(model, ParameterVector)
        vector = model.get_vector()
        _, objective = model.e_step(data)
        twin = copy.deepcopy(model)
        twin.set_vector(vector)
        np.testing.assert_allclose(twin.e_step(data)[1], objective, rtol=1e-12)
        moved = copy.deepcopy(model)
        moved.set_vector(vector * 1.1 + 0.05)
        if hasattr(model, "allowed_transitions"):
            assert np.all(moved.transmat[~model.allowed_transitions] == 0)
            assert np.all(moved.startprob[~model.allowed_start] == 0)
            np.testing.assert_allclose(moved.transmat.sum(axis=1), 1.0)
            for name in model.settings.fixed:  # fixed parameters are not in the vector
                attribute = {"startprob": "startprob", "transmat": "transmat"}.get(name)
                if attribute:
                    np.testing.assert_array_equal(getattr(moved, attribute), getattr(model, attribute))
            if "means" in model.settings.fixed:
                np.testing.assert_array_equal(moved.emission.means, model.emission.means)
        with pytest.raises(ValueError):
            copy.deepcopy(model).set_vector(np.append(vector, 1.0))


# -- every estimator and option: the same maximum as plain EM ------------------------------------------
def _blobs(seed=0, n=240):
    """Three clusters 3.5 standard deviations apart: overlapping, but with one clear maximum."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [3.5, 0.0], [1.75, 3.0]])
    return centres[np.arange(n) % 3] + rng.normal(size=(n, 2))


def _estimator_cases():
    rng = np.random.default_rng(7)
    X = _blobs()
    with_nan = np.where(rng.random(X.shape) < 0.15, np.nan, X)
    with_nan = with_nan[~np.isnan(with_nan).all(axis=1)]
    counts = rng.poisson(np.where(np.arange(300)[:, None] < 150, 2.0, 6.0), (300, 2))
    binary = (rng.random((300, 6)) < np.where(np.arange(300)[:, None] % 2 == 0, 0.75, 0.3)).astype(int)
    truth = GaussianHMM(2).set_parameters(startprob=[0.6, 0.4], transmat=[[0.9, 0.1], [0.15, 0.85]],
                                          means=[[0.0, 0.0], [1.5, 1.0]], covariances=np.stack([np.eye(2)] * 2))
    sequence, _ = truth.sample(400, random_state=1)
    symbols = CategoricalHMM(2).set_parameters(startprob=[1.0, 0.0], transmat=[[0.9, 0.1], [0.2, 0.8]],
                                               emissionprob=[[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]]).sample(
        500, random_state=2)[0]
    states = np.where(np.arange(400) % 7 == 0, (sequence[:, 0] > 0.75).astype(int), -1)
    factors = np.random.default_rng(2)
    factor_data = factors.normal(size=(300, 2)) @ factors.normal(size=(2, 5)) + factors.normal(size=(300, 5)) * 0.7
    cases = []
    for ctype in COVARIANCE_TYPES:
        cases.append((f"gmm-{ctype}", GaussianMixture(3, covariance_type=ctype), X, {}))
        cases.append((f"gmm-missing-{ctype}", GaussianMixture(3, covariance_type=ctype, missing="em"),
                      with_nan, {}))
        cases.append((f"hmm-gaussian-{ctype}", GaussianHMM(2, covariance_type=ctype), sequence, {}))
    cases += [
        ("gmm-weights", GaussianMixture(3, reg_covar=0.1), X, {"sample_weight": rng.uniform(0.5, 2, len(X))}),
        ("gmm-no-reg", GaussianMixture(3, reg_covar=0.0), X, {}),
        ("gmm-restarts", GaussianMixture(3, n_init=3), X, {}),
        ("bernoulli", BernoulliMixture(2), binary, {}),
        ("poisson", PoissonMixture(2), counts, {}),
        ("hmm-gaussian-fixed-means", GaussianHMM(2, fixed=("means",), transmat_prior=2.0), sequence, {}),
        ("hmm-gaussian-semi", GaussianHMM(2), sequence, {"states": states}),
        ("hmm-gaussian-sequences", GaussianHMM(2), sequence, {"lengths": [100, 150, 150]}),
        ("hmm-gaussian-left-right", GaussianHMM(2, transmat_init=[[0.8, 0.2], [0.0, 1.0]],
                                                startprob_init=[1.0, 0.0]), sequence, {}),
        ("hmm-categorical", CategoricalHMM(2, emissionprob_prior=0.5, startprob_prior=1.0), symbols, {}),
        ("hmm-poisson", PoissonHMM(2), counts, {}),
        ("hmm-poisson-fixed", PoissonHMM(2, fixed=("rates",), rates_init=[[2.0, 2.0], [6.0, 6.0]]), counts, {}),
        ("factor-analysis", FactorAnalysis(2), factor_data, {}),
        ("factor-analysis-random", FactorAnalysis(2, init="random"), factor_data, {}),
    ]
    return cases


@pytest.mark.parametrize(("label", "estimator", "X", "fit_kwargs"), _estimator_cases(),
                         ids=[case[0] for case in _estimator_cases()])
def test_accelerated_estimators_reach_the_plain_maximum(label, estimator, X, fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        warnings.simplefilter("error", LikelihoodDecreaseWarning)
        estimator.set_params(random_state=0, tol=1e-12, max_iter=20000)
        plain = copy.deepcopy(estimator).fit(X, **fit_kwargs)
        fast = copy.deepcopy(estimator).set_params(accelerate="squarem").fit(X, **fit_kwargs)
    assert plain.converged_ and fast.converged_, label
    top_plain, top_fast = plain.loglik_history_[-1], fast.loglik_history_[-1]
    assert abs(top_fast - top_plain) <= SAME_OPTIMUM * abs(top_plain), (label, top_plain, top_fast)
    assert np.all(np.diff(fast.loglik_history_) >= -1e-9 * np.abs(fast.loglik_history_[1:])), label
    assert fast.n_e_steps_ <= 1.25 * plain.n_e_steps_ + 4, label  # never much worse, even when EM is fast
    # The same maximum, hence the same scores.
    if "states" not in fit_kwargs and "lengths" not in fit_kwargs:
        np.testing.assert_allclose(fast.score(X), plain.score(X), rtol=1e-7)


def test_warm_start_and_clone_keep_the_option():
    X = _blobs(seed=3)
    gm = GaussianMixture(3, accelerate="squarem", warm_start=True, random_state=0, tol=1e-10, max_iter=500).fit(X)
    again = gm.fit(X)
    assert again.n_iter_ <= 2 and again.get_params()["accelerate"] == "squarem"
    assert "accelerate='squarem'" in repr(gm)


# -- the goal: far fewer E-steps on slowly converging problems ----------------------------------------
def _reference_optimum(make, X, **kwargs):
    """The maximum, to far better than the comparison needs: accelerated EM at a tiny tolerance."""
    return make("squarem").set_params(tol=1e-13, max_iter=100000).fit(X, **kwargs).loglik_history_[-1]


def _fewer_e_steps(make, X, at_least):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        plain, fast = make(None).fit(X), make("squarem").fit(X)
    optimum = _reference_optimum(make, X)
    for run in (plain, fast):
        assert run.converged_
        assert abs(run.loglik_history_[-1] - optimum) <= SAME_OPTIMUM * abs(optimum)
    ratio = plain.n_e_steps_ / fast.n_e_steps_
    assert ratio >= at_least, (plain.n_e_steps_, fast.n_e_steps_)
    return ratio


@pytest.mark.parametrize("problem", benchmark.problems(), ids=lambda p: p.name)
def test_benchmark_problems(problem):
    """3x fewer E-steps on the slow problems. The earthquake HMMs are not slow for EM (the
    log-likelihood's gap shrinks by 0.59 and 0.41 per iteration), and SQUAREM's step there saves
    about half the E-steps: that is what is asserted for them."""
    at_least = 1.8 if "earthquakes" in problem.name else 3.0
    _fewer_e_steps(problem.make, problem.X, at_least)


@pytest.mark.parametrize(("separation", "seed", "K", "D"), [
    (2.0, 3, 2, 1), (2.25, 4, 2, 1), (2.5, 5, 2, 1), (2.2, 6, 3, 2), (2.4, 8, 2, 3),
])
def test_overlapping_mixtures_not_tuned_on(separation, seed, K, D):
    X = benchmark.overlapping_mixture(separation, seed=seed, n_components=K, n_features=D, n=1200)

    def make(accelerate):
        return GaussianMixture(K, random_state=seed, tol=1e-10, max_iter=50000, accelerate=accelerate)

    _fewer_e_steps(make, X, 3.0)


@pytest.mark.parametrize(("seed", "n_factors", "n_features", "tol"), [
    (2, 2, 6, 1e-11), (4, 3, 8, 1e-10), (5, 1, 5, 1e-10),
])
def test_near_heywood_factor_analysis_not_tuned_on(seed, n_factors, n_features, tol):
    """(At tol=1e-10 plain EM stops 3e-8 short of the maximum on the first data set: a looser
    tolerance than the comparison needs.)"""
    X = benchmark.heywood_factor_data(seed=seed, n_factors=n_factors, n_features=n_features)

    def make(accelerate):
        return FactorAnalysis(n_factors, tol=tol, max_iter=200000, accelerate=accelerate)

    _fewer_e_steps(make, X, 3.0)


@pytest.mark.parametrize(("K", "seed"), [(2, 3), (3, 5), (4, 1)])
def test_earthquake_hmms_other_starts(K, seed):
    def make(accelerate):
        return PoissonHMM(K, random_state=seed, tol=1e-10, max_iter=5000, accelerate=accelerate)

    _fewer_e_steps(make, load_earthquakes().data, 1.8 if K < 4 else 3.0)


def _sticky_symbols(seed: int, T: int = 1000) -> np.ndarray:
    """Symbols (T, 1) from a sticky two-state chain (stays with probability 0.95) whose states
    emit three symbols with similar probabilities: EM is slow, and the long steps SQUAREM
    proposes there are refused time after time."""
    rng = np.random.default_rng(seed)
    states = np.zeros(T, dtype=int)
    for t in range(1, T):
        states[t] = states[t - 1] if rng.random() < 0.95 else 1 - states[t - 1]
    emissions = np.array([[0.5, 0.3, 0.2], [0.25, 0.35, 0.4]])
    return np.array([rng.choice(3, p=emissions[state]) for state in states])[:, None]


@pytest.mark.parametrize("seed", [4, 11])
def test_repeatedly_refused_steps_are_shortened(seed):
    """Steps shorter than the cap but refused at every iteration: each such iteration costs three
    E-steps for the progress of two EM steps. Three refusals in a row shorten the cap (when only a
    refusal at the cap did, these runs saved 1.9x and 2.7x the E-steps)."""
    def make(accelerate):
        return CategoricalHMM(2, random_state=seed, tol=1e-10, max_iter=5000, accelerate=accelerate)

    _fewer_e_steps(make, _sticky_symbols(seed), 3.0)
