"""Every command the documentation shows runs in a test, or says why it cannot: the docs cannot rot.

Every fenced shell block (```` ```bash ````, `sh`, `shell`, `console`) in docs/*.md and README.md follows a marker
line (blank lines between allowed):

- `<!-- tested -->`: this module runs the block's commands. The tested blocks of one page run in order in one
  fresh directory that looks like the root of a clone (links to the repository's `scenarios/` and `tfaip_core/`,
  so `python tfaip_core/scripts/train.py ...` runs as documented; nothing is written into the repository). A block
  that needs an artefact of an earlier step (a trained run, digit files, an export) gets a visible setup block
  before it on the same page, with tiny flags (`--trainer.epochs 1`); the blocks of a page share its runs.
  Each command must exit with status 0. `tfaip-*` programs run in this process (`tests.conftest.cli`, like a
  process as far as a test can tell; unquoted `*`/`?` words are expanded as bash would), any other line (or one
  with pipes, redirections, `&&`, `$`, or `--device.*` flags, which configure TensorFlow for a whole process) runs
  in bash. A `console` block's commands are its `$ ` lines.
- `<!-- untested: REASON -->`: the block cannot run here (Docker, a server, GPUs, a cluster, installing the
  project — README's setup commands; CI runs command 2 —, data that is not in the repository). REASON must not
  be empty; prefer a tested variant beside it (e.g. on generated data).

`test_every_shell_block_is_marked` fails, naming page and line, for a shell block without a marker and for a
fence with neither a language nor a marker (commands must not hide in one): output, synopses and file contents
go in ```` ```text ```` fences. A marker may precede a fence without a language (README.md's commands). Keep
tested commands fast.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from tests.conftest import PROGRAMS, REPO, cli

TESTED = "<!-- tested -->"
UNTESTED = re.compile(r"<!--\s*untested:(.*?)-->")
SHELL = ("bash", "sh", "shell", "console")
PAGES = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
# what the fresh directory of a page links from the repository, as a clone's root holds it
CLONE_LINKS = ("scenarios", "tfaip_core")


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language ("" for none), first line (1-based, the fence), body and marker."""

    language: str
    line: int
    body: str
    marker: Optional[str]  # "tested", "untested" or None


def blocks(text: str, source: str = "page") -> List[Block]:
    """The fenced blocks of a Markdown text with the marker before each (blank lines between allowed).

    Raises:
        ValueError: a marker that is mistyped, has an empty reason, or is not followed by a shell block or a
            fence without a language (a marker must never mark nothing).
    """
    lines = text.splitlines()
    found: List[Block] = []
    marker: Optional[str] = None
    marker_line = 0
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("```"):
            language = (line[3:].split() or [""])[0].lower()  # "```bash title=x" -> "bash"
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if marker and language not in SHELL + ("",):
                raise ValueError(f"{source} line {marker_line}: a marker must be followed by a shell block (```bash)")
            found.append(Block(language, i + 1, "\n".join(lines[i + 1 : end]), marker))
            marker = None
            i = end + 1
            continue
        if marker and line:
            raise ValueError(f"{source} line {marker_line}: a marker must be followed by a shell block (```bash)")
        if line == TESTED:
            marker, marker_line = "tested", i + 1
        elif re.match(r"<!--\s*(un)?tested", line):
            untested = UNTESTED.fullmatch(line)
            if not untested or not untested.group(1).strip():
                raise ValueError(
                    f"{source} line {i + 1}: {line!r} is no marker: write {TESTED} or <!-- untested: REASON -->"
                )
            marker, marker_line = "untested", i + 1
        i += 1
    if marker:
        raise ValueError(f"{source} line {marker_line}: a marker must be followed by a shell block (```bash)")
    return found


def unmarked(text: str, source: str = "page") -> List[str]:
    """One message per shell block of `text` without a marker, and per fence without a language and a marker
    (commands could hide there), naming page and line."""
    problems = []
    for b in blocks(text, source):
        if b.language in SHELL and b.marker is None:
            problems.append(
                f"{source} line {b.line}: a ```{b.language} block without {TESTED} or <!-- untested: REASON --> "
                "before it"
            )
        elif not b.language and b.marker is None:
            problems.append(
                f"{source} line {b.line}: a ``` fence without a language: write ```bash (with a marker) for "
                "commands, ```text for output, synopses and file contents"
            )
    return problems


def commands(block: str, language: str = "bash") -> List[str]:
    """The commands of a block: continuation lines joined, comments and blank lines dropped; of a `console` block
    only the lines after a `$ ` prompt."""
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = [line.strip() for line in joined.splitlines()]
    if language == "console":
        lines = [line[2:].strip() for line in lines if line.startswith("$ ")]
    return [line for line in lines if line and not line.startswith("#")]


def expand(command: str, cwd: Path) -> Optional[List[str]]:
    """The words of a simple command as bash would pass them (unquoted `*`/`?` words expanded in `cwd`, sorted; a
    word matching nothing kept as it is); None when the command needs bash (pipes, redirections, `&&`, `$`...)."""
    if re.search(r"[|&;<>$`(){}]", command):
        return None
    words, raw = shlex.split(command), shlex.split(command, posix=False)
    if len(words) != len(raw):
        return None
    expanded: List[str] = []
    for word, token in zip(words, raw):
        if re.search(r"[*?]", token) and not re.search(r"[\"'\\]", token):
            expanded.extend(sorted(glob.glob(word, root_dir=cwd)) or [word])
        else:
            expanded.append(word)
    return expanded


def run_command(command: str, cwd: Path) -> tuple[int, str]:
    words = expand(command, cwd)
    # device flags configure TensorFlow for the whole process (logical CPUs can be split only before its first op)
    if words and words[0] in PROGRAMS and not any(w.startswith("--device.") for w in words):
        result = cli(words[0], *words[1:], cwd=cwd)
        return result.returncode, result.stdout + result.stderr
    done = subprocess.run(["bash", "-ec", command], cwd=cwd, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


PAGE_BLOCKS: Dict[str, List[Block]] = {
    str(page.relative_to(REPO)): blocks(page.read_text(encoding="utf-8"), page.name) for page in PAGES
}
TESTED_BLOCKS = {
    page: [b for b in found if b.marker == "tested"]
    for page, found in PAGE_BLOCKS.items()
    if any(b.marker == "tested" for b in found)
}


def test_every_shell_block_is_marked() -> None:
    problems = [m for page in PAGES for m in unmarked(page.read_text(encoding="utf-8"), str(page.relative_to(REPO)))]
    assert not problems, "\n".join(problems)
    assert len(TESTED_BLOCKS) >= 10 and len(TESTED_BLOCKS["docs/quickstart.md"]) >= 5


def test_an_unmarked_block_is_reported_with_page_and_line() -> None:
    text = (
        "# Page\n\n<!-- tested -->\n```bash\nls\n```\n\n```sh\nrm -r runs\n```\n\n"
        "<!-- untested: needs a GPU -->\n```bash\nx\n```\n"
    )
    assert unmarked(text, "docs/x.md") == [
        "docs/x.md line 8: a ```sh block without <!-- tested --> or <!-- untested: REASON --> before it"
    ]
    assert [(b.language, b.line, b.marker) for b in blocks(text)] == [
        ("bash", 4, "tested"),
        ("sh", 8, None),
        ("bash", 13, "untested"),
    ]
    assert unmarked("```console\n$ ls\n```\n```python\nx = 1\n```\n", "README.md") == [
        "README.md line 1: a ```console block without <!-- tested --> or <!-- untested: REASON --> before it"
    ]
    assert unmarked("```\ntfaip-train x\n```\n\n```text\nout\n```\n\n<!-- tested -->\n```\nls\n```\n") == [
        "page line 1: a ``` fence without a language: write ```bash (with a marker) for commands, ```text for "
        "output, synopses and file contents"
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("text\n<!-- tested -->\n```python\nx = 1\n```\n", "line 2: a marker must be followed by a shell block"),
        ("<!-- tested -->\nprose\n```bash\nls\n```\n", "line 1: a marker must be followed by a shell block"),
        ("<!-- untested:  -->\n```bash\nls\n```\n", "line 1: '<!-- untested:  -->' is no marker"),
        ("<!-- untested -->\n```bash\nls\n```\n", "line 1: '<!-- untested -->' is no marker"),
        ("<!-- tested-->\n```bash\nls\n```\n", "is no marker"),
        ("a\n\n<!-- tested -->\n", "line 3: a marker must be followed by a shell block"),
    ],
)
def test_a_bad_marker_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        blocks(text)


def test_commands_and_their_words(tmp_path: Path) -> None:
    assert commands("a \\\n  b  # c\n# comment\n\nd") == ["a  b  # c", "d"]
    assert commands("$ tfaip-lav --export_dir x\nmetric  l0\n$ ls\n", "console") == ["tfaip-lav --export_dir x", "ls"]
    (tmp_path / "b.png").touch()
    (tmp_path / "a.png").touch()
    words = ["tfaip-predict", "--data.files", "a.png", "b.png", "x?.npy"]
    assert expand("tfaip-predict --data.files *.png x?.npy", tmp_path) == words
    assert expand("tfaip-predict --data.files '*.png'", tmp_path) == ["tfaip-predict", "--data.files", "*.png"]
    assert expand("ls *.png > list.txt", tmp_path) is None


@pytest.mark.e2e  # a reader's whole session on the page (several trainings, some in their own process)
@pytest.mark.parametrize("page", sorted(TESTED_BLOCKS))
def test_tested_commands_of_a_page_succeed(page: str, tmp_path: Path) -> None:
    for name in CLONE_LINKS:
        os.symlink(REPO / name, tmp_path / name)
    for block in TESTED_BLOCKS[page]:
        for command in commands(block.body, block.language):
            status, output = run_command(command, tmp_path)
            assert status == 0, f"{page} line {block.line}: `{command}` failed with status {status}:\n{output[-3000:]}"
