"""`tfaip-train SCENARIO [flags]`: train a scenario from scratch.

Runs as a console script and as a plain file (`python tfaip_core/scripts/train.py scenarios.tutorial ...`)
so that it can be debugged in an IDE.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfaip_core.util.logging import quiet_tensorflow, silenced_native_stderr  # noqa: E402

PROG = "tfaip-train"
USAGE = f"""usage: {PROG} SCENARIO --trainer.output_dir DIR [flags] [--print_params]

Train a scenario. SCENARIO is a module (scenarios.tutorial), a file (scenarios/tutorial/scenario.py)
or module:Class. `{PROG} SCENARIO --help` lists every flag of that scenario with its default.
--print_params prints the resolved params as JSON instead of training (for tfaip-train-from-params)."""


def main(argv: Optional[List[str]] = None) -> int:
    from tfaip_core.scripts.cli import run_cli

    args = sys.argv[1:] if argv is None else argv
    return run_cli(PROG, lambda: _train(args))


def _train(args: List[str]) -> int:
    from tfaip_core.scripts.cli import check_scenario_first, usage_exit

    if (status := usage_exit(args, USAGE)) is not None:
        return status
    check_scenario_first(args, PROG)
    from tfaip_core.scripts.cli import pop_help, pop_print_params

    flags, show = pop_print_params(args[1:])
    flags, help_asked = pop_help(flags)
    if not help_asked:
        quiet_tensorflow()  # before the scenario imports it: no C++ start-up chatter
    from tfaip_core.scenario.locate import locate_scenario
    from tfaip_core.scripts.cli import parse_params, print_params

    with silenced_native_stderr():  # --help imports only what the scenario module imports (quietly)
        scenario_cls = locate_scenario(args[0])
    params = parse_params(PROG, flags, scenario_cls.default_trainer_params(), description=USAGE)
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
