"""The book builds with Sphinx warnings treated as errors, into a fresh folder."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_strict_book_build(tmp_path):
    jupyter_book = shutil.which("jupyter-book")
    assert jupyter_book, "jupyter-book is not installed (pip install -r requirements.txt)"
    result = subprocess.run(
        [jupyter_book, "build", str(ROOT), "-n", "-W", "--keep-going", "--path-output", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"strict build failed:\n{log[-6000:]}"
    assert "WARNING" not in log, f"build printed warnings:\n{log[-6000:]}"
    html = tmp_path / "_build" / "html"
    assert (html / "book" / "intro.html").exists() or (html / "index.html").exists()
    sys.stdout.write(log[-500:])
