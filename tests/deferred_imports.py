"""A pytest plugin loaded before every other one (``-p deferred_imports`` in pyproject.toml) that
keeps slow imports no test needs out of pytest's own processes: the controller and both xdist
workers, so three times over at the start and at the end of every run.

- nbval imports nbformat, which imports jsonschema, whose format checkers import ``rfc3987_syntax``
  when it is installed (jupyterlab brings it, through ``jsonschema[format-nongpl]``). That module
  builds 39 Earley parsers as it is imported: 2.5-3 CPU seconds per process, before the first
  notebook can start (python-jsonschema/jsonschema#1428). jsonschema only keeps its
  ``is_valid_syntax``, to check the formats "iri" and "iri-reference" (no notebook schema uses
  them), so a stand-in module takes its place and imports the real one when first used.
- Hypothesis's plugin imports Hypothesis at the end of every run, to list the files its
  observability wrote and to report the statistics and failing examples of its tests: 2 CPU
  seconds where pytest has to rewrite Hypothesis's asserts again (nothing is cached when
  PYTHONDONTWRITEBYTECODE is set). A process that never imported Hypothesis and received no
  report from a Hypothesis test (``pytest book/``) has nothing to list, and drops the plugin
  before the summary.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import pytest


def _defer(name: str, function: str) -> None:
    """Put a stand-in for module ``name`` in ``sys.modules``: calling its ``function``, or reading
    any other attribute, imports the real module (which then replaces the stand-in)."""
    spec = None if name in sys.modules else importlib.util.find_spec(name)
    if spec is None:
        return

    def load() -> types.ModuleType:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return importlib.import_module(name)

    def deferred(*args, **kwargs):
        return getattr(load(), function)(*args, **kwargs)

    def other_attribute(attribute: str):
        if attribute.startswith("__"):  # the import system's questions (``__path__``...)
            raise AttributeError(attribute)
        return getattr(load(), attribute)

    stand_in = types.ModuleType(name, f"Stands in for {name} until first used ({__name__}).")
    stand_in.__spec__ = spec  # what importlib.util.find_spec(name) answers meanwhile
    setattr(stand_in, function, deferred)
    stand_in.__getattr__ = other_attribute
    sys.modules[name] = stand_in


_defer("rfc3987_syntax", "is_valid_syntax")


def _from_hypothesis_test(report, plugin) -> bool:
    return plugin.STATS_KEY in report.__dict__ or plugin.FAILING_EXAMPLES_KEY in report.__dict__


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    manager = session.config.pluginmanager
    plugin = manager.get_plugin("hypothesispytest")
    if plugin is None or "hypothesis" in sys.modules:
        return
    reporter = manager.get_plugin("terminalreporter")
    reports = [] if reporter is None else [each for group in reporter.stats.values() for each in group]
    if not any(_from_hypothesis_test(report, plugin) for report in reports):
        manager.unregister(plugin)
