"""Training overhead: seconds per epoch of the framework's loop vs `keras.Model.fit` vs a hand-written loop.

The tutorial's MLP (128, 64, dropout 0.1) and CNN (conv 16, conv 32, dense 64) on generated MNIST-shaped
data (28x28 uint8 images, 10 classes; nothing downloads), Adam 1e-3, the same batch size everywhere.
Variants, run alternately in this one process (`--repeats` rounds), each for `--epochs` epochs:

* ``framework``: `Trainer.fit` at its defaults (automatic steps per compiled call, a checkpoint every epoch,
  the accuracy metric of the tutorial), validation on 128 samples, no exports;
* ``fit``: `keras.Model.fit(x, y)` with the same layers, loss and accuracy metric, `steps_per_execution` 1
  (its default) and 16;
* ``loop``: a minimal hand-written `tf.function` train step, one call per batch, over a shuffled
  `tf.data` pipeline.

Each variant's first epoch (tracing) is left out; a variant's time is the median of its other epochs over all
rounds (a second table gives the ratios of the fastest epochs). An epoch's time is the training only: from
the start of the epoch to the end of its last step (the framework's per-epoch checkpoint and validation come
after that and are reported apart as ``epoch end``).

Usage:
    python benchmarks/training_overhead.py [--samples 60000] [--models mlp cnn] [--batch-sizes 16 128]
                                           [--epochs 3] [--repeats 2] [--variants framework fit_spe16 ...]
                                           [--json FILE]

`--variants` runs a subset (e.g. `framework fit_spe16`: more rounds of one comparison in the same time) or adds
`fit_spe128` (`fit` with 128 steps per call, which a small model's best `fit` can be).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfaip_core.trainer.callbacks.base import Callback  # noqa: E402

NUM_CLASSES = 10
VAL_SAMPLES = 128


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Learnable MNIST-shaped data: a class-specific 28x28 pattern plus noise, as uint8 pixels."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0, 255, size=(NUM_CLASSES, 28, 28))
    labels = rng.integers(0, NUM_CLASSES, size=n)
    noise = rng.normal(0, 60, size=(n, 28, 28))
    images = np.clip(patterns[labels] * 0.5 + noise + 64, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------------------
# the framework: the tutorial scenario on the generated data
# ---------------------------------------------------------------------------------------------------------
def framework_scenario(images: np.ndarray, labels: np.ndarray, val_samples: int = VAL_SAMPLES) -> Any:
    """The tutorial scenario whose data is `images`/`labels` (training) and their first `val_samples` (validation)."""
    from scenarios.tutorial.data import TutorialData
    from scenarios.tutorial.scenario import TutorialScenario
    from tfaip_core import ListDataGenerator, PipelineMode, Sample

    class GeneratedData(TutorialData):
        def create_generator(self, mode: PipelineMode, pipeline: Any) -> ListDataGenerator:
            n = len(labels) if mode == PipelineMode.TRAINING else val_samples
            samples = [
                Sample(inputs={"img": images[i]}, targets={"gt": labels[i]}, meta={"id": str(i)}) for i in range(n)
            ]
            return ListDataGenerator(mode, pipeline, samples)

    class GeneratedScenario(TutorialScenario):
        data_cls = GeneratedData

    return GeneratedScenario


class EpochTimer(Callback):
    """A framework callback: the training time of each epoch, and the time its end (checkpoint ...) took."""

    def __init__(self) -> None:
        self.train: List[float] = []
        self.end: List[float] = []
        self._begin = self._last_step = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        now = time.perf_counter()
        if self._last_step:  # validation, callbacks and the checkpoint of the previous epoch
            self.end.append(now - self._last_step)
        self._begin = now

    def on_train_batch_end(self, step: int, logs: Optional[dict] = None) -> None:
        self._last_step = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.train.append(self._last_step - self._begin)


def run_framework(model: str, batch_size: int, epochs: int, images: np.ndarray, labels: np.ndarray) -> Dict:
    from scenarios.tutorial.params import CNNParams, MLPParams

    scenario_cls = framework_scenario(images, labels)
    params = scenario_cls.default_trainer_params()
    params.scenario.data.dataset = "mnist"  # 28x28 uint8 inputs, pixels / 255 in the graph
    params.scenario.model.graph = MLPParams() if model == "mlp" else CNNParams(filters=[16, 32], dense=[64])
    params.epochs = epochs
    params.train.batch_size = batch_size
    params.export_best = params.export_final = False
    params.progress_bar = False  # output is a pipe here; the bar's cost is measured by tests, not this
    params.num_print_evaluate = 0
    with tempfile.TemporaryDirectory() as tmp:
        params.output_dir = os.path.join(tmp, "run")
        trainer = scenario_cls(params.scenario).create_trainer(params)
        timer = EpochTimer()
        trainer.extra_callbacks.append(timer)
        trainer.fit()
    return {"train": timer.train, "end": timer.end}


# ---------------------------------------------------------------------------------------------------------
# plain Keras
# ---------------------------------------------------------------------------------------------------------
def keras_model(model: str) -> Any:
    import keras

    layers = [keras.Input((28, 28), dtype="uint8"), keras.layers.Rescaling(1.0 / 255)]
    if model == "mlp":
        layers += [
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.1),
        ]
    else:
        layers += [
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2, padding="same"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
        ]
    return keras.Sequential(layers + [keras.layers.Dense(NUM_CLASSES)])


def run_fit(model: str, batch_size: int, epochs: int, images: np.ndarray, labels: np.ndarray, spe: int) -> Dict:
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.train: List[float] = []

        def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
            self._begin = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
            self.train.append(time.perf_counter() - self._begin)

    net = keras_model(model)
    net.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=spe,
    )
    timer = Timer()
    net.fit(images, labels, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[timer])
    return {"train": timer.train}


def run_loop(model: str, batch_size: int, epochs: int, images: np.ndarray, labels: np.ndarray) -> Dict:
    import keras
    import tensorflow as tf

    net = keras_model(model)
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, net(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss

    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(labels), reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    times: List[float] = []
    for _ in range(epochs):
        begin = time.perf_counter()
        for x, y in dataset:
            loss = train_step(x, y)
        float(loss)  # the last step has finished
        times.append(time.perf_counter() - begin)
    return {"train": times}


VARIANTS: Dict[str, Callable[..., Dict]] = {
    "framework": run_framework,
    "fit": lambda *a: run_fit(*a, spe=1),
    "fit_spe16": lambda *a: run_fit(*a, spe=16),
    "loop": run_loop,
    "fit_spe128": lambda *a: run_fit(*a, spe=128),  # not run by default: pick it with --variants
}
DEFAULT_VARIANTS = ["framework", "fit", "fit_spe16", "loop"]


def measure(model: str, batch_size: int, args: argparse.Namespace, data: tuple) -> Dict[str, Dict[str, float]]:
    """Median epoch time (first epoch of every run left out) of each variant, run alternately."""
    train: Dict[str, List[float]] = {v: [] for v in args.variants}
    end: List[float] = []
    for r in range(args.repeats):
        order = list(args.variants) if r % 2 == 0 else list(reversed(args.variants))
        for variant in order:
            result = VARIANTS[variant](model, batch_size, args.epochs, *data)
            train[variant] += result["train"][1:]
            end += result.get("end", [])[1:]
            print(
                f"  {model} bs {batch_size} round {r + 1} {variant}: " + ", ".join(f"{t:.2f}" for t in result["train"])
            )
    out = {v: {"epoch_s": statistics.median(t), "min_epoch_s": min(t)} for v, t in train.items()}
    if "framework" in out:
        out["framework"]["epoch_end_s"] = statistics.median(end) if end else float("nan")
    return out


def _seconds(row: Dict[str, Any], variant: str, key: str) -> Optional[float]:
    return row[variant][key] if variant in row else None


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b is not None else None


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 128])
    parser.add_argument("--epochs", type=int, default=3, help="per run; the first is left out (>= 2)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=DEFAULT_VARIANTS,
        choices=list(VARIANTS),
        help="which (default: the first four)",
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch, which traces, is left out)")
    os.environ.setdefault("TFAIP_LOG_LEVEL", "warning")
    data = make_data(args.samples)
    rows = []
    for model in args.models:
        for batch_size in args.batch_sizes:
            result = measure(model, batch_size, args, data)
            rows.append({"model": model, "batch_size": batch_size, **result})
    print()
    print("| model | batch | framework s/epoch | fit | fit spe 16 | loop | framework / fit | / fit spe 16 | / loop |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        times = [_seconds(row, v, "epoch_s") for v in ("framework", "fit", "fit_spe16", "loop")]
        ratios = [_ratio(times[0], t) for t in times[1:]]
        print(f"| {row['model']} | {row['batch_size']} | " + " | ".join(_fmt(t) for t in times + ratios) + " |")
    print("\nThe same with each variant's fastest epoch (other processes only ever add time: the minimum is the")
    print("least disturbed measurement):\n")
    print("| model | batch | framework / fit | / fit spe 16 | / loop |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        times = [_seconds(row, v, "min_epoch_s") for v in ("framework", "fit", "fit_spe16", "loop")]
        print(
            f"| {row['model']} | {row['batch_size']} | "
            + " | ".join(_fmt(_ratio(times[0], t)) for t in times[1:])
            + " |"
        )
    others = [v for v in args.variants if v not in ("framework", "fit", "fit_spe16", "loop")]
    for row in rows:
        for variant in others:
            ratio = _ratio(_seconds(row, "framework", "epoch_s"), _seconds(row, variant, "epoch_s"))
            fastest = _ratio(_seconds(row, "framework", "min_epoch_s"), _seconds(row, variant, "min_epoch_s"))
            print(
                f"{row['model']} bs {row['batch_size']}: framework / {variant} {_fmt(ratio)} (fastest {_fmt(fastest)})"
            )
    if "framework" in args.variants:
        print(
            f"\n{args.samples} samples; framework epoch end (validation of 128 samples, checkpoint, params): "
            + ", ".join(f"{r['model']}/{r['batch_size']} {r['framework']['epoch_end_s']:.2f} s" for r in rows)
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"samples": args.samples, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
