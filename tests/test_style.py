"""The code follows ruff's default rules."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    # Through the running interpreter: the tests pass from a venv that was never activated.
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "emlib", "tests", "benchmarks"],
                            cwd=ROOT, check=False, capture_output=True, text=True)
    assert "No module named ruff" not in result.stderr, "ruff is not installed (pip install -r requirements.txt)"
    assert result.returncode == 0, result.stdout + result.stderr
