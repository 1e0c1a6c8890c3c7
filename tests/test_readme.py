"""The README's code runs as written, and says what it shows."""

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_python_block_of_the_readme_runs_in_order():
    pytest.importorskip("sklearn")
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert len(blocks) >= 3
    namespace = {}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()) as printed:
        warnings.simplefilter("error")  # the examples run without warnings
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    output = printed.getvalue()
    assert "[0.71 0.58]" in output and "[0.8  0.52]" in output  # the numbers the comments state
    assert namespace["search"].best_params_ == {"n_components": 2}  # Old Faithful: two clusters
    assert namespace["by_bic"].best_params_ == {"n_components": 2}
