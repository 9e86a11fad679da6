"""Run every benchmark and write their tables into docs/benchmarks.md ("Latest full run").

Each script in `SCRIPTS` that exists is run in its own process with its default settings (or the quick
settings with `--quick`); the markdown table it prints last (and the lines after it) goes into the section
between the markers `<!-- run_all:begin -->` and `<!-- run_all:end -->` of docs/benchmarks.md, headed by the
machine, the versions and the date. Everything else in that file is left as it is.

Usage (from the repository root; about 30 minutes on 2 idle cores, a few with --quick):
    python benchmarks/run_all.py [--quick] [--only training_overhead startup ...] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "benchmarks.md")
BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"

# script -> (title, quick arguments)
SCRIPTS: Dict[str, tuple] = {
    "training_overhead": (
        "Training overhead (s per epoch)",
        ["--samples", "6000", "--epochs", "3", "--repeats", "1"],
    ),
    "startup": ("Start-up", ["--repeats", "1"]),
    "memory": ("Memory", ["--repeats", "1"]),
    "validation": ("Validation pass", ["--repeats", "1"]),
    "help": ("--help", []),
    "input_pipeline": ("Input pipeline", ["--samples", "2000", "--repeats", "1"]),
    "predictor": ("Predictor throughput", []),
    "distribution": ("Distribution", []),
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import keras
    import tensorflow as tf

    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, {datetime.date.today().isoformat()}"
    )


def last_table(stdout: str) -> str:
    """The last markdown table the script printed, with the lines that follow it (its notes)."""
    lines = stdout.rstrip().splitlines()
    starts = [
        i for i, line in enumerate(lines) if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|"))
    ]
    return "\n".join(lines[starts[-1] :]) if starts else "(no table printed)\n```\n" + "\n".join(lines[-10:]) + "\n```"


def run(name: str, quick: bool) -> str:
    title, quick_args = SCRIPTS[name]
    cmd = [sys.executable, os.path.join("benchmarks", f"{name}.py"), *(quick_args if quick else [])]
    print(f"== {' '.join(cmd)}", flush=True)
    begin = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    took = time.perf_counter() - begin
    print(out.stdout[-3000:], flush=True)
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return f"### {title}\n\n`{' '.join(cmd[1:])}` failed (exit {out.returncode}).\n"
    return f"### {title}\n\n`python {' '.join(cmd[1:])}` ({took:.0f} s)\n\n{last_table(out.stdout)}\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one repetition: a smoke run")
    parser.add_argument("--only", nargs="+", choices=list(SCRIPTS), help="run only these benchmarks")
    parser.add_argument("--no-write", action="store_true", help="print, but leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    names = [n for n in (args.only or SCRIPTS) if os.path.exists(os.path.join(REPO, "benchmarks", f"{n}.py"))]
    sections = [run(name, args.quick) for name in names]
    kind = "quick run (--quick: small sizes, one repetition)" if args.quick else "full run"
    text = f"{BEGIN}\n## Latest {kind}\n\n{machine()}\n\n" + "\n".join(sections) + f"\n{END}"
    if args.no_write:
        print(text)
        return 0
    with open(DOC, encoding="utf-8") as f:
        doc = f.read()
    if BEGIN in doc and END in doc:
        doc = doc[: doc.index(BEGIN)] + text + doc[doc.index(END) + len(END) :]
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(doc)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
