"""`tfaip-lav --export_dir DIR [flags]`: load and validate an exported model (LAV).

Rebuilds the scenario from the params stored with the export, runs the export (plain `tf.saved_model.load`)
over each LAV list (`--lav.lists`) or else the validation data (`--val.*`, as stored), post-processes, feeds
every sample to the scenario's evaluator, prints a table of the model's metrics and the evaluator's results,
and writes them as JSON (`--lav.results_file`). Runs as a console script and as a plain file.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional, Tuple

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROG = "tfaip-lav"
USAGE = f"""usage: {PROG} --export_dir DIR [--lav.* --val.* --data.* flags]

Load and validate an exported model: DIR is OUTPUT_DIR/best or OUTPUT_DIR/export of a training run, or a .zip
model archive. The scenario and its data come from the params stored with the export; flags override them,
e.g. --lav.lists a.lst b.lst (list-file scenarios, the tutorial), --lav.batch_size 1, --val.limit 100,
--lav.print_samples true, --lav.results_file results.json."""
EXPORT_DIR = "--export_dir"


def main(argv: Optional[List[str]] = None) -> int:
    from tfaip_core.scripts.cli import run_cli

    args = sys.argv[1:] if argv is None else argv
    return run_cli(PROG, lambda: _lav(args))


def pop_model_dirs(args: List[str], prog: str, several: bool = False) -> Tuple[List[str], List[str]]:
    """(`--export_dir` values, the other arguments). One value, or with `several` one or more.

    Raises:
        ConfigError: no `--export_dir`, no value, or several where one is expected.
    """
    from tfaip_core.errors import ConfigError

    dirs: List[str] = []
    rest: List[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == EXPORT_DIR or arg.startswith(EXPORT_DIR + "="):
            if "=" in arg:
                dirs.append(arg.split("=", 1)[1])
                i += 1
            else:
                i += 1
                while i < len(args) and not args[i].startswith("--"):
                    dirs.append(args[i])
                    i += 1
            continue
        rest.append(arg)
        i += 1
    what = "one or more model directories" if several else "one model directory"
    if not dirs:
        raise ConfigError(f"{EXPORT_DIR} is required ({what}). Fix: {prog} {EXPORT_DIR} OUTPUT_DIR/best [flags].")
    if len(dirs) > 1 and not several:
        raise ConfigError(f"{EXPORT_DIR} takes {what}; got {len(dirs)}: {dirs}. Fix: pass one.")
    return dirs, rest


def _lav(args: List[str]) -> int:
    from tfaip_core.scripts.cli import usage_exit

    if (status := usage_exit(args, USAGE)) is not None:
        return status
    (model_dir,), flags = pop_model_dirs(list(args), PROG)
    from tfaip_core.util.logging import quiet_tensorflow, setup_logging

    setup_logging()
    quiet_tensorflow()
    from tfaip_core.lav.lav import format_table
    from tfaip_core.predict.loaded_model import LoadedModel
    from tfaip_core.scenario.exported import exported_scenario
    from tfaip_core.scripts.cli import parse_params
    from tfaip_core.util.io import atomic_write_json

    with exported_scenario(model_dir) as exported:
        params = parse_params(PROG, flags, exported.params, description=USAGE)
        params.lav.validate()
        params.val.validate("--val")
        params.scenario.data.validate()
        scenario = exported.scenario_cls(params.scenario)
        pipelines = scenario.lav_pipelines(params)
        with LoadedModel(exported.directory) as model:
            lav = scenario.create_lav(model.predict, params.lav)
            results = [lav.run(pipeline, f"l{i}", print_fn=print) for i, pipeline in enumerate(pipelines)]
    print(format_table(results))
    if params.lav.results_file:
        lists = list(params.lav.lists) or ["validation data"]
        record = {"model": os.path.abspath(model_dir), "lists": lists, "results": [r.to_dict() for r in results]}
        atomic_write_json(params.lav.results_file, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
