"""The documentation covers the public API, and the gallery runs the examples as CI does."""

import importlib
import re
import sys
from pathlib import Path

import pytest

import skmediate
from skmediate import datasets, exceptions, plotting, simulation

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _api_entries():
    """Fully qualified names listed in the autosummary tables of docs/api.rst."""
    names, module = set(), None
    for line in (DOCS / "api.rst").read_text().splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match.group(1)
        elif match := re.match(r"   ([A-Za-z_]\w*)$", line):
            names.add(f"{module}.{match.group(1)}")
    return names


def test_api_reference_lists_every_public_name():
    public = {f"skmediate.{n}" for n in skmediate.__all__ if n != "__version__"}
    for module in (datasets, simulation, plotting):
        public |= {f"{module.__name__}.{n}" for n in module.__all__}
    listed = _api_entries()
    exported = {
        f"skmediate.{n}"
        for n in dir(exceptions)
        if isinstance(getattr(exceptions, n), type)
        and issubclass(getattr(exceptions, n), Exception)
        and getattr(exceptions, n).__module__ == exceptions.__name__
    }
    assert public - listed == set()
    assert exported - listed == set(), "an exception or warning is not documented"
    # every entry exists (a renamed object fails here, not only in Sphinx)
    for name in listed:
        module, _, attr = name.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), name


def test_result_classes_returned_by_the_api_are_documented():
    from skmediate._numerics.diagnostics import MediatorFirstStage
    from skmediate._numerics.sets import ConfidenceSet
    from skmediate._numerics.wild import WildBootstrapTest
    from skmediate._restrictions import WaldTest

    listed = _api_entries()
    for cls in (ConfidenceSet, MediatorFirstStage, WaldTest, WildBootstrapTest):
        assert f"{cls.__module__}.{cls.__name__}" in listed


@pytest.fixture
def gallery(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "sphinxext"))
    sys.modules.pop("skmediate_gallery", None)
    return importlib.import_module("skmediate_gallery")


@pytest.mark.parametrize("fast", ["", "1"])
def test_gallery_arguments(gallery, monkeypatch, tmp_path, fast):
    monkeypatch.setenv("SKMEDIATE_DOCS_FAST", fast)
    monkeypatch.setattr(gallery, "FIGURES", tmp_path)
    examples = Path(__file__).resolve().parents[1] / "examples"
    for script in sorted(examples.glob("*.py")):
        text = script.read_text()
        namespace = {"__doc__": ""}
        argv = gallery.example_argv(
            {}, {"src_file": str(script), "example_globals": namespace}
        )
        assert ("--output-dir" in argv) == ('"--output-dir"' in text), script.name
        if "--output-dir" in argv:
            assert argv[argv.index("--output-dir") + 1] == str(tmp_path / script.stem)
        assert ("--fast" in argv) == (fast == "1" and '"--fast"' in text), script.name
        # the script's own path and docstring, which sphinx-gallery leaves out
        assert namespace["__file__"] == str(script)
        assert namespace["__doc__"].splitlines()[0] in text.splitlines()[0]
    assert '"--fast"' in (examples / "simulation_study.py").read_text()
