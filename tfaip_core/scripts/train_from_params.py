"""`tfaip-train-from-params FILE [flags]`: start a fresh run from a params JSON file.

FILE is any params JSON — an earlier run's trainer_params.json, or the output of
`tfaip-train SCENARIO [flags] --print_params`. Flags override single fields and keep the others.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROG = "tfaip-train-from-params"
USAGE = f"""usage: {PROG} FILE [flags] [--print_params]

Start a new training run from the params JSON FILE; flags override its fields (usually
--trainer.output_dir DIR). --print_params prints the resolved params as JSON and exits."""


def main(argv: Optional[List[str]] = None) -> int:
    from tfaip_core.scripts.cli import run_cli

    args = sys.argv[1:] if argv is None else argv
    return run_cli(PROG, lambda: _train(args))


def _train(args: List[str]) -> int:
    from tfaip_core.scripts.cli import usage_exit

    if (status := usage_exit(args, USAGE)) is not None:
        return status
    from tfaip_core.scripts.cli import pop_help, pop_print_params
    from tfaip_core.util.logging import quiet_tensorflow, silenced_native_stderr

    flags, show = pop_print_params(args[1:])
    flags, help_asked = pop_help(flags)
    if not help_asked:
        quiet_tensorflow()
    from tfaip_core.scenario.locate import load_params_file
    from tfaip_core.scripts.cli import parse_params, print_params

    with silenced_native_stderr():
        scenario_cls, stored = load_params_file(args[0])
    stored.current_epoch = 0
    stored.overwrite = False  # replacing a run must be asked for on this command line
    params = parse_params(PROG, flags, stored, description=USAGE)
    if help_asked:
        from tfaip_core.scripts.flag_help import render_help

        print(render_help(USAGE, params), end="")
        return 0
    from tfaip_core.trainer.run import train

    if show:
        print_params(params, scenario_cls)
        return 0
    train(scenario_cls, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
