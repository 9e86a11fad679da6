"""`--help` wall time: how long a user waits for the flags, and whether TensorFlow was imported for it.

Measured in fresh processes (`--repeats` times each, median), each running a program's `main` as its console
script does and reporting afterwards whether `tensorflow` was imported:

* ``tfaip-train --help``: the program's usage, no scenario;
* ``tfaip-train SCENARIO --help`` for the tutorial and the minimal scenario: the tutorial names its data,
  model and evaluator classes as strings (imported when training starts), so its help loads no TensorFlow;
  the one-file minimal scenario defines its Keras graph in the scenario module, so its help waits for
  TensorFlow's import;
* ``help text only``: the tutorial's flags parsed and rendered from its params (`TutorialScenarioParams`),
  what `--help` costs for a scenario module that does not import TensorFlow at the top;
* ``import tensorflow``: for comparison.

Usage:
    python benchmarks/help.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = "import sys; print('TF' if 'tensorflow' in sys.modules else 'no TF', file=sys.stderr)"
PROGRAM = "from tfaip_core.scripts.train import main; main({argv!r}); " + REPORT
RENDER_ONLY = (
    "from scenarios.tutorial.params import TutorialScenarioParams\n"
    "from tfaip_core.scripts.cli import parse_params\n"
    "from tfaip_core.scripts.flag_help import render_help\n"
    "from tfaip_core.scripts.train import USAGE\n"
    "from tfaip_core.trainer.params import TrainerParams\n"
    "params = parse_params('tfaip-train', [], TrainerParams(scenario=TutorialScenarioParams()))\n"
    "print(render_help(USAGE, params))\n" + REPORT
)
CASES: Dict[str, str] = {
    "tfaip-train --help": PROGRAM.format(argv=["--help"]),
    "tfaip-train scenarios.tutorial --help": PROGRAM.format(argv=["scenarios.tutorial", "--help"]),
    "tfaip-train scenarios.minimal --help": PROGRAM.format(argv=["scenarios.minimal", "--help"]),
    "help text only (tutorial params)": RENDER_ONLY,
    "import tensorflow": "import tensorflow; " + REPORT,
}


def measure(code: str) -> Tuple[float, str]:
    """Wall time of one fresh `python -c code` and what it reported about TensorFlow."""
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {code}\n{done.stderr[-2000:]}")
    return took, done.stderr.strip().splitlines()[-1]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="Fresh processes per case (median). Defaults to 5.")
    args = parser.parse_args(argv)
    times: Dict[str, List[float]] = {name: [] for name in CASES}
    imported: Dict[str, str] = {}
    for _ in range(args.repeats):  # alternately, so that load on the machine hits every case alike
        for name, code in CASES.items():
            took, imported[name] = measure(code)
            times[name].append(took)
    print("| command | wall time (median) | TensorFlow imported |")
    print("|---|---|---|")
    for name in CASES:
        print(f"| `{name}` | {statistics.median(times[name]):.2f} s | {imported[name]} |")
    print(f"\n{args.repeats} fresh processes each, {os.cpu_count()} CPUs; the target for --help is under 2 s.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
