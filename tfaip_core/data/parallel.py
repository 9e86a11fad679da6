"""Worker processes that run a processor chain on chunks of samples (used by `ProcessorPipeline`).

Design:

* Workers are started with the **spawn** start method: the parent typically has TensorFlow loaded, and
  forking a process with TF's threads is unsafe. Only the pickled processor params are sent; each worker
  builds its processors once.
* Each worker has its own pair of pipes. A worker killed while writing can therefore only corrupt its own
  pipe, never a lock or queue shared with the other workers; and the parent always knows exactly which
  chunks were in flight on which worker.
* The parent bounds the chunks in flight per worker (`prefetch_chunks`); a reader thread in the worker
  drains its input pipe so the parent's ``send`` never blocks on a busy worker (which could otherwise
  deadlock with the worker blocking on sending its results).
* The parent waits on the result pipes *and* the process sentinels with a timeout, so a worker that dies
  (SIGKILL, segfault, ``os._exit``) is noticed immediately and its in-flight chunks are reported as lost.
* Workers ignore SIGINT: on Ctrl-C the parent decides, and tears workers down with terminate/kill and
  bounded joins. Workers also exit on their own when the parent's end of their input pipe closes (the
  parent died), and they are daemonic, so multiprocessing terminates them at interpreter exit.
* Workers die with their parent even when it is SIGKILLed (no orphan busy on a long chunk): on Linux each
  worker asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), elsewhere a
  watchdog thread polls ``os.getppid()``. The kernel sends that signal when the parent *thread* that
  started the worker ends, so all workers are started from one long-lived spawner thread.
* By default workers do not re-import the parent's ``__main__`` script (which usually imports
  TensorFlow and would cost seconds and hundreds of MB per worker) unless the pickled params refer to
  ``__main__``; see `WorkerPool`'s `import_main`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import selectors
import signal
import sys
import threading
import time
import traceback
import types
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tfaip_core.data.processor import (
    ChainCounters,
    DataProcessorParams,
    FailureRecord,
    GeneratingDataProcessor,
    apply_processors,
    create_processors,
    describe_sample,
)
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError

logger = logging.getLogger("tfaip_core.data")

_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
_GRACEFUL_STOP_SECONDS = 1.0
_TERMINATE_JOIN_SECONDS = 2.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_WATCHDOG_SECONDS = 0.2


# ----------------------------------------------------------------------------------------------------------
# Messages and events
# ----------------------------------------------------------------------------------------------------------


@dataclass
class ChunkResult:
    """A worker finished chunk `seq`: its outputs (in input order) and what happened to its samples."""

    worker: str
    seq: int
    outputs: list[Sample]
    counters: ChainCounters
    failures: list[FailureRecord]


@dataclass
class WorkerLost:
    """A worker died or was killed; the chunks it had in flight (`lost`: seq -> sample identities) are gone."""

    worker: str
    pid: int | None
    exitcode: int | None
    reason: str
    lost: dict[int, list[str]] = field(default_factory=dict)


PoolEvent = ChunkResult | WorkerLost


def describe_exitcode(exitcode: int | None) -> str:
    """Human-readable form of a `multiprocessing.Process.exitcode`."""
    if exitcode is None:
        return "is still running"
    if exitcode < 0:
        try:
            return f"was killed by signal {signal.Signals(-exitcode).name} (exit code {exitcode})"
        except ValueError:
            return f"was killed by signal {-exitcode} (exit code {exitcode})"
    return f"exited with exit code {exitcode}"


# ----------------------------------------------------------------------------------------------------------
# Worker side
# ----------------------------------------------------------------------------------------------------------


def _read_inbox(conn: multiprocessing.connection.Connection, inbox: queue.Queue[bytes | None]) -> None:
    """Move messages from the parent's pipe to `inbox` as they arrive; an empty message or EOF means stop."""
    try:
        while True:
            data = conn.recv_bytes()
            if not data:
                break
            inbox.put(data)
    except (EOFError, OSError):
        pass  # The parent closed the pipe or died: stop like on an explicit stop message.
    inbox.put(None)


def _process_chunk(
    processors: list, samples: list[Sample], start_index: int, per_sample: bool
) -> tuple[list[Sample], ChainCounters, list[FailureRecord]]:
    counters = ChainCounters()
    failures: list[FailureRecord] = []
    if per_sample:
        # Generating processors see one input at a time so results don't depend on chunk boundaries.
        outputs: list[Sample] = []
        for offset, sample in enumerate(samples):
            stream = iter([(start_index + offset, sample)])
            outputs.extend(s for _, s in apply_processors(processors, stream, counters, failures.append))
    else:
        stream = enumerate(samples, start_index)
        outputs = [s for _, s in apply_processors(processors, stream, counters, failures.append)]
    return outputs, counters, failures


def die_with_parent(parent_pid: int) -> str:
    """Make this process exit as soon as process `parent_pid` (its parent) is gone, even after a SIGKILL.

    Linux: the kernel sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``); elsewhere, or if that
    call fails, a daemon thread polls ``os.getppid()``. If the parent died before this call (the race
    the kernel option cannot see), the process exits at once. Returns the mechanism used: "prctl" or
    "watchdog".
    """
    how = "watchdog"
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)  # the symbols of the process, libc among them
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                how = "prctl"
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent is already gone: we were re-parented before the kernel could watch it
    if how == "watchdog":
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()
    return how


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_WATCHDOG_SECONDS)
    os._exit(1)


def _send_fatal(conn: multiprocessing.connection.Connection, error: BaseException, context: str) -> None:
    message = (
        "fatal",
        isinstance(error, ConfigError),
        f"{context}: {type(error).__name__}: {error}",
        traceback.format_exc(),
    )
    with contextlib.suppress(OSError, EOFError):
        conn.send_bytes(pickle.dumps(message, protocol=_PICKLE_PROTOCOL))


def worker_main(
    params_blob: bytes,
    mode_value: str,
    inbox_conn: multiprocessing.connection.Connection,
    outbox_conn: multiprocessing.connection.Connection,
    parent_pid: int,
) -> None:
    """Entry point of a worker process: build the processors once, then process chunks until told to stop."""
    die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; only the parent should react to it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        params: list[DataProcessorParams] = pickle.loads(params_blob)
        processors = create_processors(params, PipelineMode(mode_value))
    except Exception as error:  # reported to the parent, which raises it
        _send_fatal(outbox_conn, error, "could not build the processors in a worker process")
        return
    per_sample = any(isinstance(p, GeneratingDataProcessor) for p in processors)
    try:  # from now on `worker_timeout` applies (starting up under load may take long)
        outbox_conn.send_bytes(pickle.dumps(("ready",), protocol=_PICKLE_PROTOCOL))
    except (OSError, EOFError):
        return  # The parent is gone.

    inbox: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_read_inbox, args=(inbox_conn, inbox), name="inbox-reader", daemon=True).start()
    while True:
        payload = inbox.get()
        if payload is None:
            return
        try:
            seq, start_index, samples = pickle.loads(payload)
        except Exception as error:
            _send_fatal(
                outbox_conn,
                error,
                "a worker could not unpickle the input samples (if they contain objects defined in the "
                "main script, pass import_main=True to ProcessorPipeline)",
            )
            return
        del payload
        try:
            outputs, counters, failures = _process_chunk(processors, samples, start_index, per_sample)
        except Exception as error:  # errors not attributable to one sample (e.g. DataError)
            _send_fatal(outbox_conn, error, "processing failed in a worker process")
            return
        del samples
        try:
            data = pickle.dumps(("result", seq, outputs, counters, failures), protocol=_PICKLE_PROTOCOL)
        except Exception as error:  # outputs that cannot travel back count as failed
            counters.failed += len(outputs)
            failures.append(
                FailureRecord(
                    sample=f"outputs of inputs #{start_index}..",
                    processor="(pickling)",
                    error=f"output samples are not picklable: {type(error).__name__}: {error}",
                )
            )
            data = pickle.dumps(("result", seq, [], counters, failures), protocol=_PICKLE_PROTOCOL)
        del outputs
        try:
            outbox_conn.send_bytes(data)
        except (OSError, EOFError):
            return  # The parent is gone.


# ----------------------------------------------------------------------------------------------------------
# Parent side
# ----------------------------------------------------------------------------------------------------------

_MAIN_MODULE_LOCK = threading.Lock()
_SPAWNER_LOCK = threading.Lock()
_SPAWNER: concurrent.futures.ThreadPoolExecutor | None = None


def _start_on_spawner_thread(process: multiprocessing.process.BaseProcess) -> None:
    """`process.start()` on one thread that lives as long as this process.

    A worker's ``PR_SET_PDEATHSIG`` fires when the thread that started it ends; pipelines are often driven
    from short-lived threads (tf.data runs Python generators on its own threads), whose end must not kill
    the workers.
    """
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfaip-data-spawner")
        spawner = _SPAWNER
    spawner.submit(process.start).result()


@contextlib.contextmanager
def _main_module_hidden(hide: bool) -> Iterator[None]:
    """While starting a spawn process, make multiprocessing see no ``__main__`` script to re-import.

    multiprocessing's spawn preparation re-runs the parent's main script in every child. Training scripts
    import TensorFlow at module level, which would load TF into each data worker. The preparation data is
    computed synchronously inside ``Process.start()``, so swapping ``sys.modules['__main__']`` for an empty
    module during that call is enough.
    """
    if not hide:
        yield
        return
    with _MAIN_MODULE_LOCK:
        original = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = original


class _Worker:
    """Parent-side handle of one worker process and the chunks it has in flight (oldest first)."""

    def __init__(
        self,
        name: str,
        process: multiprocessing.process.BaseProcess,
        send_conn: multiprocessing.connection.Connection,
        recv_conn: multiprocessing.connection.Connection,
    ) -> None:
        self.name = name
        self.process = process
        self.send_conn = send_conn
        self.recv_conn = recv_conn
        # (seq, index of the first sample, samples): kept to name the samples if the worker dies.
        self.in_flight: collections.deque[tuple[int, int, list[Sample]]] = collections.deque()
        self.busy_since = 0.0
        self.eof = False
        self.broken = False
        self.timed_out = False
        self.ready = False  # built its processors; only then does `worker_timeout` apply

    @property
    def pid(self) -> int | None:
        return self.process.pid


def _stop_processes(processes: list[multiprocessing.process.BaseProcess], graceful_seconds: float) -> None:
    """Join, then terminate, then kill `processes`, each step with a bounded wait."""
    deadline = time.monotonic() + graceful_seconds
    for process in processes:
        with contextlib.suppress(ValueError, AssertionError):
            process.join(max(0.0, deadline - time.monotonic()))
    for sig_step in ("terminate", "kill"):
        alive = []
        for process in processes:
            with contextlib.suppress(ValueError, AssertionError, OSError):
                if process.is_alive():
                    getattr(process, sig_step)()
                    alive.append(process)
        deadline = time.monotonic() + _TERMINATE_JOIN_SECONDS
        for process in alive:
            with contextlib.suppress(ValueError, AssertionError):
                process.join(max(0.0, deadline - time.monotonic()))


def _emergency_stop(processes: list[multiprocessing.process.BaseProcess]) -> None:
    # Runs from weakref.finalize (garbage collection or interpreter exit): no graceful phase.
    _stop_processes(list(processes), 0.0)


class WorkerPool:
    """A fixed number of spawn worker processes running the processors of `params` in mode `mode`.

    The pool only moves chunks and reports events; scheduling, ordering, fault limits and restarts are
    decided by the caller (`ProcessorPipeline`).

    Args:
        params: Processor params that apply in `mode`, in order. Pickled once and sent to every worker.
        mode: The pipeline mode the processors are built for.
        num_processes: Number of worker processes.
        prefetch_chunks: Maximum chunks in flight per worker (being processed plus queued).
        worker_timeout: Seconds a worker may spend on one chunk before it is killed and reported lost
            (counted from when the worker has built its processors, so a slow start-up is not a hang);
            None waits forever (a worker that dies is still detected immediately).
        import_main: Whether workers re-import the parent's ``__main__`` script. None: only if the pickled
            params refer to ``__main__`` (processors defined in the script itself).
    """

    def __init__(
        self,
        params: Sequence[DataProcessorParams],
        mode: PipelineMode,
        num_processes: int,
        prefetch_chunks: int = 2,
        worker_timeout: float | None = None,
        import_main: bool | None = None,
    ) -> None:
        try:
            self._params_blob = pickle.dumps(list(params), protocol=_PICKLE_PROTOCOL)
        except Exception as error:
            raise ConfigError(
                f"Processor params must be picklable to run in worker processes; got {type(error).__name__}: "
                f"{error}. Fix: define the params classes at module level and keep their fields picklable, or "
                f"use run_parallel=False."
            ) from error
        self._mode = PipelineMode(mode)
        self._num_processes = num_processes
        self._prefetch_chunks = prefetch_chunks
        self._worker_timeout = worker_timeout
        self._import_main = (b"__main__" in self._params_blob) if import_main is None else import_main
        main_file = getattr(sys.modules["__main__"], "__file__", None)
        if self._import_main and main_file is None and b"__main__" in self._params_blob:
            raise ConfigError(
                "Processor params defined in an interactive session (`__main__` without a file) cannot be "
                "rebuilt in worker processes. Fix: define the params and processor classes in a module, or use "
                "run_parallel=False."
            )
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        # Shared with the finalizer so that it sees restarted processes too.
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._finalizer = weakref.finalize(self, _emergency_stop, self._processes)
        # Result pipes and process sentinels of all workers; kept across polls (rebuilding costs per chunk).
        self._selector = selectors.DefaultSelector()
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start all worker processes (they build their processors concurrently)."""
        for index in range(self._num_processes):
            self._workers.append(self._spawn(f"tfaip-data-worker-{index}"))

    def _spawn(self, name: str) -> _Worker:
        worker_recv, parent_send = self._context.Pipe(duplex=False)
        parent_recv, worker_send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main,
            args=(self._params_blob, self._mode.value, worker_recv, worker_send, os.getpid()),
            name=name,
            daemon=True,
        )
        with _main_module_hidden(not self._import_main):
            _start_on_spawner_thread(process)
        # Keep only the parent's ends open, so EOF is seen when the other side dies.
        worker_recv.close()
        worker_send.close()
        self._processes.append(process)
        worker = _Worker(name, process, parent_send, parent_recv)
        self._selector.register(parent_recv, selectors.EVENT_READ, (worker, True))
        self._selector.register(process.sentinel, selectors.EVENT_READ, (worker, False))
        return worker

    def restart(self, worker_name: str) -> None:
        """Replace the (dead) worker `worker_name` with a fresh process."""
        for i, worker in enumerate(self._workers):
            if worker.name == worker_name:
                self._dispose(worker)
                self._workers[i] = self._spawn(worker_name)
                return
        raise KeyError(worker_name)

    def _dispose(self, worker: _Worker) -> None:
        for registered in (worker.recv_conn, worker.process.sentinel):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(registered)
        for conn in (worker.send_conn, worker.recv_conn):
            with contextlib.suppress(OSError):
                conn.close()
        _stop_processes([worker.process], 0.0)
        with contextlib.suppress(ValueError):
            self._processes.remove(worker.process)

    def shutdown(self, graceful: bool = True) -> None:
        """Stop all workers: a stop message and a short wait if `graceful`, then terminate, then kill."""
        if self._closed:
            return
        self._closed = True
        if graceful:
            for worker in self._workers:
                with contextlib.suppress(OSError, ValueError):
                    worker.send_conn.send_bytes(b"")
        _stop_processes([w.process for w in self._workers], _GRACEFUL_STOP_SECONDS if graceful else 0.0)
        self._selector.close()
        for worker in self._workers:
            for conn in (worker.send_conn, worker.recv_conn):
                with contextlib.suppress(OSError):
                    conn.close()
        self._processes.clear()
        self._workers.clear()
        self._finalizer.detach()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return [w.pid for w in self._workers if w.pid is not None]

    # -- chunks ---------------------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Chunks sent to workers whose results have not been received."""
        return sum(len(w.in_flight) for w in self._workers)

    def pick_worker(self) -> str | None:
        """The least-loaded worker that can take another chunk, or None if all are at `prefetch_chunks`."""
        candidates = [
            w
            for w in self._workers
            if len(w.in_flight) < self._prefetch_chunks and not (w.eof or w.broken or w.timed_out)
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda w: len(w.in_flight)).name

    def submit(self, worker_name: str, seq: int, start_index: int, samples: list[Sample]) -> None:
        """Send chunk `seq` (whose first sample is input #`start_index`) to `worker_name`."""
        try:
            payload = pickle.dumps((seq, start_index, samples), protocol=_PICKLE_PROTOCOL)
        except Exception as error:
            raise DataError(
                f"Samples must be picklable to be processed in worker processes; input samples "
                f"#{start_index}..#{start_index + len(samples) - 1} are not: {type(error).__name__}: {error}. "
                f"Fix: keep inputs/targets/meta to numpy arrays and plain Python values, or use "
                f"run_parallel=False."
            ) from error
        worker = self._worker(worker_name)
        if not worker.in_flight:
            worker.busy_since = time.monotonic()
        # Record first: if the send fails, the chunk is reported lost together with the worker.
        worker.in_flight.append((seq, start_index, samples))
        try:
            worker.send_conn.send_bytes(payload)
        except (OSError, EOFError):
            worker.broken = True

    def _worker(self, name: str) -> _Worker:
        for worker in self._workers:
            if worker.name == name:
                return worker
        raise KeyError(name)

    def poll(self, timeout: float) -> list[PoolEvent]:
        """Wait up to `timeout` seconds for results or worker deaths and return what happened."""
        events: list[PoolEvent] = []
        suspects = []
        for key, _ in self._selector.select(timeout):
            worker, is_conn = key.data
            if is_conn:
                events.extend(self._drain(worker))
            if not is_conn or worker.eof:
                suspects.append(worker)
        now = time.monotonic()
        for worker in self._workers:
            if worker.broken and worker not in suspects:
                suspects.append(worker)
            if (
                self._worker_timeout is not None
                and worker.ready
                and worker.in_flight
                and not worker.timed_out
                and now - worker.busy_since > self._worker_timeout
            ):
                logger.warning(
                    "Data worker %s (pid %s) spent more than %.1f s on one chunk; killing it.",
                    worker.name,
                    worker.pid,
                    self._worker_timeout,
                )
                worker.timed_out = True
                with contextlib.suppress(OSError, ValueError):
                    worker.process.kill()
                suspects.append(worker)
        for worker in {id(w): w for w in suspects}.values():
            events.extend(self._drain(worker))  # results it managed to send before dying are valid
            events.append(self._declare_lost(worker))
        return events

    def _drain(self, worker: _Worker) -> list[PoolEvent]:
        events: list[PoolEvent] = []
        while not worker.eof:
            try:
                if not worker.recv_conn.poll(0):
                    break
                data = worker.recv_conn.recv_bytes()
            except (EOFError, OSError):
                worker.eof = True
                break
            message = pickle.loads(data)
            if message[0] == "ready":
                worker.ready = True
                worker.busy_since = time.monotonic()
                continue
            if message[0] == "fatal":
                _, is_config, text, remote_traceback = message
                error_cls = ConfigError if is_config else DataError
                logger.debug("Traceback from data worker %s:\n%s", worker.name, remote_traceback)
                raise error_cls(f"Data worker {worker.name}: {text}")
            _, seq, outputs, counters, failures = message
            expected_seq, _, _ = worker.in_flight.popleft()
            if expected_seq != seq:
                raise DataError(f"Data worker {worker.name} returned chunk {seq}, expected {expected_seq}.")
            if worker.in_flight:
                worker.busy_since = time.monotonic()
            events.append(ChunkResult(worker.name, seq, outputs, counters, failures))
        return events

    def _declare_lost(self, worker: _Worker) -> WorkerLost:
        process = worker.process
        with contextlib.suppress(ValueError, AssertionError):
            process.join(_TERMINATE_JOIN_SECONDS)
        if process.is_alive():
            # Its pipe broke or it hung, but the process lingers: it is of no use any more.
            with contextlib.suppress(OSError, ValueError):
                process.kill()
            with contextlib.suppress(ValueError, AssertionError):
                process.join(_TERMINATE_JOIN_SECONDS)
        exitcode = process.exitcode
        if worker.timed_out:
            reason = f"exceeded worker_timeout={self._worker_timeout}s and was killed"
        else:
            reason = describe_exitcode(exitcode)
        lost_samples = {
            seq: [describe_sample(sample, start + i) for i, sample in enumerate(samples)]
            for seq, start, samples in worker.in_flight
        }
        lost = WorkerLost(worker.name, worker.pid, exitcode, reason, lost_samples)
        worker.in_flight.clear()
        worker.eof = True
        return lost

    def __repr__(self) -> str:
        return f"WorkerPool(num_processes={self._num_processes}, pids={self.pids}, mode={self._mode.value})"


def spawn_context_available() -> bool:
    """Whether this process may start worker processes (daemonic processes may not have children)."""
    return not multiprocessing.current_process().daemon
