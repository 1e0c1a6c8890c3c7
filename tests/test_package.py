"""The package surface: a light `import emlib`, lazy public names, version."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import emlib

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "numba", "matplotlib", "sklearn")


def modules_after(statement: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(result.stdout))


def test_import_emlib_loads_no_heavy_dependency():
    loaded = modules_after("import emlib")
    assert "emlib" in loaded
    assert not loaded & set(HEAVY), f"import emlib loaded {sorted(loaded & set(HEAVY))}"


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


def test_version_matches_pyproject():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert emlib.__version__ == re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
