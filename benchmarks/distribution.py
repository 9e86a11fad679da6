"""Distribution benchmark: training steps/s of the tutorial with the default strategy vs `mirror` on 2 logical CPUs.

What it shows: the cost of `tf.distribute` on one machine. `--device.dist_strategy mirror --device.cpu_replicas 2`
splits the CPU into two logical devices; each step then runs two replicas on half the global batch each and
all-reduces their gradients. On a 2-core CPU the replicas share the same cores (TensorFlow's CPU kernels are
multi-threaded already), so no speed-up is expected: the ratio is the overhead of the replicas and the
all-reduce. It is the price of testing distribution on a CPU, not a forecast for GPUs.

Each variant runs in a process of its own (the CPU split must precede TensorFlow's first operation). The
time counts only training steps: the steps of each epoch after the first (which traces the function), not
validation, checkpoints or start-up.

Usage:
    python benchmarks/distribution.py [--epochs 10] [--batch-size 32] [--repeats 3]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VARIANTS = {
    "default": {"dist_strategy": "default", "cpu_replicas": 0},
    "mirror-2": {"dist_strategy": "mirror", "cpu_replicas": 2},
}


def measure(variant: str, epochs: int, batch_size: int) -> Dict[str, float]:
    """Train the tutorial with `variant` in this process; return steps and seconds of the timed steps."""
    from scenarios.tutorial.scenario import TutorialScenario
    from tfaip_core.trainer.callbacks.base import Callback, Logs

    class StepTimer(Callback):
        """Sums, over the epochs after the first, the time from an epoch's start to its last compiled call's end."""

        def __init__(self) -> None:
            self.steps, self.seconds = 0, 0.0

        def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
            self._epoch, self._start, self._start_step = epoch, time.perf_counter(), self.trainer.global_step

        def on_train_batch_end(self, step: int, logs: Optional[Logs] = None) -> None:
            if step == self.trainer.steps_per_epoch and self._epoch > 0:
                self.steps += self.trainer.global_step - self._start_step
                self.seconds += time.perf_counter() - self._start

    params = TutorialScenario.default_trainer_params()
    params.output_dir = tempfile.mkdtemp(prefix="tfaip-bench-")
    params.epochs, params.progress_bar, params.random_seed = epochs, False, 1
    params.export_best = params.export_final = False
    params.train.batch_size = batch_size
    for key, value in VARIANTS[variant].items():
        setattr(params.device, key, value)
    trainer = TutorialScenario(params.scenario).create_trainer(params)
    timer = StepTimer()
    trainer.extra_callbacks.append(timer)
    trainer.fit()
    return {"steps": timer.steps, "seconds": timer.seconds, "replicas": trainer.strategy.num_replicas_in_sync}


def run_variant(variant: str, epochs: int, batch_size: int) -> Dict[str, Any]:
    """`measure` in a new process (its own TensorFlow devices)."""
    command = [sys.executable, os.path.abspath(__file__), "--measure", variant]
    command += ["--epochs", str(epochs), "--batch-size", str(batch_size)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TFAIP_LOG_LEVEL": "warning"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch (--train.batch_size)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.epochs, args.batch_size)))
        return 0

    print(f"tutorial MLP, global batch {args.batch_size}, {args.epochs} epochs; best of {args.repeats} processes")
    print(f"{'variant':<10} {'replicas':>8} {'steps':>6} {'seconds':>8} {'steps/s':>8} {'vs default':>10}")
    best: Dict[str, Dict[str, Any]] = {}
    for variant in VARIANTS:
        runs = [run_variant(variant, args.epochs, args.batch_size) for _ in range(args.repeats)]
        best[variant] = max(runs, key=lambda r: r["steps"] / r["seconds"])
    base = best["default"]["steps"] / best["default"]["seconds"]
    for variant, r in best.items():
        rate = r["steps"] / r["seconds"]
        print(
            f"{variant:<10} {r['replicas']:>8} {r['steps']:>6} {r['seconds']:>8.3f} {rate:>8.1f} {rate / base:>9.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
