"""docs/writing_a_scenario.md: its complete scenario is `scenarios/minimal/scenario.py`, and its commands run.

The page marks what is tested: `<!-- test: file NAME -->` before the code block of a file to write, and
`<!-- test: commands -->` before the shell commands, run in that folder (in-process, as `cli` runs programs).
Also: a run started from a scenario file resumes from another directory once that file's folder is importable,
and says how when it is not.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.conftest import REPO, cli, read_metrics

PAGE = REPO / "docs" / "writing_a_scenario.md"


def marked_blocks(text: str) -> List[Tuple[str, str]]:
    """(marker, block text) of every fenced block right after a `<!-- test: ... -->` line."""
    return [
        (m.group(1).strip(), m.group(2))
        for m in re.finditer(r"^<!-- test: (.+?) -->\n```\w*\n(.*?)^```$", text, re.M | re.S)
    ]


def run_command(line: str, folder: Path) -> str:
    """One command of the page, in `folder`: a tfaip program through `cli`, `python -c CODE` executed here."""
    words = shlex.split(line)
    if words[0].startswith("tfaip-"):
        result = cli(words[0], *words[1:], cwd=folder, path=[folder])
        assert result.returncode == 0, f"{line}\n{result.stderr}"
        return result.stderr
    assert words[:2] == ["python", "-c"], line
    output = io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(words[2], "<docs>", "exec"), {})
    finally:
        os.chdir(cwd)
    return output.getvalue()


def test_the_page_builds_the_minimal_scenario_and_its_commands_train_resume_and_serve(tmp_path: Path) -> None:
    blocks = marked_blocks(PAGE.read_text())
    files: Dict[str, str] = {m.split()[1]: b for m, b in blocks if m.startswith("file ")}
    commands = [b for m, b in blocks if m == "commands"]
    assert list(files) == ["diabetes.py"] and len(commands) == 1
    assert files["diabetes.py"] == (REPO / "scenarios" / "minimal" / "scenario.py").read_text()

    (tmp_path / "diabetes.py").write_text(files["diabetes.py"])
    outputs = [run_command(line, tmp_path) for line in commands[0].splitlines() if line.strip()]
    records = read_metrics(tmp_path / "runs" / "diabetes")
    assert [r["epoch"] for r in records] == list(range(1, 13))  # 10 epochs, then resumed for 2 more
    assert min(r["val_mae"] for r in records) <= 48.0  # the page: about 44.5
    assert "Done: epoch 10/10" in outputs[0] and "Done: epoch 12/12" in outputs[1]
    assert re.search(r"tf\.Tensor\(\[-?[\d.]+\], shape=\(1,\), dtype=float32\)", outputs[2]), outputs[2]


def test_a_run_started_from_a_file_resumes_from_another_directory(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "diabetes.py").write_text((REPO / "scenarios" / "minimal" / "scenario.py").read_text())
    out = project / "runs" / "d"
    flags = ["--trainer.epochs", "1", "--trainer.progress_bar", "false", "--trainer.export_best", "false"]
    assert cli("tfaip-train", "diabetes.py", "--trainer.output_dir", str(out), *flags, cwd=project).returncode == 0
    assert f"({project / 'diabetes.py'})" in (out / "train.log").read_text()  # the log names the file

    refused = cli("tfaip-resume-training", str(out), "--trainer.epochs", "2", cwd=elsewhere)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"tfaip-resume-training: error: {out / 'trainer_params.json'}: \"scenario.scenario_class\" "
        f"'diabetes:MinimalScenario' cannot be imported: no module 'diabetes' here ({elsewhere}); a run started from "
        "a scenario file imports it by its module name. Fix: run from the directory that holds diabetes.py (or the "
        "diabetes package), or add that directory to PYTHONPATH (PYTHONPATH=/that/directory tfaip-resume-training "
        "...); the run's train.log names the file."
    ]
    resumed = cli("tfaip-resume-training", str(out), "--trainer.epochs", "2", cwd=elsewhere, path=[project])
    assert resumed.returncode == 0, resumed.stderr
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]


@pytest.mark.parametrize("name", ["MinimalModelParams", "MinimalParams"])
def test_the_page_shows_the_params_as_the_file_defines_them(name: str) -> None:
    source = (REPO / "scenarios" / "minimal" / "scenario.py").read_text()
    definition = re.search(rf"^@pai_dataclass\n@dataclass\nclass {name}\(.*?(?=\n\n\n)", source, re.M | re.S)
    assert definition and definition.group(0) in PAGE.read_text().split("<!-- test: file")[0]
