"""The book's notebooks are committed executed, in order, without errors.

nbval only compares cells that have stored outputs, so an unexecuted notebook would pass it vacuously;
these checks close that gap.
"""

import ast
import base64
import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def code_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_notebooks():
    assert NOTEBOOKS, "the book has no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_was_executed_in_order(path):
    counts = [cell["execution_count"] for cell in code_cells(path)]
    assert counts, f"{path.name} has no code cells"
    missing = [i for i, n in enumerate(counts) if n is None]
    assert not missing, f"{path.name}: code cells {missing} were never executed"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts} are not 1, 2, 3, ...; restart the kernel and run all"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_errors(path):
    for i, cell in enumerate(code_cells(path)):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{path.name}: cell {i} stored an error"
            if output["output_type"] == "stream" and output["name"] == "stderr":
                text = "".join(output["text"])
                assert "Traceback" not in text, f"{path.name}: cell {i} printed a traceback"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_metadata_and_paths(path):
    raw = path.read_text(encoding="utf-8")
    metadata = json.loads(raw)["metadata"]
    assert "language_info" in metadata, f"{path.name} lacks language_info (never executed?)"
    assert metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernel is not python3"
    assert not re.search(r"/(work|tmp|root|home)/", raw), f"{path.name} contains a machine path"


# What fits the book's text column without a scroll bar on a desktop screen (1280 px): code cells
# take 79 characters (PEP 8), plain-text outputs 88.
MAX_CODE_LINE = 79
MAX_OUTPUT_LINE = 88


def shown_text_outputs(cell):
    """The outputs a reader sees as plain text: streams, and text/plain with nothing richer."""
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            yield "".join(output["text"])
        elif output["output_type"] in {"execute_result", "display_data"}:
            data = output.get("data", {})
            if "text/plain" in data and not {"text/html", "image/png", "image/svg+xml"} & set(data):
                yield "".join(data["text/plain"])


def too_long(lines, limit):
    return [f"{len(line)} chars: {line[:60]}..." for line in lines if len(line) > limit]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_and_output_lines_fit_the_page(path):
    problems = []
    for i, cell in enumerate(code_cells(path)):
        problems += [f"code cell {i}, code line of {p}" for p in
                     too_long("".join(cell["source"]).splitlines(), MAX_CODE_LINE)]
        for text in shown_text_outputs(cell):
            problems += [f"code cell {i}, output line of {p}" for p in
                         too_long(text.splitlines(), MAX_OUTPUT_LINE)]
    assert not problems, (
        f"{path.name}: lines longer than {MAX_CODE_LINE} (code) or {MAX_OUTPUT_LINE} (output) "
        "characters scroll sideways on a desktop screen:\n" + "\n".join(problems))


# Python shown in the prose (```python blocks in markdown cells and in the .md pages, e.g. the code of
# a solution) is code too: it takes the same 79 characters.
PAGES = sorted(p for p in BOOK.rglob("*.md") if ".ipynb_checkpoints" not in p.parts)
PYTHON_BLOCK = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*\{?(?:python3?|ipython3?|py)\}?"
                          r"[^\n]*\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)


def python_in_prose(text: str) -> list[str]:
    """The lines of every fenced python block in a markdown text."""
    return [line for match in PYTHON_BLOCK.finditer(text) for line in match.group("body").splitlines()]


def prose_texts(path):
    if path.suffix == ".md":
        return [("page", path.read_text(encoding="utf-8"))]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(f"markdown cell {i}", "".join(c["source"])) for i, c in enumerate(cells)
            if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS + PAGES, ids=lambda p: p.name)
def test_python_in_the_prose_fits_the_page(path):
    problems = [f"{where}, python line of {p}" for where, text in prose_texts(path)
                for p in too_long(python_in_prose(text), MAX_CODE_LINE)]
    assert not problems, (f"{path.name}: python lines longer than {MAX_CODE_LINE} characters scroll "
                          "sideways on a desktop screen:\n" + "\n".join(problems))


def test_python_in_prose_check_can_fail():
    text = ("Text of any length " * 10 + "\n\n````{solution} ex-a\n```python\nx = 1\n"
            + "y = " + "1 + " * 30 + "1\n```\nMore text.\n````\n\n```text\n" + "z" * 100 + "\n```\n")
    assert [len(line) for line in python_in_prose(text)] == [5, 125]
    assert len(too_long(python_in_prose(text), MAX_CODE_LINE)) == 1
    assert python_in_prose("```{code-block} python\nshort\n```\n") == []  # not fenced as python
    assert PAGES, "book/ has no .md pages"


# Library code a chapter shows through ``literalinclude`` is read on the same page: it takes the
# same 79 characters. With ``:pyobject:`` only that function or class is shown.
LITERALINCLUDE = re.compile(r"^[ \t]*(`{3,}|~{3,})\{literalinclude\}[ \t]+(?P<path>\S+)[ \t]*\n"
                            r"(?P<options>(?:[ \t]*:[\w-]+:.*\n)*)", re.MULTILINE)


def included_code(text: str, folder: Path) -> list[tuple[str, list[str]]]:
    """``(what, lines)`` for every ``literalinclude`` in a markdown text, read from ``folder``."""
    shown = []
    for match in LITERALINCLUDE.finditer(text):
        path = (folder / match.group("path")).resolve()
        lines = path.read_text(encoding="utf-8").splitlines()
        name = re.search(r":pyobject:[ \t]*(\S+)", match.group("options"))
        if name is not None:
            node = next(node for node in ast.parse("\n".join(lines)).body
                        if getattr(node, "name", None) == name.group(1))
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            lines = lines[first - 1:node.end_lineno]
        shown.append((f"{match.group('path')}" + (f" {name.group(1)}" if name else ""), lines))
    return shown


@pytest.mark.parametrize("path", NOTEBOOKS + PAGES, ids=lambda p: p.name)
def test_included_library_code_fits_the_page(path):
    problems = [f"{where}, {what}: line of {p}" for where, text in prose_texts(path)
                for what, lines in included_code(text, path.parent)
                for p in too_long(lines, MAX_CODE_LINE)]
    assert not problems, (f"{path.name}: included code lines longer than {MAX_CODE_LINE} characters "
                          "scroll sideways on a desktop screen:\n" + "\n".join(problems))


def test_included_code_check_can_fail(tmp_path):
    (tmp_path / "lib.py").write_text("def short():\n    return 1\n\n\ndef long():\n    return "
                                     + "1 + " * 30 + "1\n")
    text = ("Before.\n\n```{literalinclude} lib.py\n:language: python\n:pyobject: short\n```\n\n"
            "```{literalinclude} lib.py\n:pyobject: long\n```\n")
    (short, short_lines), (long, long_lines) = included_code(text, tmp_path)
    assert (short, short_lines) == ("lib.py short", ["def short():", "    return 1"])
    assert long == "lib.py long" and len(too_long(long_lines, MAX_CODE_LINE)) == 1
    assert sum(len(included_code(t, BOOK)) for page in NOTEBOOKS for _, t in prose_texts(page)) >= 5


def test_line_length_check_can_fail():
    cell = {"cell_type": "code", "source": ["x = 1\n", "y = " + "1 + " * 30 + "1\n"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["a" * 89 + "\n"]},
                        {"output_type": "execute_result",
                         "data": {"text/plain": ["b" * 200], "text/html": ["<table/>"]}}]}
    assert len(too_long("".join(cell["source"]).splitlines(), MAX_CODE_LINE)) == 1
    assert [len(t) for t in shown_text_outputs(cell)] == [90]


# ------------------------------------------------------------------------------------------ figures
# book/matplotlibrc sets every text of a figure to 11 pt or more, the Okabe-Ito colours and viridis.
# The desktop text column is 621 px wide: a figure at most 790 px wide (7.9 in at 100 dpi) is shrunk
# by at most 621/790, so its 11 pt text shows at 9 pt or more.
MAX_FIGURE_WIDTH = 790
SMALL_TEXT = re.compile(r"""(?:\b(?:fontsize|labelsize)\s*=\s*|["']size["']\s*:\s*)"""
                        r"""(\d+(?:\.\d+)?|["'](?:xx-small|x-small|small|smaller)["'])""")
MIN_FONT_SIZE = 11
# Matplotlib's default tab10 colours (red beside green): use the Okabe-Ito colours of the style instead.
NOT_COLOUR_BLIND_SAFE = re.compile(r"""["'](tab:\w+|#1f77b4|#ff7f0e|#2ca02c|#d62728|red|green)["']""",
                                   re.IGNORECASE)
# Math written as plain text in a caption: theta_A, alpha_t(k), sigma^2 (outside $...$ and `code`).
PLAIN_MATH = re.compile(r"\b[A-Za-z]+_[A-Za-z0-9{(]|[A-Za-z0-9)]\^[A-Za-z0-9{]")


def png_width(data: str) -> int:
    return int.from_bytes(base64.b64decode(data[:64])[16:20], "big")


def figure_problems(cell) -> list[str]:
    source = "".join(cell["source"])
    problems = []
    for match in SMALL_TEXT.finditer(source):
        size = match.group(1)
        if not size[0].isdigit() or float(size) < MIN_FONT_SIZE:
            problems.append(f"text smaller than {MIN_FONT_SIZE} pt: {match.group(0)}")
    problems += [f"colour {m.group(1)}: use the Okabe-Ito colours (book/matplotlibrc)"
                 for m in NOT_COLOUR_BLIND_SAFE.finditer(source)]
    for output in cell.get("outputs", []):
        image = output.get("data", {}).get("image/png")
        if image and png_width(image) > MAX_FIGURE_WIDTH:
            problems.append(f"figure {png_width(image)} px wide (at most {MAX_FIGURE_WIDTH})")
    caption = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption", "")
    prose = re.sub(r"\$[^$]*\$|`[^`]*`", "", caption)
    problems += [f"caption has math as plain text ({m.group(0)}...): write it as $...$"
                 for m in PLAIN_MATH.finditer(prose)]
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_are_legible_and_colour_blind_safe(path):
    problems = [f"code cell {i}: {p}" for i, cell in enumerate(code_cells(path)) for p in figure_problems(cell)]
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_figure_checks_can_fail():
    wide_png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (1190).to_bytes(4, "big")
                                + (450).to_bytes(4, "big")).decode()
    cell = {"source": ['ax.legend(fontsize=8.5)\n', 'ax.plot(x, color="tab:red")\n'],
            "outputs": [{"output_type": "display_data", "data": {"image/png": wide_png}}],
            "metadata": {"mystnb": {"figure": {"caption": "The bound L(q, theta_A); $\\theta_B$ fixed."}}}}
    problems = " ".join(figure_problems(cell))
    assert "fontsize=8.5" in problems and "tab:red" in problems and "1190 px" in problems
    assert "theta_A" in problems and "theta_B" not in problems


OKABE_ITO = {"#000000", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}


def test_book_style_sets_large_text_and_safe_colours():
    """book/matplotlibrc, which matplotlib reads in the kernels' folder, is the one shared style."""
    import matplotlib

    style = matplotlib.rc_params_from_file(BOOK / "matplotlibrc", use_default_template=False)
    for key in ["font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
                "legend.fontsize", "legend.title_fontsize", "figure.titlesize"]:
        assert float(style[key]) >= MIN_FONT_SIZE, f"{key} is {style[key]}"
    colours = {matplotlib.colors.to_hex(c["color"]) for c in style["axes.prop_cycle"]}
    assert colours <= OKABE_ITO, colours - OKABE_ITO
    assert style["image.cmap"] == "viridis" and style["figure.dpi"] == 100
    assert style["figure.figsize"][0] * style["figure.dpi"] <= MAX_FIGURE_WIDTH


# ---------------------------------------------------------------------------- warnings and names
SILENCED = re.compile(r"""(?:simplefilter|filterwarnings)\(\s*["']ignore["']""")
RECORDED = re.compile(r"catch_warnings\(record=True\) as (\w+)")


def warning_problems(source: str) -> list[str]:
    """A chapter may not silence warnings blindly: it records them and looks at what it caught.

    A filter that ignores a warning hides it whether or not the code raises it, so a chapter could go on
    explaining a warning the library no longer issues. Recorded warnings are printed or asserted on,
    and nbval, which re-runs every chapter, then fails when the warning is no longer raised.
    """
    problems = [f"silences warnings ({m.group(0)}...): record them with "
                "catch_warnings(record=True) and check or print what was caught"
                for m in SILENCED.finditer(source)]
    for match in RECORDED.finditer(source):
        rest = source[match.end():]
        if not re.search(rf"\b{match.group(1)}\b", rest):
            problems.append(f"records warnings in {match.group(1)!r} but never looks at them")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_warnings_are_checked_not_silenced(path):
    problems = [f"code cell {i}: {p}" for i, cell in enumerate(code_cells(path))
                for p in warning_problems("".join(cell["source"]))]
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_warning_check_can_fail():
    assert warning_problems('warnings.simplefilter("ignore", ConvergenceWarning)\nfit()')
    assert warning_problems("with warnings.catch_warnings(record=True) as caught:\n    fit()\n")
    assert not warning_problems(
        "with warnings.catch_warnings(record=True) as caught:\n    fit()\nassert caught\n")


PRIVATE = re.compile(r"\bfrom emlib[\w.]* import [^\n]*\b_\w|\bemlib(?:\.\w+)*\._\w|\bimport emlib(?:\.\w+)*\._\w")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_use_public_names_only(path):
    private = [m.group(0) for cell in code_cells(path) for m in PRIVATE.finditer("".join(cell["source"]))]
    assert not private, f"{path.name} uses emlib's private names: {private}"
    assert PRIVATE.search("from emlib.hmm import _reference as ref")


MANY_PANELS = re.compile(r"subplots\((\d+),\s*(\d+)")
# On a phone the text column is 342 px wide and a figure is shrunk to fit it. Its 11 pt text, 15 px
# high in the PNG (100 dpi), then shows at 15 * 342 / width px: below 7.5 px, unreadable, for a figure
# wider than 700 px, whatever its number of panels.
MAX_PHONE_FIGURE_WIDTH = 700


def needs_many_panels_class(cell) -> str:
    """Why a figure cell needs the class that keeps it 560 px wide on a phone ("" if it does not)."""
    grid = MANY_PANELS.search("".join(cell["source"]))
    if grid and int(grid.group(1)) * int(grid.group(2)) >= 4:
        return f"{int(grid.group(1)) * int(grid.group(2))} panels"
    widths = [png_width(output["data"]["image/png"]) for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    if widths and max(widths) > MAX_PHONE_FIGURE_WIDTH:
        return f"{max(widths)} px wide"
    return ""


def has_many_panels_class(cell) -> bool:
    figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
    return "emlib-many-panels" in str(figure.get("classes", "")).split()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_with_many_panels_stay_legible_on_a_phone(path):
    """A figure of four or more panels, or wider than 700 px, keeps 560 px on a phone."""
    missing = [f"code cell {i} ({why})" for i, cell in enumerate(code_cells(path))
               if (why := needs_many_panels_class(cell)) and not has_many_panels_class(cell)]
    assert not missing, (f"{path.name}: {', '.join(missing)}: its text would be too small on a phone; "
                         "give it mystnb.figure.classes 'emlib-many-panels' (_ext/static/emlib_site.css)")


def test_phone_figure_check_can_fail():
    def png(width):
        return base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + width.to_bytes(4, "big")
                                + (360).to_bytes(4, "big")).decode()

    def cell(source, width, classes=None):
        figure = {"classes": classes} if classes else {}
        return {"source": [source], "metadata": {"mystnb": {"figure": figure}},
                "outputs": [{"output_type": "display_data", "data": {"image/png": png(width)}}]}

    wide = cell("fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.6))\n", 747)
    assert needs_many_panels_class(wide) == "747 px wide" and not has_many_panels_class(wide)
    assert needs_many_panels_class(cell("fig, axes = plt.subplots(2, 2)\n", 600)) == "4 panels"
    assert not needs_many_panels_class(cell("fig, ax = plt.subplots(figsize=(6, 4))\n", 535))
    assert has_many_panels_class(cell("", 747, "emlib-many-panels"))


# ------------------------------------------------------------------------------- solution checks
# A chapter's last, hidden cell checks its solutions with book/solutions_check.py. A reader who
# downloads one chapter has no such file: the cell then skips its checks quietly. In the repository,
# where nbval runs, the file is next to the notebook, so the guard is true and every check runs.
SOLUTION_GUARD = 'if Path("solutions_check.py").is_file():\n    from solutions_check import run_solution\n'


def solution_check_cells(path):
    return [(i, "".join(c["source"])) for i, c in enumerate(code_cells(path))
            if "solutions_check" in "".join(c["source"])]


def guard_problems(source: str) -> list[str]:
    """What is wrong with how a hidden check cell imports book/solutions_check.py."""
    if SOLUTION_GUARD not in source:
        return ["imports solutions_check without the guard " + repr(SOLUTION_GUARD.split("\n")[0])]
    body = source.split(SOLUTION_GUARD, 1)[1]
    outside = [line for line in body.splitlines() if line.strip() and not line.startswith("    ")]
    return [f"code after the guarded block runs outside the repository too: {outside[0]!r}"] if outside else []


def test_solution_checks_run_here():
    assert (BOOK / "solutions_check.py").is_file(), "the hidden check cells would all skip"
    assert any(solution_check_cells(path) for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_checks_skip_quietly_outside_the_repository(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a folder holding the chapter alone, no solutions_check.py
    for i, source in solution_check_cells(path):
        assert not guard_problems(source), f"{path.name}, code cell {i}: {guard_problems(source)}"
        exec(compile(source, f"{path.name}, code cell {i}", "exec"), {})  # noqa: S102 (nothing from the chapter)
        assert capsys.readouterr() == ("", ""), f"{path.name}, code cell {i} printed outside the repository"


def test_solution_guard_check_can_fail():
    assert guard_problems("from solutions_check import run_solution\nrun_solution()\n")
    assert guard_problems(SOLUTION_GUARD + "    run_solution()\nprint(scope)\n")
    assert not guard_problems(SOLUTION_GUARD + "\n    run_solution()\n")
