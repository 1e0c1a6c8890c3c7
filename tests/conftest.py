import fcntl
import json
import subprocess
import sys
from pathlib import Path

import matplotlib

# The tests themselves never open windows. (Do not set MPLBACKEND here: the kernels would inherit it
# and lose their inline figures.)
matplotlib.use("Agg")

import pytest
from hypothesis import settings

# Property tests explore the same examples on every run: a CI failure is then always reproducible,
# never a one-off draw. (Exploration with fresh random examples: pytest --hypothesis-profile=explore.)
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import booksite  # scripts/booksite.py: build, serve and drive Chromium


@pytest.fixture(scope="session")
def strict_book_build(tmp_path_factory, worker_id):
    """The book built once, strictly (``-n -W --keep-going``), into a fresh folder.

    Returns ``(completed_process, html_folder)``; tests/test_book_build.py judges the build, the
    browser tests read its pages. With pytest-xdist the workers share one build: the first to need
    it builds it under a lock, the others wait for it and read the same folder.
    """
    if worker_id == "master":  # no xdist
        output = tmp_path_factory.mktemp("book")
        return booksite.run_build(output, strict=True), output / "_build" / "html"
    shared = tmp_path_factory.getbasetemp().parent  # the same folder for every worker of this run
    output, record = shared / "book", shared / "book-build.json"
    with open(shared / "book-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            output.mkdir()
            result = booksite.run_build(output, strict=True)
            record.write_text(json.dumps({"args": result.args, "returncode": result.returncode,
                                          "stdout": result.stdout, "stderr": result.stderr}))
        saved = json.loads(record.read_text())
    result = subprocess.CompletedProcess(saved["args"], saved["returncode"], saved["stdout"], saved["stderr"])
    return result, output / "_build" / "html"


@pytest.fixture
def count_calls(monkeypatch):
    """``count(owner, name, key=name)`` replaces ``owner.name`` (a function, or a class's static
    method) by one that counts its calls in ``count.calls[key]`` and calls it; undone after the test."""
    import inspect

    calls = {}

    def count(owner, name: str, key: str | None = None) -> None:
        key = key or name
        calls[key] = 0
        original = getattr(owner, name)

        def counting(*args, **kwargs):
            calls[key] += 1
            return original(*args, **kwargs)

        static = isinstance(inspect.getattr_static(owner, name), staticmethod)
        monkeypatch.setattr(owner, name, staticmethod(counting) if static else counting)

    count.calls = calls
    return count
