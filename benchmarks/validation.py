"""Validation: one pass of the framework's validation against `keras.Model.evaluate` on the same data.

The tutorial's MLP on generated MNIST-shaped data (see training_overhead.py), `--samples` validation samples
at batch size 128, the scenario's evaluator left empty (the default `EvaluatorBase`, which needs no samples)
and then the tutorial's own evaluator (which needs every sample in Python). After one short training run
(at its end, the run directory still open) the framework's `Trainer.evaluate()` (eval step, loss terms and
metrics, evaluator) is timed against
`evaluate(x, y, batch_size=128)` of a Keras model with the same layers, loss and accuracy metric; the runs
alternate and the first pass of each (tracing) is left out.

Usage:
    python benchmarks/validation.py [--samples 5000] [--repeats 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.training_overhead import framework_scenario, keras_model, make_data  # noqa: E402
from tfaip_core.trainer.callbacks.base import Callback  # noqa: E402


class TimedPasses(Callback):
    """At the end of training (the run directory still open): validation passes alternating with Keras."""

    def __init__(self, name: str, repeats: int, images: Any, labels: Any, times: Dict[str, List[float]]):
        self.name, self.repeats, self.images, self.labels, self.times = name, repeats, images, labels, times

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        import keras

        net = keras_model("mlp")
        net.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        passes = {
            "keras evaluate": lambda: net.evaluate(self.images, self.labels, batch_size=128, verbose=0),
            self.name: self.trainer.evaluate,
        }
        for r in range(self.repeats + 1):
            for name, fn in list(passes.items()) if r % 2 == 0 else list(reversed(passes.items())):
                begin = time.perf_counter()
                fn()
                if r > 0:  # the first pass traces
                    self.times.setdefault(name, []).append(time.perf_counter() - begin)


def time_framework(evaluator: str, args: argparse.Namespace, times: Dict[str, List[float]], tmp: str) -> None:
    """One short training run whose validation data is `--samples` samples, then the timed passes."""
    from scenarios.tutorial.model import TutorialEvaluator
    from tfaip_core import EvaluatorBase

    images, labels = make_data(args.samples)
    base = framework_scenario(images, labels, val_samples=args.samples)

    class Scenario(base):  # type: ignore[valid-type,misc]
        evaluator_cls = EvaluatorBase if evaluator == "empty" else TutorialEvaluator

        def create_model(self) -> Any:
            model = super().create_model()
            if evaluator == "empty":  # the tutorial monitors its evaluator's accuracy
                model.monitor = lambda: ("val_loss", "min")
            return model

    params = Scenario.default_trainer_params()
    params.scenario.data.dataset = "mnist"
    params.epochs, params.samples_per_epoch = 1, 256
    params.val.batch_size = 128
    params.export_best = params.export_final = params.progress_bar = False
    params.num_print_evaluate = 0
    params.output_dir = os.path.join(tmp, evaluator)
    trainer = Scenario(params.scenario).create_trainer(params)
    trainer.extra_callbacks.append(
        TimedPasses(f"framework, {evaluator} evaluator", args.repeats, images, labels, times)
    )
    trainer.fit()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("TFAIP_LOG_LEVEL", "warning")
    times: Dict[str, List[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for evaluator in ("empty", "tutorial"):
            time_framework(evaluator, args, times, tmp)
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n| {args.samples} samples, batch 128 | median s per pass | / keras evaluate |\n|---|---:|---:|")
    for name, value in median.items():
        print(f"| {name} | {value:.3f} | {value / median['keras evaluate']:.2f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"median_s": median, "samples": args.samples}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
