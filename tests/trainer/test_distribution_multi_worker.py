"""Two worker processes on loopback ports train the tutorial with `--device.dist_strategy multi_worker` (TF_CONFIG)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import List

import pytest

from tests.conftest import REPO, read_metrics, script

FINGERPRINT = re.compile(r"Worker (\d) of 2: weights SHA-256 ([0-9a-f]{64})")
SCRATCH = re.compile(r"Exported the model to (\S*tfaip-worker-[^/\s]+)/export")


def free_ports(n: int) -> List[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.e2e
def test_two_workers_finish_with_identical_weights_and_only_the_chief_writes(tmp_path: Path) -> None:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    outputs = [tmp_path / "chief", tmp_path / "worker1"]  # a shared file system would give both the same path
    processes = []
    for index, output in enumerate(outputs):
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": str(REPO),
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        }
        args = ["scenarios.tutorial", "--trainer.output_dir", str(output), "--trainer.progress_bar", "false"]
        args += ["--trainer.epochs", "2", "--train.limit", "128", "--val.limit", "32", "--trainer.random_seed", "3"]
        args += ["--device.dist_strategy", "multi_worker"]
        processes.append(
            subprocess.Popen(
                script("tfaip-train") + args,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    logs = []
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        logs.append(stderr)
    for process, log in zip(processes, logs):
        assert process.returncode == 0, log[-5000:]

    fingerprints = [FINGERPRINT.findall(log) for log in logs]
    assert [f[0][0] for f in fingerprints] == ["0", "1"], fingerprints
    assert fingerprints[0][0][1] == fingerprints[1][0][1]  # the same weights on both workers

    chief, worker = outputs
    assert (chief / "export" / "saved_model.pb").is_file() and (chief / "best" / "saved_model.pb").is_file()
    assert not worker.exists()  # the non-chief wrote into a scratch directory, removed at its end
    (scratch,) = SCRATCH.findall(logs[1])
    assert not os.path.exists(scratch)
    # --train.batch_size 32 is the global batch: 128 samples are 4 steps an epoch, with 2 workers as with one
    assert [record["step"] for record in read_metrics(chief)] == [4, 8]
