"""Predictor throughput vs calling the loaded SavedModel directly, on the tutorial (issue 10).

The same tutorial export and the same images, batched the same way (`--batch-size`):

* ``plain``: `tf.saved_model.load(...).signatures["serving_default"]` called on pre-batched tensors (no
  data pipeline, no un-batching): the floor;
* ``predict_dataset``: `Predictor.predict_dataset` over a `tf.data.Dataset` of the same batches (the model
  call, un-batching into `Sample`s and post-processing);
* ``predict_raw``: `Predictor.predict_raw` over the raw images (the whole path: the scenario's data pipeline,
  the model, un-batching, post-processing).

After one warm-up pass of each, `--repeats` rounds run the three in turn (alternating, so that this machine's
drifting speed affects them alike). Printed: each one's best time, and the median over the rounds of its
ratio to plain in the same round (samples/s of the Predictor over plain); the issue asks for >= 0.8.

Usage:
    python benchmarks/predictor.py [--export_dir DIR] [--samples 8192] [--batch-size 128] [--repeats 5]

Without --export_dir a tutorial model is trained for one epoch into a temporary directory first.
"""

import argparse
import os
import sys
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def alternating(runs: Dict[str, Callable[[], int]], repeats: int, expected: int) -> Dict[str, List[float]]:
    """Seconds of each run in each of `repeats` rounds (one warm-up pass first: tracing, first allocations)."""
    for run in runs.values():
        run()
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            count = run()
            times[name].append(time.perf_counter() - start)
            if count != expected:
                raise RuntimeError(f"{name}: expected {expected} predictions, got {count}")
    return times


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export_dir", default="")
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    from tfaip_core.util.logging import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    from scenarios.tutorial.data import load_split
    from scenarios.tutorial.params import TutorialDataParams
    from tfaip_core import PipelineMode
    from tfaip_core.predict.params import PredictorParams
    from tfaip_core.scenario.exported import exported_scenario
    from tfaip_core.scripts.train import main as train

    with tempfile.TemporaryDirectory() as tmp:
        export_dir = args.export_dir
        if not export_dir:
            run = os.path.join(tmp, "run")
            flags = ["--trainer.epochs", "1", "--trainer.progress_bar", "false", "--trainer.export_best", "false"]
            if train(["scenarios.tutorial", "--trainer.output_dir", run, *flags]) != 0:
                raise RuntimeError("training the tutorial failed")
            export_dir = os.path.join(run, "export")
        images, _ = load_split(TutorialDataParams(), PipelineMode.EVALUATION)
        images = np.resize(images, (args.samples, *images.shape[1:])).astype(np.float32)
        n, b = args.samples, args.batch_size
        batches = [tf.constant(images[i : i + b]) for i in range(0, n, b)]
        serve = tf.saved_model.load(export_dir).signatures["serving_default"]

        def plain() -> int:
            return sum(int(serve(img=batch)["class"].shape[0]) for batch in batches)

        dataset = tf.data.Dataset.from_tensor_slices({"img": images}).batch(b).cache()
        with exported_scenario(export_dir) as exported:
            params = PredictorParams(batch_size=b)
            with exported.scenario().create_predictor(exported.directory, params) as predictor:
                raw_inputs = [{"img": image} for image in images]
                timings = alternating(
                    {
                        "plain": plain,
                        "predict_dataset": lambda: sum(1 for _ in predictor.predict_dataset(dataset)),
                        "predict_raw": lambda: sum(1 for _ in predictor.predict_raw(raw_inputs)),
                    },
                    args.repeats,
                    n,
                )
    print(f"{n} samples, batch size {b}, {args.repeats} alternating rounds")
    for name, seconds in timings.items():
        ratio = float(np.median([p / s for p, s in zip(timings["plain"], seconds)]))
        best = min(seconds)
        print(f"{name:16s} best {best:8.3f} s  {n / best:10.0f} samples/s  median ratio vs plain {ratio:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
