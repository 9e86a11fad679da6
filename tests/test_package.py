"""The package itself: cheap params imports, no logging side effects, the README commands match CI."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


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
