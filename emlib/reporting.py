"""Tables for notebooks: aligned plain text in a terminal, an HTML table in the book.

Numbers are formatted once, when the table is made, so the text a notebook stores (and that nbval
compares) carries only the digits that matter.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

__all__ = ["Table"]


class Table:
    """A small table of results.

    Parameters
    ----------
    rows : sequence of sequences
        One sequence of cells per row.
    headers : sequence of str
        Column titles.
    digits : int or sequence of int, default 3
        Decimal places for floating-point cells, for all columns or per column.
    title : str, optional
        Shown above the table.

    Examples
    --------
    >>> Table([["A", 0.7967, 0.5196]], headers=["", "theta_A", "theta_B"], digits=2)
       theta_A  theta_B
    A     0.80     0.52
    """

    def __init__(self, rows: Sequence[Sequence], headers: Sequence[str], digits: int = 3, title: str = ""):
        self.headers = [str(h) for h in headers]
        n_columns = len(self.headers)
        per_column = [digits] * n_columns if np.ndim(digits) == 0 else list(digits)
        if len(per_column) != n_columns:
            raise ValueError(f"digits must be one int or {n_columns} ints, got {len(per_column)}")
        self.cells = []
        for i, row in enumerate(rows):
            row = list(row)
            if len(row) != n_columns:
                raise ValueError(f"row {i} has {len(row)} cells, but there are {n_columns} headers")
            self.cells.append([_format(value, d) for value, d in zip(row, per_column)])
        self.title = title

    def __repr__(self) -> str:
        widths = [max(len(h), *(len(r[j]) for r in self.cells)) if self.cells else len(h)
                  for j, h in enumerate(self.headers)]
        lines = [self.title] if self.title else []
        lines.append("  ".join(h.rjust(w) for h, w in zip(self.headers, widths)).rstrip())
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)).rstrip() for row in self.cells]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.cells
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (f'<table class="emlib-table">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")


def _format(value, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return str(value)
        text = f"{value:.{digits}f}"
        # Round-off below the shown digits must not print as "-0.00".
        return text.lstrip("-") if float(text) == 0 else text
    return str(value)
