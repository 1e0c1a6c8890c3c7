"""The package surface: a light `import emlib`, lazy public names, version, licence and citation."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

import emlib

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "numba", "matplotlib", "sklearn", "dask", "distributed")


def modules_after(statement: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(result.stdout))


def test_import_emlib_loads_no_heavy_dependency():
    loaded = modules_after("import emlib")
    assert "emlib" in loaded
    assert not loaded & set(HEAVY), f"import emlib loaded {sorted(loaded & set(HEAVY))}"


def test_fitting_a_small_gaussian_mixture_loads_no_numba():
    # Gaussian mixtures compile kernels only for calls on more than a million entries of X.
    loaded = modules_after("import numpy as np\nfrom emlib import GaussianMixture\n"
                           "X = np.random.default_rng(0).normal(size=(2000, 3))\n"
                           "for kind in ('full', 'tied', 'diag', 'spherical'):\n"
                           "    GaussianMixture(2, covariance_type=kind).fit(X)")
    assert "emlib" in loaded and "numba" not in loaded


def test_using_datasets_and_reporting_stays_light():
    loaded = modules_after("from emlib.datasets import load_faithful; from emlib.reporting import Table; "
                           "Table([[load_faithful().data.mean()]], headers=['m'])")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_lazy_names_resolve():
    for name, module in emlib._LAZY.items():
        if importlib.util.find_spec(module) is None:
            continue  # an estimator planned but not written yet
        value = getattr(emlib, name)
        assert value is getattr(importlib.import_module(module), name)
    assert emlib.GaussianMixture is importlib.import_module("emlib.mixture").GaussianMixture
    assert issubclass(emlib.DegenerateComponentWarning, emlib.ConvergenceWarning)
    for name in emlib._SUBMODULES:
        if importlib.util.find_spec(f"emlib.{name}") is not None:
            assert getattr(emlib, name).__name__ == f"emlib.{name}"


def test_all_and_dir():
    assert set(emlib.__all__) == set(emlib._LAZY) | set(emlib._SUBMODULES)
    assert len(emlib.__all__) == len(set(emlib.__all__))
    assert dir(emlib) == sorted(emlib.__all__)
    with pytest.raises(AttributeError, match="module 'emlib' has no attribute 'nope'"):
        emlib.nope  # noqa: B018


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_version_has_one_source():
    # pyproject.toml reads emlib.__version__; tests/test_wheel.py checks the version a built wheel carries.
    project = pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "emlib.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", emlib.__version__), emlib.__version__
    assert "version" not in citation(), "CITATION.cff would be a second place to update"


def test_changelog_has_unreleased_then_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    assert headings[0] == "Unreleased", headings
    assert emlib.__version__ in headings, f"CHANGELOG.md has no section for {emlib.__version__}"


def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_and_licences_agree():
    cff = citation()
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "type"} <= set(cff)
    assert cff["license"] == pyproject()["project"]["license"] == "BSD-3-Clause"
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "BSD 3-Clause License" in licence and "CC BY 4.0" in licence
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "BSD 3-Clause License" in readme and "CC BY 4.0" in readme
