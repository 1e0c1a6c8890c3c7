"""The code follows ruff's default rules."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff")
    assert ruff, "ruff is not installed (pip install -r requirements.txt)"
    result = subprocess.run([ruff, "check", "emlib", "tests", "benchmarks"], cwd=ROOT,
                            check=False,
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
