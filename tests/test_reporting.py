"""emlib.reporting.Table: aligned text for nbval, HTML for the book."""

import numpy as np
import pytest

from emlib.reporting import Table


def test_text_is_right_aligned_with_rounded_numbers():
    table = Table([["A", 0.7967, 0.5196], ["B", 12.0, np.float64(-3.14159)]],
                  headers=["", "theta_A", "theta_B"], digits=2)
    assert repr(table) == (
        "   theta_A  theta_B\n"
        "A     0.80     0.52\n"
        "B    12.00    -3.14"
    )


def test_docstring_example():
    table = Table([["A", 0.7967, 0.5196]], headers=["", "theta_A", "theta_B"], digits=2)
    assert repr(table) == "   theta_A  theta_B\nA     0.80     0.52"


def test_digits_per_column_and_non_floats_unchanged():
    table = Table([[3, 1.23456, 1.23456, "x"]], headers=["n", "a", "b", "s"], digits=[0, 1, 4, 0])
    assert table.cells == [["3", "1.2", "1.2346", "x"]]
    assert Table([[np.int64(7), True, None]], headers=["i", "b", "n"]).cells == [["7", "True", "None"]]


def test_no_negative_zero_and_non_finite():
    table = Table([[-1e-9, -0.0004, np.nan, -np.inf]], headers=["a", "b", "c", "d"], digits=3)
    assert table.cells == [["0.000", "0.000", "nan", "-inf"]]
    assert Table([[-0.0006]], headers=["a"], digits=3).cells == [["-0.001"]]


def test_title_and_empty_table():
    table = Table([], headers=["alpha", "b"], title="Nothing yet")
    assert repr(table) == "Nothing yet\nalpha  b"
    assert "<caption>Nothing yet</caption>" in table._repr_html_()
    assert "<tbody></tbody>" in table._repr_html_()


def test_html_escapes_and_matches_cells():
    table = Table([["<b>", 1.5]], headers=["name & co", "x"], digits=1)
    html = table._repr_html_()
    assert html.startswith('<table class="emlib-table">')
    assert "<th>name &amp; co</th><th>x</th>" in html
    assert "<tr><td>&lt;b&gt;</td><td>1.5</td></tr>" in html
    assert "<caption>" not in html


@pytest.mark.parametrize(
    ("rows", "kwargs", "match"),
    [
        ([[1, 2, 3]], {"headers": ["a", "b"]}, "row 0 has 3 cells, but there are 2 headers"),
        ([[1, 2], [1]], {"headers": ["a", "b"]}, "row 1 has 1 cells"),
        ([[1, 2]], {"headers": ["a", "b"], "digits": [1, 2, 3]}, "digits must be one int or 2 ints"),
    ],
)
def test_errors(rows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Table(rows, **kwargs)
