"""Locating a scenario: a module that fails to import is one line (file, line, cause); subclasses are picked.

Each test writes its scenario package under `tmp_path` with a unique name, so nothing is cached between tests.
"""

from __future__ import annotations

import re
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Dict

import pytest

from scenarios.tutorial.scenario import TutorialScenario
from tfaip_core.errors import ConfigError
from tfaip_core.scenario.locate import locate_scenario


def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: Dict[str, str]) -> str:
    """A package `pkg_<random>` under tmp_path holding `files`; the working directory is tmp_path."""
    name = f"pkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    for filename, text in files.items():
        (tmp_path / name / filename).write_text(textwrap.dedent(text).lstrip("\n"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def locate_error(spec: str) -> str:
    with pytest.raises(ConfigError) as info:
        locate_scenario(spec)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


SUBCLASS = (
    "from scenarios.tutorial.scenario import TutorialScenario\n\n\nclass MyScenario(TutorialScenario):\n    pass\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("import os\nx = (\n", r"scenario\.py line 2: '\(' was never closed \(SyntaxError\)\. Fix: correct the syntax"),
        (
            "import os\n\n\nvalue = undefined_name + 1\n",
            r"scenario\.py line 4 raised NameError: name 'undefined_name' ",
        ),
        (
            "import os\nimport lightgbm_not_here\n",
            r"scenario\.py line 2 imports lightgbm_not_here, which is not installed",
        ),
        (
            "from lightgbm_not_here.sub import x\n",
            r"scenario\.py line 1 imports lightgbm_not_here, which is not installed",
        ),
        (
            "raise RuntimeError('boom\\nsecond line')\n",
            r"scenario\.py line 1 raised RuntimeError: boom second line\. Fix",
        ),
        ("import json\njson.loads('{')\n", r"scenario\.py line 2 raised JSONDecodeError: "),
    ],
)
def test_a_scenario_that_fails_to_import_names_file_line_and_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    name = package(tmp_path, monkeypatch, {"scenario.py": text})
    for spec in (f"{name}.scenario", f"{name}/scenario.py", name):
        message = locate_error(spec)
        assert message.startswith(f"Scenario {spec!r} cannot be imported: {name}/scenario.py line "), message
        assert re.search(expected, message), message
        assert "run from the directory" not in message  # the cause is elsewhere: no advice to change directory


def test_the_culprit_line_is_in_the_module_that_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = package(tmp_path, monkeypatch, {"helper.py": "A = 1\nX = 1 / 0\n"})
    (tmp_path / name / "scenario.py").write_text(f"import os\nfrom {name}.helper import X\n")
    message = locate_error(f"{name}.scenario")
    assert f"{name}/helper.py line 2 raised ZeroDivisionError: division by zero" in message


def test_an_import_of_a_missing_module_of_an_existing_package_says_it_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = package(tmp_path, monkeypatch, {"scenario.py": "import os\nimport scenarios.no_such_module\n"})
    message = locate_error(f"{name}.scenario")
    assert (
        "scenario.py line 2 imports scenarios.no_such_module, which does not exist. Fix: correct the import" in message
    )


def test_a_scenario_module_that_does_not_exist_advises_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    message = locate_error("no_such_package_xyz.scenario")
    assert "no module named 'no_such_package_xyz'" in message
    assert "Fix: run from the directory that contains the scenario package" in message


def test_a_module_that_subclasses_an_imported_scenario_yields_the_subclass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = package(tmp_path, monkeypatch, {"scenario.py": SUBCLASS})
    for spec in (f"{name}.scenario", name, f"{name}/scenario.py"):
        found = locate_scenario(spec)
        assert found.__name__ == "MyScenario" and found is not TutorialScenario
        assert issubclass(found, TutorialScenario)


def test_a_module_that_re_exports_a_scenario_yields_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = package(tmp_path, monkeypatch, {"scenario.py": "from scenarios.tutorial.scenario import TutorialScenario\n"})
    assert locate_scenario(f"{name}.scenario") is TutorialScenario


def test_two_scenarios_of_the_module_are_still_ambiguous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = package(tmp_path, monkeypatch, {"scenario.py": SUBCLASS + "\n\nclass Other(TutorialScenario):\n    pass\n"})
    message = locate_error(f"{name}.scenario")
    assert f"Fix: choose one of {name}.scenario:MyScenario, {name}.scenario:Other." in message
    assert locate_scenario(f"{name}.scenario:Other").__name__ == "Other"


def test_tfaip_train_reports_a_broken_scenario_as_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tfaip_core.scripts.train import main

    name = package(tmp_path, monkeypatch, {"scenario.py": "import os\nimport lightgbm_not_here\n"})
    out = tmp_path / "out"
    assert main([f"{name}/scenario.py", "--trainer.output_dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"tfaip-train: error: Scenario '{name}/scenario.py' cannot be imported: {name}/scenario.py line 2 imports "
        "lightgbm_not_here, which is not installed. Fix: install it (pip install lightgbm_not_here) or remove the "
        "import."
    ]
    assert not out.exists()
    assert f"{name}.scenario" not in sys.modules
