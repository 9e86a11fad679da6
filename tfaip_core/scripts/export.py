"""`tfaip-export SOURCE --output DIR [--format ...]`: export a trained model again, without retraining.

SOURCE is an exported model (OUTPUT_DIR/export, OUTPUT_DIR/best, a `.zip` model archive), one checkpoint
(OUTPUT_DIR/checkpoint/ckpt-N, its raw weights) or a run directory (its OUTPUT_DIR/export). The scenario is
rebuilt from the `trainer_params.json` stored there, the weights are read by variable path, and the one
exporter of `tfaip_core.export` writes DIR, e.g. with another TFLite quantisation. No trainer is created.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import zipfile
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROG = "tfaip-export"
FORMATS = ("savedmodel", "trainable", "tflite", "archive")
QUANTIZATIONS = ("float32", "dynamic", "int8")
PARAMS_FILE = "trainer_params.json"
SAVED_MODEL_FILE = "saved_model.pb"
USAGE = f"""{PROG} SOURCE --output DIR [--format FORMAT ...] [--quantization float32|dynamic|int8]

Export a trained model again. SOURCE: OUTPUT_DIR/export, OUTPUT_DIR/best, a .zip model archive,
OUTPUT_DIR/checkpoint/ckpt-N or a run's OUTPUT_DIR (its export/). DIR always gets the serving SavedModel
with trainer_params.json; --format (savedmodel, trainable, tflite, archive) adds trainable/ (on-device
training), model.tflite, and DIR.zip (the model archive)."""


@dataclass
class Source:
    """Where the weights and the params come from."""

    weights_prefix: str  # checkpoint prefix read by variable path
    params_file: str
    model_dir: Optional[str]  # an exported model's directory (its resources), None for a checkpoint
    run_dir: Optional[str]  # the run's directory (metrics.jsonl, train.log for the archive), if known


def main(argv: Optional[List[str]] = None) -> int:
    from tfaip_core.scripts.cli import run_cli

    args = sys.argv[1:] if argv is None else argv
    return run_cli(PROG, lambda: _export(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, usage=USAGE, description=__doc__.split("\n")[0])
    parser.add_argument("source", help="An export, a .zip model archive, a checkpoint ckpt-N or a run directory.")
    parser.add_argument("--output", required=True, help="The export directory to write (new, or an earlier export).")
    parser.add_argument(
        "--format",
        nargs="+",
        choices=FORMATS,
        default=["savedmodel"],
        help="What to write besides the serving SavedModel (always written). Defaults to savedmodel.",
    )
    parser.add_argument(
        "--quantization",
        choices=QUANTIZATIONS,
        default=None,
        help="TFLite quantisation (with --format tflite). Defaults to float32.",
    )
    parser.add_argument(
        "--representative_samples",
        type=int,
        default=None,
        help="Validation samples that calibrate int8 (default: the run's --export.representative_samples).",
    )
    return parser


def _export(args: List[str]) -> int:
    from tfaip_core.errors import ConfigError

    parser = _parser()
    try:
        options = parser.parse_args(args)
    except SystemExit as e:  # argparse printed the usage (or the help)
        return int(e.code or 0)
    if options.quantization and "tflite" not in options.format:
        raise ConfigError(
            f"--quantization applies to the TFLite file; got --quantization {options.quantization} without it. "
            "Fix: add --format tflite."
        )
    from tfaip_core.util.logging import quiet_tensorflow, setup_logging

    setup_logging()
    quiet_tensorflow()
    output = os.path.abspath(options.output)
    with _opened(options.source) as source:
        _check_output(output, source)
        _write(source, output, options)
    return 0


@contextlib.contextmanager
def _opened(path: str) -> Iterator[Source]:
    """The `Source` behind a SOURCE argument (an archive extracted while it is in use)."""
    from tfaip_core.errors import ConfigError
    from tfaip_core.export.archive import model_directory

    full = os.path.abspath(path)
    if os.path.isdir(full) and not os.path.isfile(os.path.join(full, SAVED_MODEL_FILE)):
        if os.path.isfile(os.path.join(full, "variables.index")):  # one checkpoint: OUTPUT_DIR/checkpoint/ckpt-N
            run_dir = os.path.dirname(os.path.dirname(full))
            yield Source(os.path.join(full, "variables"), os.path.join(run_dir, PARAMS_FILE), None, run_dir)
            return
        if os.path.isfile(os.path.join(full, PARAMS_FILE)):  # a run directory: its final export
            export = os.path.join(full, "export")
            if not os.path.isfile(os.path.join(export, SAVED_MODEL_FILE)):
                raise ConfigError(
                    f"SOURCE must hold a model; got the run directory {path!r} without export/. Fix: pass "
                    f"{os.path.join(path, 'best')} or one {os.path.join(path, 'checkpoint', 'ckpt-N')}."
                )
            yield Source(
                os.path.join(export, "variables", "variables"), os.path.join(export, PARAMS_FILE), export, full
            )
            return
        raise ConfigError(
            f"SOURCE must be an exported model, a .zip model archive, a checkpoint ckpt-N or a run directory; got "
            f"{path!r}. Fix: pass e.g. OUTPUT_DIR/export."
        )
    with model_directory(path) as directory:
        parent = os.path.dirname(os.path.abspath(directory))
        run_dir = parent if os.path.isfile(os.path.join(parent, PARAMS_FILE)) and directory == full else None
        yield Source(
            os.path.join(directory, "variables", "variables"), os.path.join(directory, PARAMS_FILE), directory, run_dir
        )


def _check_output(output: str, source: Source) -> None:
    """DIR may be new or an earlier export (replaced); never a folder of the user's, never the source."""
    from tfaip_core.errors import ConfigError

    if source.model_dir and os.path.abspath(source.model_dir) == output:
        raise ConfigError(f"--output must differ from SOURCE; got {output!r} for both. Fix: choose another --output.")
    if os.path.lexists(output) and not (
        os.path.isdir(output) and os.path.isfile(os.path.join(output, SAVED_MODEL_FILE))
    ):
        raise ConfigError(
            f"--output must be a new directory or an earlier export (it is replaced); got {output!r}, which is "
            "neither. Fix: choose a new directory."
        )
    archive = output + ".zip"
    if os.path.lexists(archive) and not _is_model_archive(archive):
        raise ConfigError(
            f"{archive} exists and is not a model archive; --format archive would replace it. Fix: move it."
        )


def _is_model_archive(path: str) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return SAVED_MODEL_FILE in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _write(source: Source, output: str, options: argparse.Namespace) -> None:
    """Rebuild the scenario, load the weights, and write everything through the one exporter."""
    from tfaip_core.errors import ConfigError
    from tfaip_core.export.exporter import Exporter, Training, loss_function
    from tfaip_core.export.resources import resolve_resources
    from tfaip_core.model.model_base import build_keras_model
    from tfaip_core.model.variables import assign_model_variables, read_model_variables
    from tfaip_core.scenario.locate import load_params_file
    from tfaip_core.trainer.scope import trainable_variables
    from tfaip_core.trainer.step import TrainStep

    if not os.path.isfile(source.params_file):
        raise ConfigError(f"SOURCE must come with its {PARAMS_FILE}; got none at {source.params_file!r}.")
    scenario_cls, params = load_params_file(source.params_file)
    if source.model_dir:
        resolve_resources(params.scenario, source.model_dir)
    scenario = scenario_cls(params.scenario)
    data, model = scenario.create_data(), scenario.create_model()
    keras_model = build_keras_model(model.create_graph(), data.input_specs())
    assign_model_variables(keras_model, read_model_variables(source.weights_prefix), source.weights_prefix)
    export = params.export
    export.trainable = "trainable" in options.format
    export.tflite = (options.quantization or "float32") if "tflite" in options.format else "none"
    export.archive = "archive" in options.format
    if options.representative_samples is not None:
        export.representative_samples = options.representative_samples
    export.validate()
    training = None
    if export.trainable:
        # outside the run the schedule's position is unknown: the trainable export trains at the base rate
        variables = trainable_variables(keras_model, params.no_train_scope)
        optimizer = params.optimizer.create(float(params.learning_rate.lr))
        optimizer.build(variables)
        step = TrainStep(keras_model, model, optimizer, variables, ["loss"])
        training = Training(optimizer, variables, loss_function(step.loss))
    params_dict: Dict = params.to_dict()  # type: ignore[attr-defined]
    exporter = Exporter(keras_model, model, data, params_dict, params.scenario, export, params.val, training)
    exporter.export(output, extras=True)
    if export.archive:
        run_files = {}
        if source.run_dir:
            run_files = {name: os.path.join(source.run_dir, name) for name in ("metrics.jsonl", "train.log")}
        exporter.archive(output, output + ".zip", run_files)


if __name__ == "__main__":
    sys.exit(main())
