"""`ProcessorPipeline` with worker processes: results, order, faults, shutdown, memory."""

import contextlib
import gc
import itertools
import json
import logging
import multiprocessing
import os
import pickle
import select
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from paiargparse import pai_dataclass

from tests.data.procs_for_tests import (
    MIX,
    AddValueParams,
    BrokenInitParams,
    BuiltOnceParams,
    DropMultiplesParams,
    ExitOnParams,
    FailOnParams,
    MergePairsParams,
    SleepParams,
    SplitEvensParams,
    TagModeParams,
    assert_accounted,
    expected_mix,
    make_samples,
    run_in_daemon,
    xs,
)
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.processor import DataProcessorParams
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError

REPO_ROOT = Path(__file__).resolve().parents[2]


def is_running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state not in ("Z", "X")
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait up to `timeout` s for `pids` to end; return those still running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if is_running(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if is_running(p)]


def counting_source(n: int, pulled: list[int]) -> Iterator[Sample]:
    for i in range(n) if n >= 0 else itertools.count():
        pulled[0] += 1
        yield Sample(inputs={"x": i}, meta={"id": f"s{i}"})


# -- results and order -------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_parallel_mix_matches_sequential_exactly() -> None:
    sequential = ProcessorPipeline(MIX, PipelineMode.EVALUATION, num_processes=1, max_failures=10)
    seq_out = xs(sequential.apply(make_samples(300)))
    with ProcessorPipeline(MIX, PipelineMode.EVALUATION, num_processes=2, chunk_size=4, max_failures=10) as parallel:
        assert parallel.parallel and parallel.ordered
        par_out = xs(parallel.apply(make_samples(300)))
        assert len(parallel.worker_pids) == 2
    assert par_out == seq_out == expected_mix(300)
    assert parallel.stats == sequential.stats
    assert parallel.stats.failed == 3 and parallel.stats.generated > 0  # 41 twice (from 4 and 41), 60 once
    assert_accounted(parallel.stats)


@pytest.mark.timeout(60)
def test_training_is_unordered_but_has_the_same_result_set() -> None:
    params = MIX[:3] + [SleepParams(seconds=0.0005, period=5)]
    with ProcessorPipeline(params, PipelineMode.TRAINING, num_processes=2, chunk_size=3) as pipeline:
        assert not pipeline.ordered
        out = xs(pipeline.apply(make_samples(200)))
    expected = xs(ProcessorPipeline(params, PipelineMode.TRAINING).apply(make_samples(200)))
    assert sorted(out) == sorted(expected)
    assert_accounted(pipeline.stats)


@pytest.mark.timeout(60)
def test_order_preserved_in_evaluation_with_uneven_delays() -> None:
    # Chunks of 2 samples sleeping 0..12 ms each finish out of order on the two workers.
    params = [SleepParams(seconds=0.002, period=7)]
    with ProcessorPipeline(params, PipelineMode.EVALUATION, num_processes=2, chunk_size=2) as pipeline:
        out = list(pipeline.apply(make_samples(150)))
    assert xs(out) == list(range(150))
    assert [s.id for s in out] == [f"s{i}" for i in range(150)]


@pytest.mark.timeout(60)
def test_processors_built_once_per_worker_and_workers_reused_across_runs() -> None:
    with ProcessorPipeline([BuiltOnceParams()], PipelineMode.PREDICTION, num_processes=2, chunk_size=5) as pipeline:
        first = list(pipeline.apply(make_samples(100)))
        pids = pipeline.worker_pids
        second = list(pipeline.apply(make_samples(100)))
        assert pipeline.worker_pids == pids
    builds = {s.meta["built"] for s in first + second}
    assert len(builds) <= 2
    assert {pid for pid, _ in builds} <= set(pids)
    assert os.getpid() not in pids


@pytest.mark.timeout(60)
def test_modes_filtering_in_workers() -> None:
    params = [TagModeParams(tag="train_only", modes=["training"]), TagModeParams(tag="always")]
    with ProcessorPipeline(params, PipelineMode.PREDICTION, num_processes=2) as pipeline:
        out = list(pipeline.apply(make_samples(40)))
    assert len(out) == 40
    assert all("train_only" not in s.meta and s.meta["always"] == "prediction" for s in out)


@pytest.mark.timeout(60)
def test_generating_processor_sees_one_sample_at_a_time_in_workers() -> None:
    # MergePairs needs the whole stream: in workers it gets one input per call, so nothing is merged.
    with ProcessorPipeline([MergePairsParams()], PipelineMode.EVALUATION, num_processes=2) as pipeline:
        assert xs(pipeline.apply(make_samples(7))) == list(range(7))


@pytest.mark.timeout(60)
def test_infinite_training_input_is_consumed_lazily() -> None:
    pulled = [0]
    with ProcessorPipeline(MIX[:3], PipelineMode.TRAINING, num_processes=2, chunk_size=8) as pipeline:
        out = list(itertools.islice(pipeline.apply(counting_source(-1, pulled)), 300))
    assert len(out) == 300
    # About 300 * 80 % / 1.5 inputs are needed; at most max_chunks_in_flight chunks more are read ahead.
    assert pulled[0] <= 300 + pipeline.max_chunks_in_flight * pipeline.chunk_size


# -- faults ------------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_worker_failures_are_skipped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    params = [FailOnParams(values=[5, 17, 33]), DropMultiplesParams(of=10), SplitEvensParams()]
    pipeline = ProcessorPipeline(params, PipelineMode.EVALUATION, num_processes=2, chunk_size=4, max_failures=3)
    with caplog.at_level(logging.WARNING, logger="tfaip_core.data"), pipeline:
        out = xs(pipeline.apply(make_samples(60)))
    expected = xs(ProcessorPipeline(params, PipelineMode.EVALUATION, max_failures=3).apply(make_samples(60)))
    assert out == expected
    stats = pipeline.stats
    assert stats.failed == 3 and stats.seen == 60 and stats.produced == len(out)
    assert_accounted(stats)
    messages = [r.getMessage() for r in caplog.records if r.name == "tfaip_core.data"]
    for value in (5, 17, 33):
        assert any(f"'s{value}' (input #{value})" in m and f"ValueError: bad value {value}" in m for m in messages)


@pytest.mark.timeout(60)
def test_worker_failures_over_limit_raise_data_error_and_stop_workers() -> None:
    pipeline = ProcessorPipeline(
        [FailOnParams(values=list(range(0, 400, 3)))], PipelineMode.EVALUATION, num_processes=2, max_failures=0.05
    )
    generator = pipeline.apply(make_samples(400))
    with pytest.raises(DataError, match=r"Too many samples failed: \d+ of \d+ .*max_failures=0.05.*bad value"):
        list(generator)
    assert pipeline.worker_pids == []  # the failed run shut the workers down


@pytest.mark.timeout(60)
def test_sigkill_worker_mid_run_is_replaced_and_samples_accounted(caplog: pytest.LogCaptureFixture) -> None:
    params = [SleepParams(seconds=0.001, period=4)]
    pipeline = ProcessorPipeline(params, PipelineMode.EVALUATION, num_processes=2, chunk_size=4, max_failures=1.0)
    with caplog.at_level(logging.WARNING, logger="tfaip_core.data"), pipeline:
        out = []
        for sample in pipeline.apply(make_samples(400)):
            out.append(sample.inputs["x"])
            if len(out) == 40:
                victim = pipeline.worker_pids[0]
                os.kill(victim, signal.SIGKILL)
        stats = pipeline.stats
        assert victim not in pipeline.worker_pids and len(pipeline.worker_pids) == 2
    assert stats.worker_restarts == 1
    assert stats.produced == len(out) and stats.produced + stats.failed == 400
    assert_accounted(stats)
    assert out == sorted(out)  # order is kept around the gap
    lost = sorted(set(range(400)) - set(out))
    assert len(lost) == stats.failed and len(lost) <= 2 * 4  # at most prefetch_chunks * chunk_size
    assert any("was killed by signal SIGKILL" in r.getMessage() for r in caplog.records)


@pytest.mark.timeout(60)
def test_sigkill_without_restarts_stops_with_clear_error() -> None:
    pipeline = ProcessorPipeline(
        [SleepParams(seconds=0.001, period=4)],
        PipelineMode.EVALUATION,
        num_processes=2,
        max_worker_restarts=0,
        max_failures=1.0,
    )
    start = time.monotonic()
    with pytest.raises(
        DataError,
        match=r"tfaip-data-worker-\d \(pid \d+\) was killed by signal SIGKILL "
        r"\(exit code -9\).*max_worker_restarts=0",
    ):
        for i, _ in enumerate(pipeline.apply(make_samples(10_000))):
            if i == 20:
                pids = pipeline.worker_pids
                os.kill(pids[1], signal.SIGKILL)
    assert time.monotonic() - start < 20
    assert wait_until_gone(pids, 5) == []


@pytest.mark.timeout(60)
def test_crashing_processor_is_survived_then_exhausts_restarts() -> None:
    one_crash = ProcessorPipeline(
        [ExitOnParams(values=[50])], PipelineMode.EVALUATION, num_processes=2, chunk_size=4, max_failures=1.0
    )
    with one_crash:
        out = xs(one_crash.apply(make_samples(200)))
    assert 50 not in out and one_crash.stats.worker_restarts == 1
    assert_accounted(one_crash.stats)

    many_crashes = ProcessorPipeline(
        [ExitOnParams(values=[10, 60, 110, 160])],
        PipelineMode.EVALUATION,
        num_processes=2,
        chunk_size=4,
        max_failures=1.0,
        max_worker_restarts=2,
    )
    with pytest.raises(DataError, match="exited with exit code 3.*2 workers were already replaced"):
        list(many_crashes.apply(make_samples(200)))


@pytest.mark.timeout(60)
def test_hung_worker_is_killed_after_worker_timeout() -> None:
    with ProcessorPipeline(
        [ExitOnParams(values=[7], how="hang")],
        PipelineMode.EVALUATION,
        num_processes=2,
        chunk_size=2,
        max_failures=1.0,
        worker_timeout=1.0,
    ) as pipeline:
        out = xs(pipeline.apply(make_samples(40)))
    assert 7 not in out and pipeline.stats.worker_restarts == 1
    assert len(out) + pipeline.stats.failed == 40


@pytest.mark.timeout(60)
def test_processor_construction_error_in_worker_is_raised() -> None:
    pipeline = ProcessorPipeline([BrokenInitParams()], PipelineMode.EVALUATION, num_processes=2)
    with pytest.raises(DataError, match="could not build the processors.*vocabulary.txt not found"):
        list(pipeline.apply(make_samples(10)))


def test_unpicklable_params_raise_config_error() -> None:
    params = FailOnParams(values=[lambda: 1])  # type: ignore[list-item]
    pipeline = ProcessorPipeline([params], PipelineMode.EVALUATION, num_processes=2)
    with pytest.raises(ConfigError, match="picklable"):
        next(pipeline.apply(make_samples(3)))


# -- shutdown ----------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_abandoned_generator_and_close_stop_workers() -> None:
    pipeline = ProcessorPipeline([SleepParams(seconds=0.01)], PipelineMode.TRAINING, num_processes=2)
    generator = pipeline.apply(counting_source(-1, [0]))
    next(generator)
    pids = pipeline.worker_pids
    assert len(pids) == 2 and all(is_running(p) for p in pids)
    del generator
    gc.collect()
    assert wait_until_gone(pids, 5) == []

    with pipeline:  # a new run starts new workers; leaving the block stops them
        next(pipeline.apply(counting_source(-1, [0])))
        pids = pipeline.worker_pids
    assert wait_until_gone(pids, 5) == []


@pytest.mark.timeout(60)
def test_new_run_closes_an_unfinished_previous_run() -> None:
    with ProcessorPipeline([AddValueParams()], PipelineMode.EVALUATION, num_processes=2) as pipeline:
        first = pipeline.apply(make_samples(500))
        assert next(first).inputs["x"] == 1
        old_pids = pipeline.worker_pids
        assert xs(pipeline.apply(make_samples(5))) == [1, 2, 3, 4, 5]
        with pytest.raises(StopIteration):
            next(first)
        assert wait_until_gone(old_pids, 5) == []
        assert pipeline.stats.seen == 5 and pipeline.stats.in_flight == 0


CTRL_C_SCRIPT = """
import itertools
import signal
# as in a terminal, whatever started the tests: a background job of a shell inherits SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
from tests.data.procs_for_tests import SleepParams
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.processor import DataProcessorParams
from tfaip_core.data.sample import PipelineMode, Sample

def forever():
    for i in itertools.count():
        yield Sample(inputs={"x": i}, meta={"id": i})

pipeline = ProcessorPipeline([SleepParams(seconds=0.02, period=7)], PipelineMode.TRAINING, num_processes=2)
for k, sample in enumerate(pipeline.apply(forever())):
    if k == 20:
        print("PIDS", *pipeline.worker_pids, flush=True)
"""


@pytest.mark.e2e
@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", ["process", "process_group"])
def test_ctrl_c_stops_quickly_without_orphans(target: str) -> None:
    proc, pids, _ = start_parent(CTRL_C_SCRIPT)
    assert proc.stderr is not None
    try:
        assert len(pids) == 2 and all(is_running(p) for p in pids)
        time.sleep(0.3)
        start = time.monotonic()
        if target == "process":
            os.kill(proc.pid, signal.SIGINT)
        else:  # what a terminal does on Ctrl-C: the workers get SIGINT too, and ignore it
            os.killpg(proc.pid, signal.SIGINT)
        returncode = proc.wait(timeout=15)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert returncode != 0 and "KeyboardInterrupt" in stderr
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert wait_until_gone(pids, 3) == [], "orphan worker processes"


@pytest.mark.timeout(60)
def test_in_process_mode_works_inside_a_daemon_process() -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    daemon = context.Process(target=run_in_daemon, args=(results,), daemon=True)
    daemon.start()
    try:
        report = results.get(timeout=45)
    finally:
        daemon.join(10)
    assert "error" not in report, report["error"]
    expected = xs(ProcessorPipeline(MIX[:3], PipelineMode.EVALUATION).apply(make_samples(30)))
    assert report["daemon"] is True
    for name in ("sequential", "run_parallel_false", "parallel_requested"):
        assert report[name] == expected
        assert report[name + "_children"] == 0  # no worker processes were started


# -- memory ------------------------------------------------------------------------------------------------

MEMORY_SCRIPT = """
import json, resource, sys, time
import numpy as np
from tests.data.procs_for_tests import MakeImageParams
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.processor import DataProcessorParams
from tfaip_core.data.sample import PipelineMode, Sample

n = int(sys.argv[1])

def source():
    for i in range(n):  # 32 KiB in, 32 KiB out per sample
        yield Sample(inputs={"x": i, "blob": np.full(8192, i, dtype=np.float32)}, meta={"id": i})

start = time.perf_counter()
pipeline = ProcessorPipeline([MakeImageParams(size=90)], PipelineMode.EVALUATION, num_processes=2)
count = 0
for sample in pipeline.apply(source()):
    assert sample.inputs["x"] == count
    count += 1
pipeline.close()
print(json.dumps({"count": count, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": time.perf_counter() - start}))
"""


def run_memory_script(n: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(n)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(60)
def test_parent_memory_stays_flat_for_long_streams(record_property: Callable[[str, object], None]) -> None:
    short = run_memory_script(1_000)
    long = run_memory_script(10_000)
    assert short["count"] == 1_000 and long["count"] == 10_000
    ratio = long["maxrss_kb"] / short["maxrss_kb"]
    report = (
        f"peak RSS of the parent: {short['maxrss_kb'] / 1024:.1f} MiB for 1,000 samples "
        f"({short['seconds']:.1f} s), {long['maxrss_kb'] / 1024:.1f} MiB for 10,000 samples "
        f"({long['seconds']:.1f} s): ratio {ratio:.3f}"
    )
    print(report)
    record_property("memory", report)
    # 10,000 samples are 640 MB through the pipes; a leak of even 1 % of that would show.
    assert ratio <= 1.2, report


def test_params_pickle_is_what_workers_get() -> None:
    # The only thing the parent sends at start-up is this blob; it must not need the test's __main__.
    blob = pickle.dumps([AddValueParams(value=2), SplitEvensParams()])
    assert b"__main__" not in blob


def test_params_from_an_interactive_session_raise_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    @pai_dataclass
    @dataclass
    class ReplParams(DataProcessorParams):
        pass

    # As if typed into a REPL or notebook: the class lives in a `__main__` that has no file to re-import.
    interactive_main = types.ModuleType("__main__")
    ReplParams.__module__, ReplParams.__qualname__ = "__main__", "ReplParams"
    interactive_main.ReplParams = ReplParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", interactive_main)
    pipeline = ProcessorPipeline([ReplParams()], PipelineMode.EVALUATION, num_processes=2)
    with pytest.raises(ConfigError, match="interactive session"):
        next(pipeline.apply(make_samples(3)))


# -- workers die with their parent ---------------------------------------------------------------------------

HANGING_PARENT_SCRIPT = """
import itertools, threading, time
from tests.data.procs_for_tests import ExitOnParams
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.sample import PipelineMode, Sample

# every sample hangs its worker, so only the death of the parent can end the workers
pipeline = ProcessorPipeline([ExitOnParams(values=list(range(100)), how="hang")], PipelineMode.EVALUATION,
                             num_processes=2, chunk_size=1)
samples = (Sample(inputs={"x": i}) for i in range(100))
threading.Thread(target=lambda: list(pipeline.apply(samples)), daemon=True).start()
while len(pipeline.worker_pids) < 2:
    time.sleep(0.05)
time.sleep(1.0)  # the workers are inside the processor now
print("PIDS", *pipeline.worker_pids, flush=True)
time.sleep(3600)
"""

WATCHDOG_PARENT_SCRIPT = """
import multiprocessing, os, sys, time
from tfaip_core.data.parallel import die_with_parent

def child(parent):
    sys.platform = "not-linux"  # the portable fallback: no prctl
    print("HOW", die_with_parent(parent), flush=True)
    time.sleep(3600)

process = multiprocessing.get_context("fork").Process(target=child, args=(os.getpid(),))
process.start()
time.sleep(0.5)
print("PIDS", process.pid, flush=True)
time.sleep(3600)
"""


def start_parent(script: str) -> tuple[subprocess.Popen, list[int], str]:
    """Run `script` in a new session; return it, the pids it prints after "PIDS", and what it printed before."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    before = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        line = proc.stdout.readline() if ready else ""
        if line.startswith("PIDS"):
            return proc, [int(p) for p in line.split()[1:]], before
        if not line:
            break
        before += line
    proc.kill()
    raise AssertionError(f"the parent did not report its workers: {before}{proc.stderr.read()}")


@pytest.mark.e2e
@pytest.mark.timeout(90)
@pytest.mark.parametrize("script", [HANGING_PARENT_SCRIPT, WATCHDOG_PARENT_SCRIPT], ids=["prctl", "watchdog"])
def test_workers_die_within_2_s_when_the_parent_is_sigkilled(script: str) -> None:
    proc, pids, printed = start_parent(script)
    try:
        assert pids and all(is_running(p) for p in pids)
        if script is WATCHDOG_PARENT_SCRIPT:
            assert "HOW watchdog" in printed
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        left = wait_until_gone(pids, 2.0)
    finally:
        for pid in pids:  # never leave a hanging worker behind, even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert left == [], "workers outlived their SIGKILLed parent"


def test_die_with_parent_uses_prctl_on_linux() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    code = (
        "import multiprocessing, os\n"
        "from tfaip_core.data.parallel import die_with_parent\n"
        "print(die_with_parent(os.getppid()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "prctl", result.stderr
