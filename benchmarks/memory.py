"""Memory: peak RSS of a tutorial run against the same run with 10x the samples per epoch.

Each run is `tfaip-train scenarios.tutorial` (2 epochs, no exports) in a fresh process whose peak resident
memory (`ru_maxrss`) is read when it ends. The "10x" run sets `--trainer.samples_per_epoch` to ten passes
over the training data, so it streams ten times as many samples through the pipeline and the loop; memory
that grows with the samples seen (a leak, an ever-growing cache) shows up as a ratio above 1. Both data
modes are measured: samples preloaded into memory (the default) and streamed from the generator
(`--trainer.preload_data false`).

Usage:
    python benchmarks/memory.py [--repeats 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SAMPLES = 1438  # the tutorial's training split of scikit-learn's digits

RUN = """
import resource, sys
from tfaip_core.scripts.train import main
status = main(sys.argv[1:])
print("PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)
sys.exit(status)
"""


def peak_rss_mb(output_dir: str, samples_per_epoch: int, preload: bool) -> float:
    flags = ["scenarios.tutorial", "--trainer.output_dir", output_dir, "--trainer.epochs", "2"]
    flags += ["--trainer.samples_per_epoch", str(samples_per_epoch), "--trainer.preload_data", str(preload).lower()]
    flags += ["--trainer.export_best", "false", "--trainer.export_final", "false", "--trainer.progress_bar", "false"]
    env = {**os.environ, "TFAIP_LOG_LEVEL": "warning", "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", RUN, *flags], capture_output=True, text=True, cwd=REPO, env=env, check=False
    )
    for line in out.stdout.splitlines():
        if line.startswith("PEAK_RSS_MB"):
            return float(line.split()[1])
    raise RuntimeError(f"the run failed (exit {out.returncode}): {out.stderr[-2000:]}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    peaks: Dict[str, List[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for preload in (True, False):
                for factor in (1, 10) if r % 2 == 0 else (10, 1):
                    key = f"{'preloaded' if preload else 'streamed'} x{factor}"
                    out = os.path.join(tmp, f"{r}-{preload}-{factor}")
                    peaks.setdefault(key, []).append(peak_rss_mb(out, factor * TRAIN_SAMPLES, preload))
                    print(f"round {r + 1} {key}: {peaks[key][-1]:.0f} MB", flush=True)
    median = {k: statistics.median(v) for k, v in peaks.items()}
    ratios = {mode: median[f"{mode} x10"] / median[f"{mode} x1"] for mode in ("preloaded", "streamed")}
    print("\n| data | peak RSS, 1 pass per epoch (MB) | 10 passes per epoch (MB) | ratio |\n|---|---:|---:|---:|")
    for mode, ratio in ratios.items():
        print(f"| {mode} | {median[f'{mode} x1']:.0f} | {median[f'{mode} x10']:.0f} | {ratio:.3f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"median_mb": median, "ratios": ratios, "repeats": args.repeats}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
