"""The package itself: cheap params imports, no logging side effects, the README commands match CI.

The import test runs in a fresh interpreter (marked `e2e`): what a new process imports is the point.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.e2e
def test_params_import_without_tensorflow_and_without_logging_setup() -> None:
    code = (
        "import logging, sys\n"
        "root_handlers = list(logging.getLogger().handlers)\n"
        "from tfaip_core import TrainerParams, DataBaseParams, ScenarioBaseParams, ConfigError\n"
        "from tfaip_core.trainer.params_io import flatten\n"
        "TrainerParams(output_dir='x').validate()\n"
        "assert 'tensorflow' not in sys.modules, 'params imported TensorFlow'\n"
        "assert logging.getLogger().handlers == root_handlers\n"
        "assert logging.getLogger('tfaip_core').handlers == []\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO), timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```\n\s*(pip install [^\n]+)\n\s*```", readme)
    assert len(commands) == 2, commands  # exactly two setup commands
    assert "tfaip-train scenarios.tutorial" in commands[0]
    ci = (REPO / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
    assert "set -euo pipefail" in ci


def _params_classes() -> list:
    import importlib
    import inspect
    import pkgutil

    import tfaip_core

    found = []
    for info in pkgutil.walk_packages(tfaip_core.__path__, "tfaip_core."):
        if "scripts" in info.name:
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and hasattr(cls, "__pai_dataclass__"):
                found.append(cls)
    return found


def test_every_params_field_has_help_naming_its_default() -> None:
    import dataclasses

    classes = _params_classes()
    assert len(classes) > 20
    missing = []
    for cls in classes:
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            is_group = dataclasses.is_dataclass(default) or (
                isinstance(default, list) and f.type.__args__ and dataclasses.is_dataclass(f.type.__args__[0])
            )
            text = f.metadata.get("help") or ""
            if not text or (not is_group and "Defaults to " not in text):
                missing.append(f"{cls.__name__}.{f.name}")
    assert not missing, missing


def test_params_modules_do_not_import_tensorflow_at_top_level() -> None:
    import ast
    import sys

    # the params modules proper (a scenario module may keep its params beside TensorFlow code)
    for cls in [c for c in _params_classes() if c.__module__.endswith(("params", "processor"))]:
        tree = ast.parse(open(sys.modules[cls.__module__].__file__).read())
        for node in tree.body:
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                assert name.split(".")[0] not in {"tensorflow", "keras"}, (cls.__module__, name)
