"""The commands the documentation marks as tested run and succeed, so the docs cannot rot.

A fenced `bash` block right after a line `<!-- tested -->` in docs/*.md or README.md is tested: the tested blocks of
one page run in order in one fresh directory (holding a link to the repository's `scenarios`, as a clone would),
each command must exit with status 0. `tfaip-*` programs run in this process (`tests.conftest.cli`, like a
process as far as a test can tell); any other line runs in bash. Keep tested commands fast (tiny epochs).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from tests.conftest import PROGRAMS, REPO, cli

MARKER = "<!-- tested -->"
PAGES = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]


def marked_blocks(text: str, source: str = "page") -> List[str]:
    """The bodies of the fenced bash blocks that follow a `<!-- tested -->` line (blank lines between allowed).

    Raises:
        ValueError: the marker is not followed by a ```bash block (a mistyped marker must not test nothing).
    """
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or lines[j].strip() not in ("```bash", "```shell", "```sh"):
            raise ValueError(f"{source} line {i + 1}: {MARKER} must be followed by a ```bash block")
        end = j + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        blocks.append("\n".join(lines[j + 1 : end]))
    return blocks


def commands(block: str) -> List[str]:
    """The commands of a block: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def run_command(command: str, cwd: Path) -> tuple[int, str]:
    words = shlex.split(command)
    if words[0] in PROGRAMS and not re.search(r"[|&;<>$`*]", command):
        result = cli(words[0], *words[1:], cwd=cwd)
        return result.returncode, result.stdout + result.stderr
    done = subprocess.run(["bash", "-ec", command], cwd=cwd, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


PAGE_BLOCKS: Dict[str, List[str]] = {
    str(page.relative_to(REPO)): marked_blocks(page.read_text(encoding="utf-8"), page.name) for page in PAGES
}
TESTED = {page: blocks for page, blocks in PAGE_BLOCKS.items() if blocks}


def test_the_docs_mark_commands_as_tested() -> None:
    assert "docs/quickstart.md" in TESTED and len(TESTED["docs/quickstart.md"]) >= 3


def test_marker_without_bash_block_is_refused() -> None:
    with pytest.raises(ValueError, match="line 2: <!-- tested --> must be followed by a ```bash block"):
        marked_blocks("text\n<!-- tested -->\n```python\nx = 1\n```\n")
    assert commands("a \\\n  b  # c\n# comment\n\nd") == ["a  b  # c", "d"]


@pytest.mark.parametrize("page", sorted(TESTED))
def test_tested_commands_of_a_page_succeed(page: str, tmp_path: Path) -> None:
    os.symlink(REPO / "scenarios", tmp_path / "scenarios")
    for block in TESTED[page]:
        for command in commands(block):
            status, output = run_command(command, tmp_path)
            assert status == 0, f"{page}: `{command}` failed with status {status}:\n{output[-3000:]}"
