"""Every public signature carries type hints (parameters and return value)."""

import importlib
import inspect

import pytest

PUBLIC_MODULES = [
    "emlib.em", "emlib.protocols", "emlib.initialization", "emlib.exceptions", "emlib.elbo", "emlib.datasets",
    "emlib.reporting", "emlib.plotting", "emlib.distributions", "emlib.mixture", "emlib.mixture.missing",
    "emlib.factor_analysis", "emlib.hmm", "emlib.hmm.reference", "emlib.chunked",
]


def public_callables():
    seen = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not getattr(obj, "__module__", "").startswith("emlib") or id(obj) in seen:
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                if getattr(obj, "_is_protocol", False):
                    continue  # a Protocol's __init__ is typing's, and its methods are declarations
                if issubclass(obj, BaseException):
                    continue
                for attribute, member in vars(obj).items():
                    if attribute.startswith("_") and attribute != "__init__":
                        continue
                    function = member.fget if isinstance(member, property) else member
                    function = function.__func__ if isinstance(function, (staticmethod, classmethod)) else function
                    if inspect.isfunction(function):
                        yield f"{module_name}.{name}.{attribute}", function
            elif inspect.isfunction(obj):
                yield f"{module_name}.{name}", obj
    # The estimators' methods come from their bases: walk them too.
    import emlib

    for estimator in (emlib.GaussianMixture, emlib.GaussianHMM, emlib.FactorAnalysis):
        for klass in estimator.__mro__:
            if not klass.__module__.startswith("emlib") or id(klass) in seen:
                continue
            seen.add(id(klass))
            for attribute, member in vars(klass).items():
                if attribute.startswith("_") and attribute != "__init__":
                    continue
                function = member.fget if isinstance(member, property) else member
                if inspect.isfunction(function):
                    yield f"{klass.__module__}.{klass.__name__}.{attribute}", function


CALLABLES = sorted(public_callables(), key=lambda item: item[0])


@pytest.mark.parametrize(("name", "function"), CALLABLES, ids=[name for name, _ in CALLABLES])
def test_public_signature_has_type_hints(name, function):
    signature = inspect.signature(function)
    missing = [p.name for p in signature.parameters.values()
               if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without a type hint: {missing}"
    if function.__name__ != "__init__":
        assert signature.return_annotation is not inspect.Signature.empty, f"{name}: no return type hint"
