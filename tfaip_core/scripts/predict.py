"""`tfaip-predict --export_dir DIR [DIR ...] [flags]`: run exported models on new data, one JSON line per input.

Rebuilds the scenario from the params stored with the (first) export; `--data.*` flags choose the inputs
(e.g. the tutorial's `--data.files`), `--predict.*` flags the batching. With several model directories a
`MultiModelPredictor` combines their predictions through the scenario's voter. Each line is
`{"id": <the input's meta id>, "outputs": {...}}`. Runs as a console script and as a plain file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import IO, Any, Iterator, List, Optional, Tuple

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROG = "tfaip-predict"
USAGE = f"""usage: {PROG} --export_dir DIR [DIR ...] [--data.* flags] [--predict.* flags]

Predict with exported models (OUTPUT_DIR/best, OUTPUT_DIR/export or .zip archives). The scenario's
--data.* flags name the inputs (tutorial: --data.files a.png b.npy ...); --predict.batch_size,
--predict.num_processes, --predict.limit, --predict.output_file FILE (default: standard output).
Several model directories are combined by the scenario's voter. One JSON line per input: its id and outputs."""
PREDICT_PREFIX = "--predict."


def main(argv: Optional[List[str]] = None) -> int:
    from tfaip_core.scripts.cli import run_cli

    args = sys.argv[1:] if argv is None else argv
    return run_cli(PROG, lambda: _predict(args))


def split_flags(args: List[str], prefix: str) -> Tuple[List[str], List[str]]:
    """(the flags starting with `prefix` with their values, the other arguments)."""
    mine: List[str] = []
    rest: List[str] = []
    target = rest
    for arg in args:
        if arg.startswith("--"):
            target = mine if arg.startswith(prefix) else rest
        target.append(arg)
    return mine, rest


def _predict(args: List[str]) -> int:
    from tfaip_core.scripts.cli import usage_exit

    if (status := usage_exit(args, USAGE)) is not None:
        return status
    from tfaip_core.scripts.lav import pop_model_dirs

    model_dirs, flags = pop_model_dirs(list(args), PROG, several=True)
    predict_flags, data_flags = split_flags(flags, PREDICT_PREFIX)
    from tfaip_core.util.logging import logger, quiet_tensorflow, setup_logging

    setup_logging()
    quiet_tensorflow()
    from tfaip_core.errors import ConfigError
    from tfaip_core.predict.params import PredictorParams
    from tfaip_core.scenario.exported import exported_scenario
    from tfaip_core.scripts.cli import parse_params

    predictor_params = parse_params(PROG, predict_flags, PredictorParams(), root="predict", description=USAGE)
    predictor_params.validate()
    with contextlib.ExitStack() as stack:
        exported = [stack.enter_context(exported_scenario(path)) for path in model_dirs]
        first = exported[0]
        others = [(path, e) for path, e in zip(model_dirs, exported) if e.scenario_cls is not first.scenario_cls]
        if others:
            path, other = others[0]
            raise ConfigError(
                f"{PROG} combines models of one scenario; {model_dirs[0]} is {first.scenario_cls.class_path()}, but "
                f"{path} is {other.scenario_cls.class_path()}. Fix: pass exports of the same scenario."
            )
        params = parse_params(PROG, data_flags, first.params, description=USAGE)
        params.scenario.data.validate()
        scenario = first.scenario_cls(params.scenario)
        directories = [e.directory for e in exported]
        if len(directories) == 1:
            predictor = stack.enter_context(scenario.create_predictor(directories[0], predictor_params))
        else:
            predictor = stack.enter_context(scenario.create_multi_predictor(directories, predictor_params))
        out = stack.enter_context(_output(predictor_params.output_file))
        for sample in predictor.predict():
            out.write(json.dumps({"id": sample.id, "outputs": _json(sample.outputs)}) + "\n")
        logger("predict").info("Predicted %s", predictor.stats)
    return 0


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    if not path:
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8") as f:
        yield f


def _json(value: Any) -> Any:
    """numpy arrays and scalars (and bytes) as JSON values."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
