"""The book builds with Sphinx warnings treated as errors, and its API reference is complete.

The build itself is the session fixture ``strict_book_build`` (tests/conftest.py), shared with the
browser tests so that the book is built once per test run.
"""

import importlib
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import booksite  # scripts/booksite.py: the toc's documents

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r"^\.\. auto(module|class|function|method):: (\S+)\n((?:   :.*\n)*)", re.MULTILINE)

pytestmark = pytest.mark.slow


def test_strict_book_build(strict_book_build):
    result, html = strict_book_build
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"strict build failed:\n{log[-6000:]}"
    assert "WARNING" not in log, f"build printed warnings:\n{log[-6000:]}"
    assert (html / "index.html").exists() and (html / "book" / "intro.html").exists()
    sys.stdout.write(log[-500:])


def documented_names(api_source: str) -> list[str]:
    """HTML ids that the autodoc directives of book/api.md must produce."""
    ids = []
    for kind, name, options in DIRECTIVE.findall(api_source):
        if kind == "module":
            ids.append(f"module-{name}")
            continue
        ids.append(name)
        members = re.search(r":members: (.+)", options)
        if kind == "class" and members:
            ids += [f"{name}.{member.strip()}" for member in members.group(1).split(",")]
    return ids


def test_api_reference_documents_every_name(strict_book_build):
    # An emlib that autodoc cannot import gives empty sections, which a non-strict build accepts.
    _, html = strict_book_build
    page = (html / "book" / "api.html").read_text(encoding="utf-8")
    ids = documented_names((ROOT / "book" / "api.md").read_text(encoding="utf-8"))
    assert len(ids) > 100
    missing = [name for name in ids if f'id="{name}"' not in page]
    assert not missing, f"api.html lacks {len(missing)} documented names, e.g. {missing[:5]}"


def test_api_reference_lists_every_public_name():
    """A module whose members book/api.md lists by name shows every name of its ``__all__`` (a
    function added to the module later is not left out of the reference)."""
    source = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    directives = DIRECTIVE.findall(source)
    documented = {name for _, name, _ in directives}
    checked, problems = 0, []
    for kind, name, options in directives:
        members = re.search(r":members: (.+)", options)
        if kind != "module" or members is None:
            continue
        listed = {member.strip() for member in members.group(1).split(",")}
        public = getattr(importlib.import_module(name), "__all__", [])
        checked += len(public)
        problems += [f"{name}.{each}" for each in public
                     if each not in listed and f"{name}.{each}" not in documented]
    assert checked > 0, "no module lists its members: is the pattern out of date?"
    assert not problems, f"book/api.md does not show {problems}"


CHAPTER_NUMBER = re.compile(r'<h1><span class="section-number">(\d+)\. </span>')
CAPTION_NUMBER = re.compile(r'<span class="caption-number">(\w+) ([\d.]+)')
EQUATION_NUMBER = re.compile(r'<span class="eqno">\(([\d.]+)\)')
NUMBERED_REFERENCE = re.compile(
    r'<span class="std std-numref">(\w+) ([\d.]+)|href="[^"]*#equation-[^"]*">\(([\d.]+)\)')


def test_numbers_run_per_chapter(strict_book_build):
    """Figures, tables, exercises, theorems and equations are numbered per chapter, as in Bishop.

    Chapter 4's third figure is "Figure 4.3" and its first equation "(4.1)"; the count restarts in
    every chapter, and references to them (``{numref}``, ``{eq}``) say the same. Pages outside the
    numbered parts (the landing page, the API reference) have no chapter number.
    """
    _, html = strict_book_build
    checked, problems = 0, []
    for docname in booksite.toc_docnames():
        page = (html / f"{docname}.html").read_text(encoding="utf-8")
        chapter = CHAPTER_NUMBER.search(page)
        if chapter is None:
            continue
        prefix = f"{chapter.group(1)}."
        captions = CAPTION_NUMBER.findall(page)
        equations = EQUATION_NUMBER.findall(page)
        for kind, number in [*captions, *[("equation", n) for n in equations]]:
            checked += 1
            if not number.startswith(prefix):
                problems.append(f"{docname}: {kind} {number} is not numbered in chapter {prefix[:-1]}")
        for kind in {kind for kind, _ in captions}:
            numbers = [number for k, number in captions if k == kind]
            counts = [int(number.split(".")[1]) for number in dict.fromkeys(numbers)]
            if counts != list(range(1, len(counts) + 1)):
                problems.append(f"{docname}: {kind} numbers {numbers} do not count 1, 2, 3, ...")
        for match in NUMBERED_REFERENCE.finditer(page):
            number = match.group(2) or match.group(3)
            if not re.fullmatch(r"\d+\.\d+", number):
                problems.append(f"{docname}: a reference reads {match.group(0)!r}")
    assert checked > 100, f"only {checked} numbered items found: is numbering per chapter on?"
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------- raw markup
# TeX or MyST that reaches a page as text (a `$` that did not open math, a role that did not parse)
# builds without a warning. It is looked for in the text a reader sees: outside math, code and
# scripts.
RAW_MARKUP = re.compile(
    r"\\(?:frac|mathbf|mathrm|boldsymbol|sum|prod|theta|mu|sigma|alpha|beta|gamma|left|right|begin"
    r"|end|hat|tilde|cdot|quad|mid|top)\b|\$\$|\$[^$\s][^$]*\\[a-zA-Z]|\{(?:numref|doc|eq|ref|math|cite)\}`"
    r"|^:::|```",
    re.MULTILINE,
)
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _ReaderText(HTMLParser):
    """The text of a page outside math, code, scripts and styles."""

    def __init__(self):
        super().__init__()
        self.hidden, self.chunks = [], []

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self.hidden.append(tag in {"script", "style", "pre", "code", "kbd", "samp", "textarea"}
                           or "math" in classes or any("highlight" in c for c in classes))

    def handle_endtag(self, tag):
        if tag not in _VOID and self.hidden:
            self.hidden.pop()

    def handle_data(self, data):
        if not any(self.hidden):
            self.chunks.append(data)


def raw_markup(html_text: str) -> list[str]:
    """Snippets of TeX or MyST markup shown as text in a page."""
    parser = _ReaderText()
    parser.feed(html_text)
    text = "".join(parser.chunks)
    return [text[max(0, m.start() - 40):m.end() + 20] for m in RAW_MARKUP.finditer(text)]


def test_raw_markup_check_can_fail():
    page = ('<p>ok <span class="math notranslate">\\(\\mathbf x\\)</span> <code>$\\frac$</code>'
            "<pre>```</pre></p>")
    assert raw_markup(page) == []
    assert raw_markup("<p>then $\\mathbf{x}$ leaked</p>")
    assert raw_markup("<p>see {numref}`fig-a`</p>")
    assert raw_markup("<p>a\n::: note</p>")


def test_no_raw_markup_in_the_pages(strict_book_build):
    _, html = strict_book_build
    problems = []
    for docname in booksite.toc_docnames():
        found = raw_markup((html / f"{docname}.html").read_text(encoding="utf-8"))
        problems += [f"{docname}: {snippet!r}" for snippet in found]
    assert not problems, "markup shown as text:\n" + "\n".join(problems)
