"""tfaip-benchmark-input-pipeline: progress lines, the summary, --mode val, bad flags and Ctrl-C.

The program runs in-process (`cli`). Subprocess tests, marked `e2e`: Ctrl-C (a real SIGINT to a running
process) and running the script as a plain file (the IDE path).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

from tests.conftest import REPO, cli, script
from tfaip_core.errors import ConfigError
from tfaip_core.scripts.benchmark_input_pipeline import Meter, StopFlag, pop_program_flags

PROG = "tfaip-benchmark-input-pipeline"
NUMBER = r"(\d+(?:\.\d+)?)"
PROGRESS = re.compile(
    rf"^progress: elapsed={NUMBER}s samples=(\d+) batches=(\d+) samples/s={NUMBER} batches/s={NUMBER} "
    rf"recent_samples/s={NUMBER} recent_batches/s={NUMBER}$"
)
SUMMARY = re.compile(
    rf"^summary: samples=(\d+) batches=(\d+) seconds={NUMBER} samples/s={NUMBER} batches/s={NUMBER} \((.+)\)$"
)


def parse_output(stdout: str) -> tuple[List[Dict[str, float]], Dict[str, float], str]:
    """The progress lines, the summary line and why the run stopped (every stdout line must be one of them)."""
    progress: List[Dict[str, float]] = []
    summary, reason = None, ""
    for line in stdout.splitlines():
        match = PROGRESS.match(line)
        if match:
            keys = ["elapsed", "samples", "batches", "samples/s", "batches/s", "recent_samples/s", "recent_batches/s"]
            progress.append(dict(zip(keys, map(float, match.groups()))))
            continue
        match = SUMMARY.match(line)
        assert match and summary is None, f"unexpected line: {line!r}"
        summary = dict(zip(["samples", "batches", "seconds", "samples/s", "batches/s"], map(float, match.groups()[:5])))
        reason = match.group(6)
    assert summary is not None, stdout
    return progress, summary, reason


@pytest.mark.parametrize("mode, batch_size", [("train", 32), ("val", 128)])
def test_time_limit_prints_progress_and_summary(mode: str, batch_size: int) -> None:
    result = cli(PROG, "scenarios.tutorial", "--time_limit", "1.5", "--mode", mode)
    assert result.returncode == 0, result.stderr
    progress, summary, reason = parse_output(result.stdout)
    assert len(progress) >= 1
    assert progress[0]["samples/s"] > 0 and progress[0]["recent_batches/s"] > 0
    assert reason == "time limit"
    assert summary["samples"] > 0 and summary["batches"] > 0 and 1.5 <= summary["seconds"] < 10
    assert summary["samples"] <= summary["batches"] * batch_size  # the tutorial's batch sizes
    assert summary["samples/s"] == pytest.approx(summary["samples"] / summary["seconds"], rel=0.02)
    assert "Traceback" not in result.stderr


def test_bad_flag_is_one_line_exit_2() -> None:
    result = cli(PROG, "scenarios.tutorial", "--train.batch_sise", "8", "--time_limit", "1")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{PROG}: error: unknown flag --train.batch_sise"), lines


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_sigint_prints_summary_and_exits_0() -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        script(PROG) + ["scenarios.tutorial"],
        cwd=str(REPO),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # blocks until the first progress line
        assert PROGRESS.match(first.strip()), first
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        rest, stderr = process.communicate(timeout=30)
        assert time.monotonic() - sent < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    _, summary, reason = parse_output(first + rest)
    assert reason == "interrupted" and summary["samples"] > 0
    assert "Traceback" not in stderr


def test_program_flags_are_stripped() -> None:
    rest, flags = pop_program_flags(["--train.batch_size", "4", "--time_limit=2.5", "--mode", "val", "--x"])
    assert rest == ["--train.batch_size", "4", "--x"]
    assert flags.time_limit == 2.5 and flags.mode == "val"
    rest, flags = pop_program_flags([])
    assert rest == [] and flags.time_limit is None and flags.mode == "train"
    for bad in (["--mode", "test"], ["--time_limit", "-1"], ["--time_limit", "abc"], ["--time_limit"], ["--mode"]):
        with pytest.raises(ConfigError):
            pop_program_flags(bad)


def test_meter_rates() -> None:
    now = [100.0]
    meter = Meter(clock=lambda: now[0])
    for _ in range(4):
        meter.add(8)
    now[0] = 102.0
    assert meter.report_due(now[0])
    line = meter.progress_line(now[0])
    assert "samples=32 batches=4 samples/s=16.0 batches/s=2.00 recent_samples/s=16.0" in line
    meter.add(8)
    now[0] = 103.0
    assert "recent_samples/s=8.0 recent_batches/s=1.00" in meter.progress_line(now[0])
    assert meter.summary_line(now[0], "time limit") == (
        "summary: samples=40 batches=5 seconds=3.00 samples/s=13.3 batches/s=1.67 (time limit)"
    )


def test_first_ctrl_c_asks_to_stop_the_second_interrupts() -> None:
    stop = StopFlag()
    with stop.installed():
        assert signal.getsignal(signal.SIGINT) is stop
        stop(signal.SIGINT, None)
        assert stop.stopped
        with pytest.raises(KeyboardInterrupt):
            stop(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) is not stop


@pytest.mark.e2e
def test_runs_as_a_plain_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tfaip_core" / "scripts" / "benchmark_input_pipeline.py"), "--help"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.startswith(f"usage: {PROG} SCENARIO")
