"""tests/deferred_imports.py: its stand-in behaves as the module it defers, and Hypothesis's plugin
is dropped only from a process with nothing of Hypothesis's to report."""

import importlib.util
import sys
from types import SimpleNamespace

import _hypothesis_pytestplugin
import deferred_imports
import pytest

SLOW_MODULE = "def answer(x):\n    return 2 * x\n\n\nOTHER = 'other'\n"


def test_stand_in_imports_the_module_when_first_used(tmp_path, monkeypatch):
    (tmp_path / "slow_to_import.py").write_text(SLOW_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        deferred_imports._defer("slow_to_import", "answer")
        stand_in = sys.modules["slow_to_import"]
        from slow_to_import import answer  # what jsonschema does with rfc3987_syntax

        assert sys.modules["slow_to_import"] is stand_in, "imported before first use"
        assert answer(21) == 42
        assert sys.modules["slow_to_import"] is not stand_in
        assert sys.modules["slow_to_import"].answer(1) == 2
        assert stand_in.OTHER == "other"
        with pytest.raises(AttributeError):
            stand_in.__path__  # noqa: B018 (the import system's question must not import it)
    finally:
        sys.modules.pop("slow_to_import", None)


def test_a_missing_module_gets_no_stand_in():
    deferred_imports._defer("no_such_module_anywhere", "answer")
    assert "no_such_module_anywhere" not in sys.modules


@pytest.mark.skipif(importlib.util.find_spec("rfc3987_syntax") is None, reason="not installed")
def test_pytest_never_built_the_iri_parsers():
    assert "rfc3987_syntax.syntax_helpers" not in sys.modules, (
        "rfc3987_syntax was imported in this pytest process: is '-p deferred_imports' still first "
        "in pyproject.toml's addopts?"
    )


class FakeManager:
    def __init__(self, reports):
        self.plugins = {
            "hypothesispytest": _hypothesis_pytestplugin,
            "terminalreporter": SimpleNamespace(stats={"passed": reports}),
        }

    def get_plugin(self, name):
        return self.plugins.get(name)

    def unregister(self, plugin):
        self.plugins = {name: each for name, each in self.plugins.items() if each is not plugin}


def plugin_after_session(reports, hypothesis_imported, monkeypatch):
    if hypothesis_imported:
        monkeypatch.setitem(sys.modules, "hypothesis", SimpleNamespace())
    else:
        monkeypatch.delitem(sys.modules, "hypothesis", raising=False)
    manager = FakeManager(reports)
    deferred_imports.pytest_sessionfinish(SimpleNamespace(config=SimpleNamespace(pluginmanager=manager)))
    return manager.get_plugin("hypothesispytest")


def test_hypothesis_plugin_dropped_only_with_nothing_to_report(monkeypatch):
    plain = SimpleNamespace()
    with_statistics = SimpleNamespace(**{_hypothesis_pytestplugin.STATS_KEY: "stats"})
    failing = SimpleNamespace(**{_hypothesis_pytestplugin.FAILING_EXAMPLES_KEY: "[]"})
    assert plugin_after_session([plain], hypothesis_imported=False, monkeypatch=monkeypatch) is None
    assert plugin_after_session([plain], hypothesis_imported=True, monkeypatch=monkeypatch) is not None
    for report in (with_statistics, failing):
        assert plugin_after_session([plain, report], False, monkeypatch) is not None


def test_kernels_start_without_debugpy():
    """conftest.py puts tests/kernel_path first on the PYTHONPATH of the processes the tests start:
    a kernel there finds no debugpy, and ipykernel starts it without its debugger (and pydevd)."""
    import os
    import subprocess

    assert os.environ["PYTHONPATH"].split(os.pathsep)[0].endswith(os.path.join("tests", "kernel_path"))
    probe = "import sys, ipykernel.debugger as d; print(d._is_debugpy_available, 'pydevd' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
