"""`ProcessorPipeline`: run a list of processors over a stream of samples, in-process or in worker processes.

Example:
    >>> pipeline = ProcessorPipeline([NormalizeParams(), AugmentParams(modes=["training"])],
    ...                              PipelineMode.TRAINING, num_processes=4)
    >>> with pipeline:
    ...     for sample in pipeline.apply(read_samples()):
    ...         ...
    >>> pipeline.stats
    PipelineStats(seen=1000, produced=990, dropped_by_processor=9, failed=1, generated=0, worker_restarts=0)

Execution:

* In-process (``run_parallel=False`` or ``num_processes <= 1``): the processors run lazily in the calling
  process with no multiprocessing at all (works inside daemon processes). Generating processors see the
  whole stream, so processors that combine samples (merging, windowing) must run this way.
* Parallel: chunks of `chunk_size` input samples go to `num_processes` spawn workers (see
  `tfaip_core.data.parallel`); each worker runs the whole chain on each input sample, so a generating
  processor sees one input at a time there. Outputs keep the input order when `ordered` (the default
  except in TRAINING); unordered mode yields chunks as they finish.
* Workers are spawned, not forked, and receive only the pickled params: params and processor classes must
  be importable (defined at module level). Workers re-import the main script only if the params are
  defined there (`import_main`); keep heavy imports such as TensorFlow out of its module level then.
* Memory is bounded whatever the input length: at most `max_chunks_in_flight` chunks are between the
  source and the consumer (sent, being processed, or waiting to be yielded), and the input iterable is
  consumed lazily, so infinite generators work.

Faults:

* A sample whose processing raises is skipped, counted in ``stats.failed`` and logged (logger
  ``tfaip_core.data``, WARNING; the traceback at DEBUG). When the failures exceed `max_failures` the run
  stops with a `DataError`.
* A worker that dies (killed, segfault, ``os._exit``) is noticed immediately. Its in-flight samples are
  counted as failed (not re-submitted: a sample that crashes a worker would crash the next one too) and
  logged with their identities; the worker is replaced, at most `max_worker_restarts` times per run, after
  which the run stops with a `DataError` naming the worker and its exit code.
* Every input sample is accounted for: at the end of a run,
  ``seen + generated == produced + dropped_by_processor + failed`` (``stats.in_flight == 0``).
* Closing the generator, `close()`, leaving the ``with`` block, an exception or Ctrl-C in the consumer
  stops the workers (terminate, then kill, with bounded joins); workers ignore SIGINT themselves.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import math
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Self

from tfaip_core.data.parallel import ChunkResult, WorkerLost, WorkerPool, spawn_context_available
from tfaip_core.data.processor import (
    ChainCounters,
    DataProcessorBase,
    DataProcessorParams,
    FailureRecord,
    apply_processors,
    create_processors,
)
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError

logger = logging.getLogger("tfaip_core.data")

# How long to wait for worker results before re-checking worker timeouts; deaths wake the wait at once.
_POLL_SECONDS = 0.25


@dataclasses.dataclass
class PipelineStats(ChainCounters):
    """What happened to the samples of one `ProcessorPipeline.apply` run.

    Attributes:
        seen: Input samples read from the source.
        produced: Samples yielded to the consumer.
        dropped_by_processor: Samples a processor removed on purpose (mapping processor returned None,
            generating processor emitted nothing for an input).
        failed: Samples whose processing raised, or that were in flight on a worker that died.
        generated: Extra samples created by generating processors (one input -> n outputs adds n - 1).
        worker_restarts: Dead workers replaced during the run.
    """

    seen: int = 0
    produced: int = 0
    worker_restarts: int = 0

    @property
    def in_flight(self) -> int:
        """Samples not accounted for yet (0 once a run has finished)."""
        return self.seen + self.generated - self.produced - self.dropped_by_processor - self.failed

    def __repr__(self) -> str:
        return (
            f"PipelineStats(seen={self.seen}, produced={self.produced}, "
            f"dropped_by_processor={self.dropped_by_processor}, failed={self.failed}, "
            f"generated={self.generated}, worker_restarts={self.worker_restarts})"
        )


class ProcessorPipeline:
    """Runs the processors of `processor_params` that apply in `mode` over an iterable of samples.

    Args:
        processor_params: Processor params in the order the processors run. Those whose `modes` do not
            include `mode` are skipped.
        mode: The pipeline mode.
        num_processes: Worker processes for the parallel path; <= 1 runs in-process.
        run_parallel: False runs in-process regardless of `num_processes`.
        ordered: Keep the input order in parallel mode. None: ordered except in TRAINING.
        max_failures: Failed samples tolerated before the run stops with a `DataError`: an int is an absolute
            count; a float in [0, 1] is a fraction of the samples processed (inputs plus generated), computed
            over at least `min_samples_for_fraction` samples so that one early failure does not stop a run.
        chunk_size: Input samples per message to a worker; larger amortises inter-process overhead, smaller
            lowers latency and memory.
        prefetch_chunks: Chunks in flight per worker (one processed, the others queued).
        max_chunks_in_flight: Chunks allowed between source and consumer in parallel mode; bounds memory.
            None: ``num_processes * (prefetch_chunks + 2)``.
        max_worker_restarts: Dead workers replaced per run before the run stops.
        worker_timeout: Seconds a worker may spend on one chunk before it is killed (and handled like a dead
            worker); None: no limit.
        import_main: Whether workers re-import the main script; None: only if the params need it.
        min_samples_for_fraction: See `max_failures`.
    """

    def __init__(
        self,
        processor_params: Sequence[DataProcessorParams],
        mode: PipelineMode,
        num_processes: int = 1,
        run_parallel: bool = True,
        ordered: bool | None = None,
        max_failures: int | float = 0.01,
        chunk_size: int = 32,
        prefetch_chunks: int = 2,
        max_chunks_in_flight: int | None = None,
        max_worker_restarts: int = 3,
        worker_timeout: float | None = None,
        import_main: bool | None = None,
        min_samples_for_fraction: int = 100,
    ) -> None:
        self.mode = PipelineMode(mode)
        for i, params in enumerate(processor_params):
            if not isinstance(params, DataProcessorParams):
                raise ConfigError(
                    f"`processor_params[{i}]` must be a DataProcessorParams; got {type(params).__name__}. "
                    f"Fix: pass the params dataclasses (e.g. NormalizeParams()), not processor instances."
                )
        self.processor_params: list[DataProcessorParams] = [p for p in processor_params if p.applies_to(self.mode)]
        _check_int("num_processes", num_processes, minimum=0)
        _check_int("chunk_size", chunk_size, minimum=1)
        _check_int("prefetch_chunks", prefetch_chunks, minimum=1)
        _check_int("max_worker_restarts", max_worker_restarts, minimum=0)
        _check_int("min_samples_for_fraction", min_samples_for_fraction, minimum=0)
        _check_max_failures(max_failures)
        if worker_timeout is not None and not (isinstance(worker_timeout, (int, float)) and worker_timeout > 0):
            raise ConfigError(f"`worker_timeout` must be a positive number of seconds or None; got {worker_timeout!r}.")
        self.num_processes = num_processes
        self.run_parallel = run_parallel
        self.ordered = (self.mode != PipelineMode.TRAINING) if ordered is None else bool(ordered)
        self.max_failures = max_failures
        self.chunk_size = chunk_size
        self.prefetch_chunks = prefetch_chunks
        if max_chunks_in_flight is None:
            max_chunks_in_flight = max(1, num_processes) * (prefetch_chunks + 2)
        _check_int("max_chunks_in_flight", max_chunks_in_flight, minimum=1)
        self.max_chunks_in_flight = max_chunks_in_flight
        self.max_worker_restarts = max_worker_restarts
        self.worker_timeout = worker_timeout
        self.import_main = import_main
        self.min_samples_for_fraction = min_samples_for_fraction

        self.stats = PipelineStats()
        self.last_failure: FailureRecord | None = None
        self._processors: list[DataProcessorBase] | None = None
        self._pool: WorkerPool | None = None
        self._active: weakref.ref | None = None
        self._closed = False
        self._warned_daemon = False

    # -- public API -----------------------------------------------------------------------------------------

    @property
    def parallel(self) -> bool:
        """Whether `apply` uses worker processes (False inside daemon processes, which cannot have children)."""
        wanted = self.run_parallel and self.num_processes > 1 and bool(self.processor_params)
        if wanted and not spawn_context_available():
            if not self._warned_daemon:
                logger.warning(
                    "ProcessorPipeline runs in a daemon process, which cannot start worker processes; "
                    "running the %d processors in-process instead.",
                    len(self.processor_params),
                )
                self._warned_daemon = True
            return False
        return wanted

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (empty before the first parallel `apply` and after `close`)."""
        return self._pool.pids if self._pool is not None and not self._pool.closed else []

    def apply(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        """Lazily process `samples`, returning a generator of the output samples.

        Workers start on the first ``next()`` and stay up for further `apply` calls until `close`; a run that
        is abandoned or fails stops them. `stats` is reset at the start of each run. One run at a time: calling
        `apply` again closes a previous unfinished run.
        """
        if self._closed:
            raise ConfigError("ProcessorPipeline.apply() called after close(). Fix: create a new pipeline.")
        active = self._active() if self._active is not None else None
        if active is not None and active.gi_frame is not None:
            if active.gi_running:
                raise ConfigError(
                    "ProcessorPipeline.apply() called while another run is executing. Fix: use one pipeline per "
                    "concurrent stream."
                )
            # An abandoned, unfinished run still owns the workers and their in-flight chunks.
            active.close()
        generator = self._run(samples)
        self._active = weakref.ref(generator)
        return generator

    def close(self) -> None:
        """Stop the current run (if any) and the worker processes. Idempotent."""
        self._closed = True
        active = self._active() if self._active is not None else None
        if active is not None:
            try:
                active.close()
            except ValueError:
                pass  # close() was called from inside the running generator; its own cleanup follows
        self._shutdown_pool(graceful=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        names = ", ".join(type(p).__name__ for p in self.processor_params)
        how = f"{self.num_processes} processes" if self.parallel else "in-process"
        return f"ProcessorPipeline([{names}], mode={self.mode.value}, {how}, ordered={self.ordered})"

    # -- runs -----------------------------------------------------------------------------------------------

    def _run(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        self.stats = PipelineStats()
        self.last_failure = None
        finished = False
        try:
            source = iter(samples)
            if self.parallel:
                yield from self._run_parallel(source)
            else:
                yield from self._run_in_process(source)
            finished = True
        finally:
            if not finished:
                # Results of the interrupted run may still be in flight: the workers cannot be reused.
                self._shutdown_pool(graceful=False)

    def _run_in_process(self, source: Iterator[Sample]) -> Iterator[Sample]:
        if self._processors is None:
            self._processors = create_processors(self.processor_params, self.mode)
        stats = self.stats

        def counted() -> Iterator[tuple]:
            for index, sample in enumerate(source):
                stats.seen += 1
                yield index, sample

        def on_failure(record: FailureRecord) -> None:
            self._record_failure(record)
            self._check_failure_limit()

        for _, sample in apply_processors(self._processors, counted(), stats, on_failure):
            stats.produced += 1
            yield sample

    def _run_parallel(self, source: Iterator[Sample]) -> Iterator[Sample]:
        pool = self._ensure_pool()
        stats = self.stats
        # seq -> outputs; None while the chunk is in flight. Also holds finished chunks not yet yielded, so
        # its size bounds everything between source and consumer.
        outstanding: dict[int, list[Sample] | None] = {}
        finished_order: collections.deque[int] = collections.deque()  # completion order, for unordered mode

        def finish(seq: int, outputs: list[Sample]) -> None:
            outstanding[seq] = outputs
            if not self.ordered:
                finished_order.append(seq)

        next_seq = next_index = next_to_yield = 0
        exhausted = False
        while True:
            while not exhausted and len(outstanding) < self.max_chunks_in_flight:
                worker = pool.pick_worker()
                if worker is None:
                    break
                chunk = list(itertools.islice(source, self.chunk_size))
                if not chunk:
                    exhausted = True
                    break
                stats.seen += len(chunk)
                outstanding[next_seq] = None
                pool.submit(worker, next_seq, next_index, chunk)
                next_seq += 1
                next_index += len(chunk)
                del chunk

            seq: int | None = None
            if self.ordered:
                if outstanding.get(next_to_yield) is not None:
                    seq = next_to_yield
                    next_to_yield += 1
            elif finished_order:
                seq = finished_order.popleft()
            if seq is not None:
                outputs = outstanding.pop(seq) or []
                for sample in outputs:
                    stats.produced += 1
                    yield sample
                del outputs
                continue  # refill before waiting again

            if exhausted and not outstanding:
                return
            for event in pool.poll(_POLL_SECONDS):
                if isinstance(event, ChunkResult):
                    stats.add(event.counters)
                    for record in event.failures:
                        self._record_failure(record)
                    finish(event.seq, event.outputs)
                else:
                    self._handle_lost_worker(pool, event, finish)
            self._check_failure_limit()

    def _handle_lost_worker(
        self, pool: WorkerPool, event: WorkerLost, finish: Callable[[int, list[Sample]], None]
    ) -> None:
        stats = self.stats
        lost_ids = [sample for ids in event.lost.values() for sample in ids]
        stats.failed += len(lost_ids)
        for seq in event.lost:
            finish(seq, [])
        shown = ", ".join(lost_ids[:10]) + (f", ... ({len(lost_ids)} in total)" if len(lost_ids) > 10 else "")
        logger.warning(
            "Data worker %s (pid %s) %s; its %d in-flight samples are counted as failed: %s",
            event.worker,
            event.pid,
            event.reason,
            len(lost_ids),
            shown or "none",
        )
        if lost_ids:
            self.last_failure = FailureRecord(
                sample=shown, processor=event.worker, error=f"data worker (pid {event.pid}) {event.reason}"
            )
        if stats.worker_restarts >= self.max_worker_restarts:
            raise DataError(
                f"Data worker {event.worker} (pid {event.pid}) {event.reason}, losing {len(lost_ids)} in-flight "
                f"samples; {stats.worker_restarts} workers were already replaced in this run "
                f"(max_worker_restarts={self.max_worker_restarts}), so the pipeline stops. Fix: find what kills "
                f"the workers (a crash in native code, the out-of-memory killer: check `dmesg`), or run with "
                f"run_parallel=False to see the error in-process."
            )
        stats.worker_restarts += 1
        pool.restart(event.worker)
        logger.warning(
            "Replaced data worker %s (restart %d of at most %d).",
            event.worker,
            stats.worker_restarts,
            self.max_worker_restarts,
        )

    # -- helpers --------------------------------------------------------------------------------------------

    def _ensure_pool(self) -> WorkerPool:
        if self._pool is None or self._pool.closed:
            self._pool = WorkerPool(
                self.processor_params,
                self.mode,
                self.num_processes,
                prefetch_chunks=self.prefetch_chunks,
                worker_timeout=self.worker_timeout,
                import_main=self.import_main,
            )
            self._pool.start()
        return self._pool

    def _shutdown_pool(self, graceful: bool) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(graceful=graceful)

    def _record_failure(self, record: FailureRecord) -> None:
        self.last_failure = record
        logger.warning("Skipped sample %s: processor %s raised %s", record.sample, record.processor, record.error)
        if record.traceback:
            logger.debug("Traceback for sample %s:\n%s", record.sample, record.traceback)

    def allowed_failures(self) -> float:
        """How many failed samples the run tolerates at the current counts (see `max_failures`)."""
        if isinstance(self.max_failures, int):
            return float(self.max_failures)
        processed = self.stats.seen + self.stats.generated
        return self.max_failures * max(processed, self.min_samples_for_fraction)

    def _check_failure_limit(self) -> None:
        stats = self.stats
        allowed = self.allowed_failures()
        if stats.failed <= allowed:
            return
        processed = stats.seen + stats.generated
        if isinstance(self.max_failures, int):
            limit = f"max_failures={self.max_failures}"
        else:
            limit = f"max_failures={self.max_failures:g} of the processed samples, i.e. {math.floor(allowed)} now"
        last = self.last_failure
        detail = f" Last failure: sample {last.sample} in {last.processor}: {last.error}." if last else ""
        raise DataError(
            f"Too many samples failed: {stats.failed} of {processed} processed samples ({limit}).{detail} "
            f"Fix: repair the data or the processor (each failure is logged by 'tfaip_core.data'), or raise "
            f"max_failures."
        )


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"`{name}` must be an integer >= {minimum}; got {value!r}.")


def _check_max_failures(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"`max_failures` must be an int (count) or a float in [0, 1] (fraction); got {value!r}.")
    if isinstance(value, int) and value < 0:
        raise ConfigError(f"`max_failures` as a count must be >= 0; got {value}.")
    if isinstance(value, float) and not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"`max_failures` as a fraction must be in [0, 1]; got {value}. Fix: pass an int for an absolute count."
        )
