"""numpydoc validation of every public name's docstring.

Run from the repository root: ``python docs/validate_docstrings.py``. It checks
the names the API reference documents (``docs/api.rst``): everything in
``skmediate.__all__``, the public modules' ``__all__``, the result classes the
estimators return, and the public methods and properties of every class. It
prints one line per problem and exits with status 1 if there is any.

Checks that are not applied, and why:

- ``ES01``: an extended summary is not required where the summary says it all;
- ``SA01``: a See Also section is not required;
- ``EX01``: Examples are required of estimators and workflows (where the
  doctests run them), not of every method, property and result class;
- ``PR01`` of a result class (a frozen dataclass or named tuple): users get
  these objects back rather than create them, and their fields are
  documented as Attributes, not as the constructor's parameters.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from functools import cached_property
from pathlib import Path

from numpydoc.validate import validate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import skmediate
from skmediate import datasets, exceptions, plotting, simulation

IGNORED = {"ES01", "SA01", "EX01"}

# returned by the estimators and results; documented under their own modules
RESULT_CLASSES = [
    "skmediate._numerics.sets.ConfidenceSet",
    "skmediate._numerics.diagnostics.MediatorFirstStage",
    "skmediate._restrictions.WaldTest",
    "skmediate._numerics.wild.WildBootstrapTest",
]

# members that come from scikit-learn, dataclasses or object, not from skmediate
INHERITED = {"set_fit_request", "set_predict_request", "set_score_request"}


def public_names() -> list[str]:
    """Import paths of every name the API reference documents."""
    names = [f"skmediate.{n}" for n in skmediate.__all__ if n != "__version__"]
    for module in (datasets, simulation, plotting):
        names += [f"{module.__name__}.{n}" for n in module.__all__]
    names += [
        f"skmediate.exceptions.{n}"
        for n, obj in vars(exceptions).items()
        if inspect.isclass(obj)
        and issubclass(obj, Exception)
        and obj.__module__ == exceptions.__name__
    ]
    names += RESULT_CLASSES
    return sorted(set(names))


def resolve(path: str):
    """The object at an import path such as ``skmediate.bootstrap``."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def members(path: str, cls: type) -> list[str]:
    """The public methods and properties a class has from skmediate's code."""
    out = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("skmediate"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in INHERITED:
                continue
            if inspect.isfunction(value) or isinstance(
                value, property | cached_property
            ):
                out[name] = f"{path}.{name}"
    return sorted(out.values())


def is_result_class(obj) -> bool:
    """A frozen dataclass or a named tuple: fields documented as Attributes."""
    if not inspect.isclass(obj):
        return False
    if issubclass(obj, tuple) and hasattr(obj, "_fields"):
        return True
    params = getattr(obj, "__dataclass_params__", None)
    return params is not None and params.frozen


def main() -> int:
    targets, classes = [], set()
    for path in public_names():
        obj = resolve(path)
        targets.append(path)
        if inspect.isclass(obj):
            classes.add(path)
        if inspect.isclass(obj) and not issubclass(obj, Exception):
            targets += members(path, obj)
    problems = 0
    for path in targets:
        result_class = path in classes and is_result_class(resolve(path))
        ignored = IGNORED | ({"PR01"} if result_class else set())
        for code, message in validate(path)["errors"]:
            if code not in ignored:
                problems += 1
                print(f"{path}: {code} {message}")
    print(f"{len(targets)} docstrings checked, {problems} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
