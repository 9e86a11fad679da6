"""`tfaip-benchmark-input-pipeline SCENARIO [flags]`: how fast a scenario's input pipeline delivers batches.

Builds the training (or validation) dataset exactly as `tfaip-train` would, from the same flags, and
iterates it without a model, printing samples/s and batches/s once a second until Ctrl-C or
`--time_limit`. Runs as a console script and as a plain file
(`python tfaip_core/scripts/benchmark_input_pipeline.py scenarios.tutorial --time_limit 5`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Iterator, List, Optional, Tuple

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROG = "tfaip-benchmark-input-pipeline"
MODES = ("train", "val")
REPORT_EVERY_SECS = 1.0
USAGE = f"""usage: {PROG} SCENARIO [flags of tfaip-train] [--time_limit S] [--mode train|val]

Iterate the training data pipeline of SCENARIO (with --mode val: the validation pipeline, repeated)
without a model, built from the same flags as tfaip-train (--train.*, --val.*, --data.*,
--trainer.preload_data, --trainer.random_seed; --trainer.output_dir is not needed). Prints samples/s and
batches/s once a second (total since the first batch was requested, and over the last second) and a
summary at the end: after --time_limit seconds (default: none) or on Ctrl-C (the first one stops after
the current batch, a second one at once)."""


@dataclass
class ProgramFlags:
    """The program's own flags, which are not params fields."""

    time_limit: Optional[float] = None
    mode: str = "train"


def pop_program_flags(args: List[str]) -> Tuple[List[str], ProgramFlags]:
    """Remove `--time_limit S` and `--mode M` (also `--flag=value`) from `args`; return the rest and their values.

    Raises:
        ConfigError: a value is missing or invalid.
    """
    from tfaip_core.errors import ConfigError

    flags = ProgramFlags()
    rest: List[str] = []
    i = 0
    while i < len(args):
        name, eq, inline = args[i].partition("=")
        if name not in ("--time_limit", "--mode"):
            rest.append(args[i])
            i += 1
            continue
        if eq:
            value, i = inline, i + 1
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value, i = args[i + 1], i + 2
        else:
            raise ConfigError(f"{name} needs a value. Fix: {name} {'SECONDS' if name == '--time_limit' else 'train'}.")
        if name == "--mode":
            if value not in MODES:
                raise ConfigError(f"--mode: unknown choice {value!r}; valid choices: {', '.join(MODES)}.")
            flags.mode = value
        else:
            try:
                seconds = float(value)
            except ValueError:
                seconds = float("nan")
            if not seconds > 0 or seconds == float("inf"):
                raise ConfigError(
                    f"--time_limit: invalid value {value!r}; expected a number of seconds > 0. "
                    "Fix: e.g. --time_limit 10."
                )
            flags.time_limit = seconds
    return rest, flags


class Meter:
    """Counts samples and batches; reports total and recent (since the last report) rates.

    The methods take the current time `now` (of `clock`) so that one loop step sees one instant.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.start = clock()
        self.samples = 0
        self.batches = 0
        self._last_time = self.start
        self._last_samples = 0
        self._last_batches = 0

    def add(self, samples: int) -> None:
        """Count one batch of `samples` samples."""
        self.samples += samples
        self.batches += 1

    def elapsed(self, now: float) -> float:
        """Seconds from the start to `now`."""
        return now - self.start

    def report_due(self, now: float) -> bool:
        """Whether a second has passed since the last report."""
        return now - self._last_time >= REPORT_EVERY_SECS

    def progress_line(self, now: float) -> str:
        """`progress: elapsed=...` with total and recent rates; starts a new "recent" window."""
        total = max(now - self.start, 1e-9)
        window = max(now - self._last_time, 1e-9)
        line = (
            f"progress: elapsed={total:.1f}s samples={self.samples} batches={self.batches} "
            f"samples/s={self.samples / total:.1f} batches/s={self.batches / total:.2f} "
            f"recent_samples/s={(self.samples - self._last_samples) / window:.1f} "
            f"recent_batches/s={(self.batches - self._last_batches) / window:.2f}"
        )
        self._last_time, self._last_samples, self._last_batches = now, self.samples, self.batches
        return line

    def summary_line(self, now: float, reason: str) -> str:
        """`summary: samples=... batches=... seconds=... samples/s=... batches/s=... (reason)`."""
        total = max(now - self.start, 1e-9)
        return (
            f"summary: samples={self.samples} batches={self.batches} seconds={total:.2f} "
            f"samples/s={self.samples / total:.1f} batches/s={self.batches / total:.2f} ({reason})"
        )


def batch_size_of(batch: Any) -> int:
    """The number of samples in a `(inputs, targets)` batch: the leading dimension of the first input tensor."""
    import tensorflow as tf

    inputs = batch[0] if isinstance(batch, tuple) else batch
    first = tf.nest.flatten(inputs)[0]
    shape = first.shape
    return int(shape[0]) if shape.rank and shape[0] is not None else int(tf.shape(first)[0])


def main(argv: Optional[List[str]] = None) -> int:
    from tfaip_core.scripts.cli import run_cli

    args = sys.argv[1:] if argv is None else argv
    return run_cli(PROG, lambda: _benchmark(args))


def _benchmark(args: List[str]) -> int:
    from tfaip_core.scripts.cli import check_scenario_first, usage_exit

    if (status := usage_exit(args, USAGE)) is not None:
        return status
    check_scenario_first(args, PROG)
    from tfaip_core.util.logging import quiet_tensorflow

    quiet_tensorflow()
    from tfaip_core.data.sample import PipelineMode
    from tfaip_core.scenario.locate import locate_scenario
    from tfaip_core.scripts.cli import parse_params
    from tfaip_core.util.logging import logger, setup_logging, silenced_native_stderr

    flags, program = pop_program_flags(args[1:])
    scenario_cls = locate_scenario(args[0])
    params = parse_params(PROG, flags, scenario_cls.default_trainer_params(), description=USAGE)
    setup_logging()
    params.scenario.scenario_class = scenario_cls.class_path()
    training = program.mode == "train"
    pipeline = params.train if training else params.val
    pipeline.validate("--train" if training else "--val")

    import tensorflow as tf

    with silenced_native_stderr():  # CUDA probing logs an error on machines without a GPU
        tf.config.list_physical_devices("GPU")
    from tfaip_core.data.data_pipeline import DataPipeline

    data = scenario_cls(params.scenario).create_data()
    mode = PipelineMode.TRAINING if training else PipelineMode.EVALUATION
    with DataPipeline(
        data, mode, pipeline, repeat=training, seed=params.random_seed, preload=params.preload_data
    ) as data_pipeline:
        dataset = data_pipeline.dataset()
        if not training:
            dataset = dataset.repeat()
        logger("benchmark").info(
            "Iterating the %s pipeline (%s samples a pass, batch size %d)%s",
            "training" if training else "validation",
            data_pipeline.num_samples if data_pipeline.num_samples is not None else "unknown",
            pipeline.batch_size,
            f" for {program.time_limit:g} s" if program.time_limit else "; stop with Ctrl-C",
        )
        print(_iterate(dataset, program.time_limit), flush=True)
    return 0


class StopFlag:
    """A SIGINT handler that asks the loop to stop after the current batch; a second Ctrl-C interrupts at once.

    A KeyboardInterrupt raised in the middle of a TensorFlow call can corrupt its state (and crash the
    process), so the first Ctrl-C only sets `stopped`.
    """

    def __init__(self) -> None:
        self.stopped = False

    def __call__(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.stopped:
            raise KeyboardInterrupt
        self.stopped = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Handle SIGINT with this flag inside the block (only in the main thread; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def _iterate(dataset: Any, time_limit: Optional[float]) -> str:
    """Iterate `dataset`, printing a progress line once a second; return the summary line.

    Stops after `time_limit` seconds, at the end of the dataset, or on Ctrl-C (after the current batch).
    The clock starts when the first batch is requested (pipeline start-up counts, building the dataset not).
    """
    iterator = iter(dataset)
    meter = Meter()
    reason = "end of data"
    with StopFlag().installed() as stop:
        try:
            for batch in iterator:
                meter.add(batch_size_of(batch))
                now = meter.clock()
                if meter.report_due(now):
                    print(meter.progress_line(now), flush=True)
                if stop.stopped:
                    reason = "interrupted"
                    break
                if time_limit is not None and meter.elapsed(now) >= time_limit:
                    reason = "time limit"
                    break
        except KeyboardInterrupt:  # the second Ctrl-C
            reason = "interrupted"
        if stop.stopped:
            reason = "interrupted"
    return meter.summary_line(meter.clock(), reason)


if __name__ == "__main__":
    sys.exit(main())
