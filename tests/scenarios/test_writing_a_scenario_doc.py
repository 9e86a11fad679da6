"""docs/writing_a_scenario.md: its complete scenario is `scenarios/minimal/scenario.py`; its commands are tested.

`<!-- test: file NAME -->` marks the code block of the file the page builds (it must equal the shipped scenario);
the commands follow `<!-- tested -->` and run in tests/test_docs_commands.py. Also: a run started from a scenario
file resumes from another directory once that file's folder is importable, and says how when it is not.
"""

from __future__ import annotations

import re
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


def test_the_page_builds_the_minimal_scenario_and_tests_its_commands() -> None:
    """The page's file is the shipped one; its commands are a `<!-- tested -->` block (run by test_docs_commands)."""
    from tests.test_docs_commands import blocks, commands

    text = PAGE.read_text()
    files: Dict[str, str] = {m.split()[1]: b for m, b in marked_blocks(text) if m.startswith("file ")}
    assert list(files) == ["diabetes.py"]
    assert files["diabetes.py"] == (REPO / "scenarios" / "minimal" / "scenario.py").read_text()
    (block,) = [b.body for b in blocks(text) if b.marker == "tested"]
    lines = commands(block)
    assert lines[0] == "cp scenarios/minimal/scenario.py diabetes.py"
    assert lines[1] == "tfaip-train diabetes.py --trainer.output_dir runs/diabetes"
    assert lines[2] == "tfaip-resume-training runs/diabetes --trainer.epochs 12"
    assert lines[3].startswith("python -c ") and "runs/diabetes/export" in lines[3]


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
        f'tfaip-resume-training: error: {out / "trainer_params.json"}: "scenario.scenario_class" '
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
