"""`pip wheel .` gives a wheel that installs and works outside the repository.

The wheel is built offline (no build isolation: the running environment's setuptools) from a copy of
the source tree as a clean checkout has it: setuptools would pack stale files left in ``build/``. It
is installed into a fresh virtual environment in a temporary folder. That environment sees the
running one's dependencies (numpy, scipy, numba) through a ``.pth`` file, but not the editable emlib
(its finder is hooked in by a ``.pth`` file of the running environment, which a path added this way
does not execute). The smoke test runs in isolated mode (``-I``) from another temporary folder.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import emlib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DIST_INFO = f"emlib-{emlib.__version__}.dist-info"

# What a clean checkout does not have (see .gitignore), left out of the copy that is built.
NOT_IN_A_CHECKOUT = (".git", "_build", "build", "dist", "*.egg-info", "__pycache__", "*.py[cod]",
                     ".pytest_cache", ".hypothesis", ".ipynb_checkpoints", "screenshots")

# Runs inside the fresh environment: where emlib comes from, every dataset, a mixture and an HMM.
SMOKE_TEST = """
import json, sys
from importlib import metadata
import numpy as np
import emlib
from emlib import GaussianMixture, PoissonHMM, datasets

shapes = {}
for name in datasets.__all__:
    if name.startswith("load_"):
        dataset = getattr(datasets, name)()
        assert np.isfinite(dataset.data).all(), name
        shapes[name] = list(dataset.data.shape)

mixture = GaussianMixture(n_components=2, random_state=0).fit(datasets.load_faithful().data)
hmm = PoissonHMM(n_components=2, random_state=0).fit(datasets.load_earthquakes().data)
json.dump({
    "emlib_file": emlib.__file__,
    "version": emlib.__version__,
    "metadata_version": metadata.version("emlib"),
    "dataset_shapes": shapes,
    "mixture_means": sorted(mixture.means_.tolist()),
    "mixture_converged": bool(mixture.converged_),
    "hmm_rates": sorted(hmm.rates_.ravel().tolist()),
    "hmm_converged": bool(hmm.converged_),
}, sys.stdout)
"""


def run(command, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``; fail the test with its output if it fails."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, env=env,
                            check=False, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@dataclass
class Wheel:
    path: Path
    names: list[str]  # files in the wheel
    metadata: Message  # the METADATA headers
    build_log: str


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Wheel:
    source = tmp_path_factory.mktemp("source") / "emlib"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_IN_A_CHECKOUT))
    out = tmp_path_factory.mktemp("wheelhouse")
    build = run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index",
                 "--no-cache-dir", "--verbose", "--wheel-dir", out], cwd=source)
    (path,) = out.glob("emlib-*.whl")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        headers = HeaderParser().parsestr(archive.read(f"{DIST_INFO}/METADATA").decode("utf-8"))
    return Wheel(path, names, headers, build.stdout + build.stderr)


def required(wheel: Wheel) -> list[str]:
    """The wheel's Requires-Dist lines, less those of optional extras."""
    return [line for line in wheel.metadata.get_all("Requires-Dist", []) if "extra ==" not in line]


def test_wheel_holds_the_package_and_its_data_and_nothing_else(wheel):
    source_files = {path.relative_to(ROOT).as_posix() for path in (ROOT / "emlib").rglob("*")
                    if path.is_file() and "__pycache__" not in path.parts}
    packaged = {name for name in wheel.names if name.startswith("emlib/")}
    assert {name for name in source_files if name.startswith("emlib/data/")} >= {
        "emlib/data/faithful.csv", "emlib/data/README.md"}
    assert source_files - packaged == set(), "files of emlib/ missing from the wheel (package-data?)"
    assert packaged - source_files == set(), "files in the wheel that emlib/ does not have"
    assert set(wheel.names) - packaged == {f"{DIST_INFO}/{name}" for name in (
        "METADATA", "WHEEL", "top_level.txt", "RECORD", "licenses/LICENSE")}


def test_wheel_metadata(wheel):
    assert wheel.path.name == f"emlib-{emlib.__version__}-py3-none-any.whl"
    assert wheel.metadata["Version"] == emlib.__version__  # read from emlib/__init__.py, the one source
    assert wheel.metadata["License-Expression"] == "BSD-3-Clause"
    assert wheel.metadata["License-File"] == "LICENSE"
    assert {Requirement(line).name for line in required(wheel)} == {"numpy", "scipy", "numba"}
    # A deprecated setting in pyproject.toml warns here long before a setuptools release drops it.
    assert "SetuptoolsDeprecationWarning" not in wheel.build_log, wheel.build_log


def dependency_folders(requirements: list[str]) -> set[str]:
    """The site-packages folders holding these requirements and everything they require, installed."""
    folders, seen, pending = set(), set(), [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(requirement.name)
        distribution = metadata.distribution(requirement.name)
        folders.add(str(distribution.locate_file("")))
        pending.extend(Requirement(line) for line in distribution.requires or ())
    return folders


@dataclass
class FreshVenv:
    python: Path
    root: Path
    sees_emlib_before_install: str


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> FreshVenv:
    root = tmp_path_factory.mktemp("fresh") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", root])
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_packages = Path(run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                         .stdout.strip())
    folders = dependency_folders(required(wheel))
    (site_packages / "running_environment.pth").write_text("\n".join(sorted(folders)) + "\n", encoding="utf-8")
    workdir = tmp_path_factory.mktemp("workdir")
    before = run([python, "-I", "-c", "import importlib.util as u; print(u.find_spec('emlib'))"], cwd=workdir)
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--no-cache-dir",
         wheel.path])
    return FreshVenv(python, root, before.stdout.strip())


def test_fresh_venv_sees_the_dependencies_but_not_the_repository(installed):
    # Otherwise the smoke test below could pass on the editable emlib instead of the wheel.
    assert installed.sees_emlib_before_install == "None"


def test_installed_wheel_passes_the_smoke_test(installed, tmp_path):
    result = run([installed.python, "-I", "-c", SMOKE_TEST], cwd=tmp_path)
    report = json.loads(result.stdout)
    assert Path(report["emlib_file"]).resolve().is_relative_to(installed.root.resolve()), report["emlib_file"]
    assert report["version"] == report["metadata_version"] == emlib.__version__
    # Every dataset the repository's emlib.datasets has, loaded from the installed package's data.
    loaders = [name for name in emlib.datasets.__all__ if name.startswith("load_")]
    assert len(loaders) >= 4
    assert report["dataset_shapes"] == {name: list(getattr(emlib.datasets, name)().data.shape)
                                        for name in loaders}
    # Old Faithful's two clusters (eruption minutes, waiting minutes), as scikit-learn finds them.
    assert report["mixture_converged"]
    (short, long) = report["mixture_means"]
    assert short + long == pytest.approx([2.04, 54.48, 4.29, 79.97], abs=0.05)
    # Zucchini & MacDonald (2009), two-state Poisson HMM of yearly major earthquakes (initial
    # distribution free): rates 15.421 and 26.018 (the book's earthquakes chapter reproduces them).
    assert report["hmm_converged"]
    assert report["hmm_rates"] == pytest.approx([15.421, 26.018], abs=0.05)
