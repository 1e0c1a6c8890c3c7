"""The book builds with Sphinx warnings treated as errors, and its API reference is complete.

The build itself is the session fixture ``strict_book_build`` (tests/conftest.py), shared with the
browser tests so that the book is built once per test run.
"""

import re
import sys
from pathlib import Path

import pytest

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
