"""Start-up: wall time from invoking `tfaip-train` to its first training step, against plain TensorFlow.

Measured in fresh processes, alternately, `--repeats` times each (median):

* ``import tensorflow``: `python -c "import tensorflow"`;
* ``keras first step``: a plain Keras program doing what the tutorial does before it trains: import
  TensorFlow and Keras, load scikit-learn's digits, build the tutorial's MLP, compile it and run one
  `train_on_batch` (the first step includes tracing, as it does in the framework);
* ``tfaip-train first step``: `tfaip-train scenarios.tutorial` (one step per compiled call, no exports) until
  its first training step has finished; the process is then ended (what follows is training, not start-up);
* ``tfaip-train --help``: `tfaip-train scenarios.tutorial --help` to its exit.

Usage:
    python benchmarks/startup.py [--repeats 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KERAS_FIRST_STEP = """
import keras, numpy as np
from sklearn.datasets import load_digits
digits = load_digits()
x, y = digits.images.astype("float32"), digits.target
model = keras.Sequential([keras.Input((8, 8)), keras.layers.Rescaling(1 / 16), keras.layers.Flatten(),
    keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.1),
    keras.layers.Dense(64, activation="relu"), keras.layers.Dropout(0.1), keras.layers.Dense(10)])
model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"])
model.train_on_batch(x[:32], y[:32])
print("FIRST_STEP", flush=True)
"""

# The real program's main(), with one callback added that reports the end of the first compiled call.
TFAIP_FIRST_STEP = """
import os, sys
from tfaip_core.trainer.callbacks.base import Callback
from tfaip_core.trainer import trainer as _trainer

class _First(Callback):
    def on_train_batch_end(self, step, logs=None):
        print("FIRST_STEP", flush=True)
        os._exit(0)

_create = _trainer.Trainer._create_callbacks
_trainer.Trainer._create_callbacks = lambda self: _create(self) + [_First()]
from tfaip_core.scripts.train import main
sys.exit(main(sys.argv[1:]))
"""


def tfaip_train() -> List[str]:
    """The installed `tfaip-train` program, or the module run as a script when it is not installed."""
    found = shutil.which("tfaip-train")
    return [found] if found else [sys.executable, "-m", "tfaip_core.scripts.train"]


def timed(cmd: List[str], until: Optional[str] = None) -> float:
    """Seconds from starting `cmd` to its exit (or to the line `until` on its stdout)."""
    env = {**os.environ, "TFAIP_LOG_LEVEL": "warning", "TF_CPP_MIN_LOG_LEVEL": "2"}
    begin = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO, env=env)
    assert proc.stdout is not None
    seen = False
    for line in proc.stdout:
        if until and line.strip() == until:
            seen = True
            break
    elapsed = time.perf_counter() - begin
    proc.stdout.close()
    rc = proc.wait()
    if (until and not seen) or (not until and rc != 0):
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {rc})")
    return elapsed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    times: Dict[str, List[float]] = {"import tensorflow": [], "keras first step": [], "tfaip-train first step": []}
    times["tfaip-train --help"] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            out = os.path.join(tmp, f"run{r}")
            runs = {
                "import tensorflow": lambda: timed([sys.executable, "-c", "import tensorflow"]),
                "keras first step": lambda: timed([sys.executable, "-c", KERAS_FIRST_STEP], until="FIRST_STEP"),
                "tfaip-train first step": lambda out=out: timed(
                    [sys.executable, "-c", TFAIP_FIRST_STEP, "scenarios.tutorial", "--trainer.output_dir", out]
                    + ["--trainer.steps_per_execution", "1", "--trainer.progress_bar", "false"]
                    + ["--trainer.export_best", "false", "--trainer.export_final", "false"],
                    until="FIRST_STEP",
                ),
                "tfaip-train --help": lambda: timed(tfaip_train() + ["scenarios.tutorial", "--help"]),
            }
            for name in list(runs) if r % 2 == 0 else list(reversed(runs)):
                times[name].append(runs[name]())
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    print("\n| what | median wall time (s) |\n|---|---:|")
    for name, value in median.items():
        print(f"| {name} | {value:.2f} |")
    ratio = median["tfaip-train first step"] / median["keras first step"]
    print(f"\ntfaip-train first step / plain Keras first step: {ratio:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"median_s": median, "first_step_ratio": ratio, "repeats": args.repeats}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
