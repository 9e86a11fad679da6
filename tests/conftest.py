"""Shared test helpers: run the real command-line programs in subprocesses, one trained tutorial run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def script(name: str) -> List[str]:
    """The console script `name` installed beside this Python, else its module run with `-m`."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which(name)
    if found:
        return [found]
    module = {"tfaip-train": "tfaip_core.scripts.train"}.get(name, "tfaip_core.scripts." + name[6:].replace("-", "_"))
    return [sys.executable, "-m", module]


def run(
    name: str, *args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run a tfaip program like a user would; return the completed process (text output)."""
    full_env = dict(os.environ)
    full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if env:
        full_env.update(env)
    return subprocess.run(
        script(name) + list(args),
        cwd=str(cwd or REPO),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def train(output_dir: Path, *flags: str, scenario: str = "scenarios.tutorial", **kwargs) -> subprocess.CompletedProcess:
    """`tfaip-train scenario --trainer.output_dir DIR --trainer.progress_bar false FLAGS`, asserting success."""
    result = run(
        "tfaip-train",
        scenario,
        "--trainer.output_dir",
        str(output_dir),
        "--trainer.progress_bar",
        "false",
        *flags,
        **kwargs,
    )
    assert result.returncode == 0, f"tfaip-train failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def read_metrics(output_dir: Path) -> List[dict]:
    with open(output_dir / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def tutorial_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial trained once with its defaults (what README command 1 does)."""
    output_dir = tmp_path_factory.mktemp("tutorial") / "run"
    train(output_dir)
    return output_dir
