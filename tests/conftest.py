import os
import sys
from pathlib import Path

# Notebook kernels started by nbval inherit this environment. One BLAS thread per process keeps the
# small matrix operations of the chapters fast on a 2-core machine where pytest and a kernel run
# side by side (thread oversubscription made some fits 10x slower).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib

# The tests themselves never open windows. (Do not set MPLBACKEND here: the kernels would inherit it
# and lose their inline figures.)
matplotlib.use("Agg")

import pytest
from hypothesis import settings

# Property tests explore the same examples on every run: a CI failure is then always reproducible,
# never a one-off draw. (Exploration with fresh random examples: pytest --hypothesis-profile=explore.)
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import booksite  # scripts/booksite.py: build, serve and drive Chromium


@pytest.fixture(scope="session")
def strict_book_build(tmp_path_factory):
    """The book built once, strictly (``-n -W --keep-going``), into a fresh folder.

    Returns ``(completed_process, html_folder)``; tests/test_book_build.py judges the build, the
    browser tests read its pages.
    """
    output = tmp_path_factory.mktemp("book")
    return booksite.run_build(output, strict=True), output / "_build" / "html"
