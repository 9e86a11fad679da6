"""`tfaip-resume-training DIR [flags]`: continue the run in DIR from its newest complete checkpoint.

Flags override the stored parameters (e.g. `--trainer.epochs 20` to extend a finished run); flags
that cannot apply to the stored checkpoint (another graph, optimizer or output directory) are refused,
and so is a run without a complete checkpoint (resuming it would train from scratch and replace its models).
"""

from __future__ import annotations

import copy
import os
import sys
from typing import List, Optional

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PROG = "tfaip-resume-training"
USAGE = f"""usage: {PROG} DIR [flags]

Continue the training run in DIR (a --trainer.output_dir of tfaip-train) from its newest complete
checkpoint. Flags override stored values, e.g. --trainer.epochs 20."""


def main(argv: Optional[List[str]] = None) -> int:
    from tfaip_core.scripts.cli import run_cli

    args = sys.argv[1:] if argv is None else argv
    return run_cli(PROG, lambda: _resume(args))


def _resume(args: List[str]) -> int:
    from tfaip_core.errors import ConfigError
    from tfaip_core.scripts.cli import usage_exit

    if (status := usage_exit(args, USAGE)) is not None:
        return status
    run_dir = os.path.abspath(args[0])
    params_file = os.path.join(run_dir, "trainer_params.json")
    if not os.path.isfile(params_file):
        raise ConfigError(
            f"{run_dir} is not a run directory: it has no trainer_params.json. "
            "Fix: pass a --trainer.output_dir of tfaip-train."
        )
    from tfaip_core.scripts.cli import pop_help
    from tfaip_core.util.logging import quiet_tensorflow, silenced_native_stderr

    flags, help_asked = pop_help(args[1:])
    if not help_asked:
        quiet_tensorflow()
    from tfaip_core.scenario.locate import load_params_file
    from tfaip_core.scripts.cli import parse_params
    from tfaip_core.trainer.params_io import refused_resume_changes

    # Read only until train() holds the directory's lock: no log file, nothing written before.
    with silenced_native_stderr():
        scenario_cls, stored = load_params_file(params_file)
    stored.output_dir = run_dir  # the directory may have moved since
    params = parse_params(PROG, flags, copy.deepcopy(stored), description=USAGE)
    if help_asked:
        from tfaip_core.scripts.flag_help import render_help

        print(render_help(USAGE, params), end="")
        return 0
    from tfaip_core.trainer.run import train

    refused = refused_resume_changes(stored, params)
    if refused:
        raise ConfigError(
            f"these flags cannot change when resuming (they do not fit the stored checkpoint): {'; '.join(refused)}. "
            "Fix: drop them, or start a new run with tfaip-train-from-params."
        )
    train(scenario_cls, params, resume=True)  # refuses a run without a complete checkpoint
    return 0


if __name__ == "__main__":
    sys.exit(main())
