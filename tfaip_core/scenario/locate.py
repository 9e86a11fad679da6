"""Find a scenario class from what the user typed (a module, a package, a file path or `module:Class`) or from
what a params file names, and report a scenario module that cannot be imported as one line (file, line, cause).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback
from types import ModuleType
from typing import List, Optional, Tuple, Type

from tfaip_core.errors import ConfigError
from tfaip_core.scenario.scenario_base import ScenarioBase
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.trainer.params_io import load_trainer_params, read_params_file, scenario_spec

# Files the framework writes into run and model directories; the code a params file names never lives there.
RUN_PARAMS_FILE = "trainer_params.json"


def locate_scenario(spec: str) -> Type[ScenarioBase]:
    """Return the scenario class named by `spec`.

    `spec` is one of: a module (`scenarios.tutorial.scenario`), a package whose `scenario`
    submodule holds the class (`scenarios.tutorial`), a file path (`scenarios/tutorial/scenario.py`)
    or `module:Class` (required when a module holds several scenarios). The current directory
    is importable. A module that imports a scenario and subclasses it yields the subclass.

    Raises:
        ConfigError: the module cannot be imported (one line: file, line and cause), or holds no or several
            scenarios.
    """
    _current_directory_importable()
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
        submodule = _import_optional(module.__name__ + ".scenario", spec)
        candidates = _scenarios_in(submodule) if submodule is not None else []
    if not candidates:
        raise ConfigError(
            f"Scenario {spec!r}: module {module.__name__} defines no ScenarioBase subclass. "
            "Fix: name the module that defines the scenario, or use module:Class."
        )
    if len(candidates) > 1:
        names = ", ".join(f"{module_name}:{c.__name__}" for c in candidates)
        raise ConfigError(f"Scenario {spec!r} is ambiguous: it holds several scenarios. Fix: choose one of {names}.")
    return candidates[0]


def load_params_file(path: str) -> Tuple[Type[ScenarioBase], TrainerParams]:
    """The scenario a params file names and its `TrainerParams`, validated (see `trainer.params_io`).

    The scenario (`scenario.scenario_class`) is imported first: that is the code the file may run. In a
    run or model directory (a `trainer_params.json`) the scenario's code must live outside that directory.

    Raises:
        ConfigError: one line naming the file and the JSON path of the first bad entry.
    """
    data = read_params_file(path)
    spec = scenario_spec(data, path)
    if os.path.basename(path) == RUN_PARAMS_FILE:
        _refuse_code_inside(os.path.dirname(os.path.abspath(path)), spec, path)
    _current_directory_importable()
    top = spec.partition(":")[0].split(".")[0]
    if not _exists(top):  # e.g. a run started from a file (tfaip-train my_scenario.py), resumed elsewhere
        raise ConfigError(
            f'{path}: "scenario.scenario_class" {spec!r} cannot be imported: no module {top!r} here ({os.getcwd()}); '
            f"a run started from a scenario file imports it by its module name. Fix: run from the directory that "
            f"holds {top}.py (or the {top} package), or add that directory to PYTHONPATH "
            "(PYTHONPATH=/that/directory tfaip-resume-training ...); the run's train.log names the file."
        )
    scenario_cls = locate_scenario(spec)
    return scenario_cls, load_trainer_params(path, scenario_cls)


def _refuse_code_inside(directory: str, spec: str, source: str) -> None:
    """A run directory is data: refuse a scenario whose top-level module or package lies inside it."""
    _current_directory_importable()
    top = spec.partition(":")[0].split(".")[0]
    try:
        found = importlib.util.find_spec(top)  # a top-level name: found without running any code
    except (ImportError, ValueError):
        return  # not importable: locate_scenario reports it
    if found is None:
        return
    locations = list(found.submodule_search_locations or []) + ([found.origin] if found.origin else [])
    directory = os.path.realpath(directory)
    inside = [p for p in locations if os.path.realpath(p).startswith(directory + os.sep)]
    if inside:
        raise ConfigError(
            f'{source}: "scenario.scenario_class" names {spec!r}, whose code lies inside the run directory '
            f"({inside[0]}); a run directory holds data, not code. Fix: keep the scenario package outside the run "
            "directory and run from the directory that contains it."
        )


def _current_directory_importable() -> None:
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


def _import(module_name: str, spec: str) -> ModuleType:
    if module_name.endswith(".py") or os.sep in module_name:
        path = os.path.abspath(module_name)
        if not os.path.isfile(path):
            raise ConfigError(f"Scenario file {module_name!r} does not exist. Fix: check the path.")
        module_name = _module_name_of_file(path)
    try:
        return importlib.import_module(module_name)
    except Exception as e:  # anything the scenario's code raises while it is imported
        raise ConfigError(_import_failure(e, module_name, spec)) from None


def _import_optional(module_name: str, spec: str) -> Optional[ModuleType]:
    """Import `module_name` if it exists (a package's `scenario` submodule); its own errors are reported."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            return None
        raise ConfigError(_import_failure(e, module_name, spec)) from None
    except Exception as e:
        raise ConfigError(_import_failure(e, module_name, spec)) from None


def _import_failure(error: BaseException, module_name: str, spec: str) -> str:
    """One line: which file and line of the scenario failed, why, and the fix."""
    head = f"Scenario {spec!r} cannot be imported:"
    if isinstance(error, SyntaxError) and error.filename:
        where = f"{_shown_path(error.filename)} line {error.lineno}"
        return f"{head} {where}: {error.msg} (SyntaxError). Fix: correct the syntax there."
    frame = _culprit_frame(error)
    if isinstance(error, ModuleNotFoundError) and error.name:
        missing = error.name
        if frame is None or module_name == missing or module_name.startswith(missing + "."):
            return (
                f"{head} no module named {missing!r}. "
                "Fix: run from the directory that contains the scenario package, or pass a file path."
            )
        where = f"{_shown_path(frame.filename)} line {frame.lineno}"
        top = missing.split(".")[0]
        if top != missing and _exists(top):
            return f"{head} {where} imports {missing}, which does not exist. Fix: correct the import."
        return (
            f"{head} {where} imports {missing}, which is not installed. "
            f"Fix: install it (pip install {top}) or remove the import."
        )
    cause = f"{type(error).__name__}: {' '.join(str(error).split())}"
    if frame is None:
        return f"{head} {cause}. Fix: correct the scenario module."
    where = f"{_shown_path(frame.filename)} line {frame.lineno}"
    return f"{head} {where} raised {cause}. Fix: correct the scenario code there."


def _exists(top_level: str) -> bool:
    try:
        return importlib.util.find_spec(top_level) is not None
    except (ImportError, ValueError):
        return False


def _culprit_frame(error: BaseException) -> Optional[traceback.FrameSummary]:
    """The innermost traceback frame in the user's code (not Python's import machinery or installed packages)."""
    library = tuple(
        os.path.abspath(p) + os.sep for p in {sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}
    )
    user = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith("<")
        and not os.path.abspath(f.filename).startswith(library)
        and os.path.abspath(f.filename) != os.path.abspath(__file__)
    ]
    return user[-1] if user else None


def _shown_path(path: str) -> str:
    """`path` relative to the working directory when it lies below it (as the user typed it), else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


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
    """Concrete scenario classes in `module`'s namespace (framework base classes excluded).

    A scenario imported from elsewhere is not a candidate when the module defines a subclass of it: the module
    that imports `TutorialScenario` to extend it means its own subclass.
    """
    found: List[Type[ScenarioBase]] = []
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
    own = [c for c in found if c.__module__ == module.__name__]
    return [c for c in found if c in own or not any(issubclass(o, c) for o in own)]
