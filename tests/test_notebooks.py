"""The book's notebooks are committed executed, in order, without errors.

nbval only compares cells that have stored outputs, so an unexecuted notebook would pass it vacuously;
these checks close that gap.
"""

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


def test_line_length_check_can_fail():
    cell = {"cell_type": "code", "source": ["x = 1\n", "y = " + "1 + " * 30 + "1\n"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["a" * 89 + "\n"]},
                        {"output_type": "execute_result",
                         "data": {"text/plain": ["b" * 200], "text/html": ["<table/>"]}}]}
    assert len(too_long("".join(cell["source"]).splitlines(), MAX_CODE_LINE)) == 1
    assert [len(t) for t in shown_text_outputs(cell)] == [90]
