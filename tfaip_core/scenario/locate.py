"""Find a scenario class from what the user typed: a module, a package, a file path or `module:Class`."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from types import ModuleType
from typing import List, Type

from tfaip_core.errors import ConfigError
from tfaip_core.scenario.scenario_base import ScenarioBase


def locate_scenario(spec: str) -> Type[ScenarioBase]:
    """Return the scenario class named by `spec`.

    `spec` is one of: a module (`scenarios.tutorial.scenario`), a package whose `scenario`
    submodule holds the class (`scenarios.tutorial`), a file path (`scenarios/tutorial/scenario.py`)
    or `module:Class` (required when a module holds several scenarios). The current directory
    is importable.

    Raises:
        ConfigError: the module cannot be imported, or holds no or several scenarios.
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, class_name = spec.partition(":")
    module = _import(module_name, spec)
    if class_name:
        cls = getattr(module, class_name, None)
        if not (inspect.isclass(cls) and issubclass(cls, ScenarioBase)):
            found = ", ".join(c.__name__ for c in _scenarios_in(module)) or "none"
            raise ConfigError(
                f"Scenario {spec!r}: {module.__name__} has no scenario class {class_name!r} (found: {found})."
            )
        return cls
    candidates = _scenarios_in(module)
    if not candidates and hasattr(module, "__path__"):
        try:
            submodule = importlib.import_module(module.__name__ + ".scenario")
        except ModuleNotFoundError as e:
            if e.name != module.__name__ + ".scenario":
                raise ConfigError(f"Scenario {spec!r} cannot be imported: {e}.") from e
        else:
            candidates = _scenarios_in(submodule)
    if not candidates:
        raise ConfigError(
            f"Scenario {spec!r}: module {module.__name__} defines no ScenarioBase subclass. "
            "Fix: name the module that defines the scenario, or use module:Class."
        )
    if len(candidates) > 1:
        names = ", ".join(f"{module_name}:{c.__name__}" for c in candidates)
        raise ConfigError(f"Scenario {spec!r} is ambiguous: it holds several scenarios. Fix: choose one of {names}.")
    return candidates[0]


def _import(module_name: str, spec: str) -> ModuleType:
    if module_name.endswith(".py") or os.sep in module_name:
        path = os.path.abspath(module_name)
        if not os.path.isfile(path):
            raise ConfigError(f"Scenario file {module_name!r} does not exist.")
        module_name = _module_name_of_file(path)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise ConfigError(
            f"Scenario {spec!r} cannot be imported: no module named {e.name!r}. "
            "Fix: run from the directory that contains the scenario package, or pass a file path."
        ) from e
    except ImportError as e:
        raise ConfigError(f"Scenario {spec!r} cannot be imported: {e}.") from e


def _module_name_of_file(path: str) -> str:
    """The dotted module name of a file, found by walking up through packages (`__init__.py`)."""
    directory, filename = os.path.split(path)
    parts = [os.path.splitext(filename)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return ".".join(parts)


def _scenarios_in(module: ModuleType) -> List[Type[ScenarioBase]]:
    """Concrete scenario classes in `module`'s namespace (framework base classes excluded)."""
    found = []
    for value in vars(module).values():
        if (
            inspect.isclass(value)
            and issubclass(value, ScenarioBase)
            and not value.__module__.startswith("tfaip_core.")
            and not inspect.isabstract(value)
            and hasattr(value, "data_cls")
            and value not in found
        ):
            found.append(value)
    return found
