"""The usage examples in the docstrings of ``espnet_ddp.core`` run and print what they say.

Every module of the package is run through :mod:`doctest` (a new module is picked up without
editing this file); a wrong output or an exception in an example fails its module's test."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import types

import pytest

import espnet_ddp.core as core

MODULES = [core.__name__] + sorted(
    info.name for info in pkgutil.iter_modules(core.__path__, prefix=f"{core.__name__}.")
)
# Modules whose docstrings are known to carry examples: they must keep running some.
WITH_EXAMPLES = ["config", "lr_fit", "schedule", "score_table", "selection", "time_drop"]


def run_examples(module: types.ModuleType) -> tuple[doctest.TestResults, str]:
    """Run the module's doctests; returns (failed, attempted) and the failure report."""
    report: list[str] = []
    runner = doctest.DocTestRunner(verbose=False)
    for test in doctest.DocTestFinder().find(module, module.__name__):
        runner.run(test, out=report.append)
    return runner.summarize(verbose=False), "".join(report)


@pytest.mark.parametrize("name", MODULES)
def test_examples_of_every_core_module_run(name: str) -> None:
    results, report = run_examples(importlib.import_module(name))
    assert results.failed == 0, report


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_documented_modules_still_have_examples(name: str) -> None:
    results, _ = run_examples(importlib.import_module(f"{core.__name__}.{name}"))
    assert results.attempted > 0, f"{name}: no example runs any more"


def test_a_broken_example_is_reported() -> None:
    module = types.ModuleType("broken", ">>> 1 + 1\n3\n>>> len([0, 1])\n2\n>>> undefined_name\n")
    results, report = run_examples(module)
    assert results == (2, 3)
    assert "Expected:\n    3\nGot:\n    2" in report and "NameError" in report
