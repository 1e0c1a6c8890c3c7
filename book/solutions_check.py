"""Run the code of an exercise's solution exactly as the book prints it (used by hidden cells).

Each chapter with solutions that give code ends with a cell tagged ``remove-cell`` (kept in the
notebook, left out of the book) that calls :func:`run_solution` for every such solution and checks the
numbers the solutions state. nbval re-runs that cell with the rest of the chapter, so a solution whose
code no longer runs when pasted at the end of the chapter, or whose numbers changed, fails the tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

BOOK = Path(__file__).resolve().parent


def solution_code(chapter: str, label: str) -> str:
    """The Python code blocks of the solution to exercise ``label`` in ``book/<chapter>.ipynb``."""
    cells = json.loads((BOOK / f"{chapter}.ipynb").read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = re.search(r"(`{3,})\{solution\} " + re.escape(label) + r"\n(.*?)\n\1(?!`)", text, re.DOTALL)
    if found is None:
        raise ValueError(f"{chapter}: no solution to {label!r}")
    blocks = re.findall(r"```python\n(.*?)```", found.group(2), re.DOTALL)
    if not blocks:
        raise ValueError(f"{chapter}: the solution to {label!r} has no code")
    return "\n".join(blocks)


def run_solution(chapter: str, label: str, namespace: dict) -> tuple[dict, str]:
    """Run the solution's code as if pasted at the end of the chapter, then undo its assignments.

    ``namespace`` is the chapter's ``globals()``: the code runs in it (so the chapter's functions see
    what the solution assigns, as they would in a reader's notebook), and afterwards every name is
    bound again as before. Returns the names as the solution left them, and what it printed. Figures
    it draws are closed, not shown.
    """
    import matplotlib.pyplot as plt

    before = dict(namespace)
    printed = io.StringIO()
    show = plt.show
    plt.show = lambda *args, **kwargs: None
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(solution_code(chapter, label), f"<solution {label}>", "exec"), namespace)
        after = dict(namespace)
    finally:
        plt.show = show
        plt.close("all")
        namespace.clear()
        namespace.update(before)
    return after, printed.getvalue()
