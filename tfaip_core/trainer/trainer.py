"""The trainer: one readable loop of compiled steps run through a `tf.distribute` strategy.

THIS LOOP MUST READ EASILY. `fit` shows the order of everything that happens; what is optional is
a callback (their order is fixed in `_create_callbacks`) or a small helper object (EMA, the train
step, the checkpoint store).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from tfaip_core.data.data_pipeline import DataPipeline, unbatch
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.device.cluster import is_chief
from tfaip_core.device.distribution import (
    broadcast_from_chief,
    distribute,
    layout_of,
    per_replica_eval_params,
    per_replica_params,
    weights_fingerprint,
)
from tfaip_core.device.strategy import create_strategy
from tfaip_core.errors import ConfigError, TrainingError
from tfaip_core.evaluator.summaries import SampleSummaries
from tfaip_core.export.exporter import Exporter, Training, loss_function
from tfaip_core.model.model_base import KerasModel, build_keras_model
from tfaip_core.model.variables import MODEL_KEY, ModelVariables
from tfaip_core.trainer.callbacks.base import Callback, CallbackList, LazyLogs, Logs
from tfaip_core.trainer.callbacks.best_model import BEST_FILE, BestModelCallback
from tfaip_core.trainer.callbacks.lav import LavCallback
from tfaip_core.trainer.callbacks.metrics_log import MetricsLogCallback
from tfaip_core.trainer.callbacks.progress import ProgressCallback
from tfaip_core.trainer.callbacks.tensorboard import TensorBoardCallback
from tfaip_core.trainer.checkpoint import CheckpointStore
from tfaip_core.trainer.ema import ExponentialMovingAverage, ema_rate
from tfaip_core.trainer.model_errors import model_build_error
from tfaip_core.trainer.monitor import BestValue, Monitor
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.trainer.precision import precision_policy, with_loss_scaling
from tfaip_core.trainer.schedule_params import total_training_steps
from tfaip_core.trainer.scope import trainable_variables
from tfaip_core.trainer.step import TrainStep, loss_term_names
from tfaip_core.trainer.steps_per_call import StepsPerCall
from tfaip_core.util.logging import logger
from tfaip_core.util.run_dir import RunDirectory
from tfaip_core.util.stop import check_stop, deferred_stops

if TYPE_CHECKING:
    from tfaip_core.scenario.scenario_base import ScenarioBase

log = logger("trainer")
ARCHIVE_FILE = "export.zip"  # --export.archive: the final export with the run's logs
BEST_STATE_KEY = "BestValue"  # the best monitored value's state among the callback states of a checkpoint
STOPPED_STATE_KEY = "Stopped"  # whether early stopping ended the run, among the callback states of a checkpoint


class Trainer:
    """Trains a scenario as its `TrainerParams` say. `fit()` runs (or continues) the whole training.

    A "step" is one optimizer update; with `--trainer.train_accum_steps N` it consumes N batches.
    Every file goes through `run_dir` (a `RunDirectory`): `tfaip-train` sets it after taking the
    directory's lock; used from Python without it, `fit` opens one itself (continuing a run found there).
    """

    def __init__(self, params: TrainerParams, scenario: ScenarioBase):
        self.params = params.for_dry_run() if params.dry_run else params  # tfaip-train applies it before
        self.scenario = scenario
        self.output_dir = os.path.abspath(params.output_dir or ".")
        self._run_dir: Optional[RunDirectory] = None
        self.stop_training = False
        self.steps_per_epoch = 0
        self.step_in_epoch = 0
        self.extra_callbacks: List[Callback] = []
        self.ema: Optional[ExponentialMovingAverage] = None
        self.lav: Optional[LavCallback] = None  # LAV during training (--trainer.lav_every_n), made with the callbacks

    # ============================== the loop ==============================
    def fit(self) -> Logs:
        """Train until the last epoch (or `max_steps`); return the logs of the last epoch."""
        p = self.params
        with contextlib.ExitStack() as cleanup:  # data workers, writers, the run directory: closed also on error
            self._setup(cleanup)
            callbacks = CallbackList(self._create_callbacks())
            cleanup.callback(callbacks.close)
            cleanup.callback(self._release_train_iterator)
            callbacks.set_trainer(self)
            self._restore(callbacks)  # the newest checkpoint, or else warm start
            # the params in force (a resume's flags included) once they fit the checkpoint: a resume that fails
            # before here leaves the file as it was, so the next resume is not held to flags that failed
            self.run_dir.write_json(self.run_dir.params_file, self.params_dict())

            logs: Logs = {}
            callbacks.on_train_begin()
            cleanup.enter_context(deferred_stops())  # Ctrl-C / SIGTERM stop at the check_stop() points below
            while not self._finished() and not self.stop_training:  # stop_training: an early-stopped run resumed
                epoch = p.current_epoch
                callbacks.on_epoch_begin(epoch)
                self.step.reset_metrics()
                while self.step_in_epoch < self.steps_per_epoch and not self._max_steps_reached():
                    started = time.perf_counter()
                    done, finite = self._train_function(self._train_iterator, tf.constant(self._next_chunk(), tf.int32))
                    steps = int(done)  # waits for the call
                    self.step_in_epoch += steps
                    self.steps_per_call.record(steps, time.perf_counter() - started)  # automatic: tuned once
                    if not bool(finite):
                        self._stop_on_non_finite_loss(epoch)
                    callbacks.on_train_batch_end(self.step_in_epoch, LazyLogs(self.step.metric_logs))
                    check_stop()
                    if self.step_in_epoch < self.steps_per_epoch and self._checkpoint_due(epoch_end=False):
                        self.save_checkpoint()
                p.current_epoch, self.step_in_epoch = epoch + 1, 0
                logs = self.step.metric_logs()
                logs["lr"] = self.current_learning_rate()
                with self.averaged_weights():  # EMA weights (if on) for validation, LAV, early stopping and best model
                    validated = p.val_every_n > 0 and ((epoch + 1) % p.val_every_n == 0 or self._finished())
                    if validated:
                        logs.update(self.evaluate())
                    lav_ran = self.lav is not None and self.lav.due(epoch + 1, last=self._finished())
                    if lav_ran:
                        logs.update(self.lav.run(epoch + 1))  # the export's prediction graph on each LAV list
                    self._check_monitor(logs, validated, lav_ran)
                    self.best.update(epoch + 1, logs)  # before the callbacks: they all see best_<monitor>
                    if self.best.value is not None:
                        logs[self.best.key] = self.best.value
                    callbacks.on_epoch_end(epoch, logs)  # progress, metrics.jsonl, TensorBoard, early stopping, best
                self._end_epoch(last=self._finished() or self.stop_training)  # checkpoint of the raw weights
                check_stop()
                if self.stop_training:
                    break
            if p.export_final:
                self._export_final()
            if self._best_is_last:
                self._export_last_as_best()
            callbacks.on_train_end(logs)
            if self.layout.workers > 1:  # the workers must agree; the line lets a user compare them
                fingerprint = weights_fingerprint(self.keras_model.variables)
                log.info("Worker %d of %d: weights SHA-256 %s", self.layout.worker, self.layout.workers, fingerprint)
            return logs

    def evaluate(self) -> Logs:
        """One pass over the validation data: loss terms, metrics and the evaluator, prefixed `val_`."""
        self.step.reset_metrics()
        self.evaluator.reset_state()
        printed = 0
        for inputs, targets, meta in self._val_dataset:
            outputs = self._eval_function(inputs, targets)
            check_stop()
            samples = self.data.post_process(_unbatch(self.strategy, inputs, targets, outputs, meta))
            for sample in samples:
                self.evaluator.update_state(sample)
                if printed < self.params.num_print_evaluate:
                    self.model.print_evaluate(sample, log.info)
                    printed += 1
            self._val_summaries.add(samples)  # the model's extra TensorBoard outputs (kept only if it asks)
        self._val_summaries.write(self.global_step)
        logs = {f"val_{k}": v for k, v in self.step.metric_logs().items()}
        for name, value in self.evaluator.result().items():
            key = f"val_{name}"
            if key in logs:
                raise ConfigError(
                    f"The evaluator's result {name!r} has the name of a loss term or metric of the model ({key}); "
                    f"one would silently replace the other. Fix: rename it in {type(self.evaluator).__name__}.result()."
                )
            logs[key] = float(value)
        return broadcast_from_chief(self.strategy, self.layout, logs)  # every worker decides as the chief

    # ============================== compiled steps ==============================
    def _compile(self) -> None:
        strategy, accum, step = self.strategy, self.params.train_accum_steps, self.step
        # --trainer.jit_compile: XLA compiles each replica's step (not the loop around it: tf.data iterators
        # cannot be compiled), as Keras does
        train_one, train_accumulated, evaluate_one = step.train, step.train_accumulated, step.evaluate
        if self.params.jit_compile:
            train_one = tf.function(train_one, jit_compile=True, reduce_retracing=True)
            train_accumulated = tf.function(train_accumulated, jit_compile=True, reduce_retracing=True)
            evaluate_one = tf.function(evaluate_one, jit_compile=True, reduce_retracing=True)

        def one_update(batches: List[Any]) -> tf.Tensor:
            if accum == 1:
                inputs, targets = batches[0]
                return strategy.reduce("SUM", strategy.run(train_one, args=(inputs, targets)), axis=None)
            # unrolled: the gradients add up as tensors
            return strategy.reduce("SUM", strategy.run(train_accumulated, args=(batches,)), axis=None)

        def train_function(iterator: Any, num_steps: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
            """Run up to `num_steps` updates; stop early at the first non-finite loss.

            Each loop iteration fetches the batches of the next update (as optionals, Keras' pattern) beside its
            own update, so that tf.data's hand-over overlaps the step instead of preceding it (MLP at batch
            size 16: about 9 % a step). The last iteration fetches nothing: a call consumes exactly the batches
            of its updates, and the checkpointed iterator position stays exact (after a non-finite loss, which
            may leave one batch fetched, the run stops with an error and saves nothing).
            """

            def fetch() -> List[Any]:
                return [iterator.get_next_as_optional() for _ in range(accum)]

            def cond(done: tf.Tensor, finite: tf.Tensor, upcoming: List[Any]) -> tf.Tensor:
                # the loop's own condition stops it at a non-finite loss (no extra branch in the body)
                return tf.logical_and(done < num_steps, finite)

            def body(done: tf.Tensor, finite: tf.Tensor, upcoming: List[Any]) -> Tuple[Any, ...]:
                loss = one_update([optional.get_value() for optional in upcoming])
                done += 1
                upcoming = tf.cond(done < num_steps, fetch, lambda: upcoming)
                return done, tf.math.is_finite(loss), upcoming

            done, finite, _ = tf.while_loop(cond, body, (tf.constant(0), tf.constant(True), fetch()))
            return done, finite

        def eval_function(inputs: Any, targets: Any) -> Any:
            return strategy.run(evaluate_one, args=(inputs, targets))

        if self.params.force_eager:
            self._train_function, self._eval_function = train_function, eval_function
        else:
            self._train_function = tf.function(train_function)
            # traced once for the dataset's shapes (None for padded lengths), not once per padded length
            inputs_spec, targets_spec, _ = self._val_dataset.element_spec
            self._eval_function = tf.function(eval_function, input_signature=[inputs_spec, targets_spec])

    # ============================== setup ==============================
    def _setup(self, cleanup: contextlib.ExitStack) -> None:
        p = self.params
        p.validate()
        # fresh layer names: variable paths are those of a new process. No gc.collect() (free_memory): it costs
        # 0.1-1 s with TensorFlow loaded, and Python collects the garbage of an earlier run in the same process anyway
        keras.utils.clear_session(free_memory=False)
        cleanup.enter_context(precision_policy(p.precision))  # restored after the run (Keras' policy is global)
        if p.random_seed is not None:
            keras.utils.set_random_seed(p.random_seed)
            random.seed(p.random_seed)
            np.random.seed(p.random_seed)
            tf.config.experimental.enable_op_determinism()
        if self._run_dir is None:  # used from Python: open the directory here (continuing a run found there)
            self._run_dir = RunDirectory(self.output_dir, chief=is_chief(p.device))
            self.run_dir.open(resume=True, overwrite=False)
            cleanup.callback(self.run_dir.close)
        self.output_dir = self.run_dir.output_dir
        self.strategy = create_strategy(p.device)
        self.layout = layout = layout_of(self.strategy)
        self.data = self.scenario.create_data()
        self.model = self.scenario.create_model()
        self.evaluator = self.scenario.create_evaluator()
        self._val_summaries = SampleSummaries(self.model, lambda: self.run_dir.tensorboard_dir("validation"))
        cleanup.callback(self._val_summaries.close)

        train_pipeline = cleanup.enter_context(
            DataPipeline(
                self.data,
                PipelineMode.TRAINING,
                per_replica_params(p.train, layout.replicas, "--train"),  # --train.batch_size is global
                repeat=True,
                seed=p.random_seed,
                preload=p.preload_data,
                shard=(layout.worker, layout.workers),
            )
        )
        val_pipeline = cleanup.enter_context(  # not split between workers: each validates all (see device/)
            DataPipeline(
                self.data,
                PipelineMode.EVALUATION,
                per_replica_eval_params(p.val, layout.local_replicas),
                with_meta=True,
                preload=p.preload_data,
            )
        )
        self._train_pipeline = train_pipeline
        self._train_dataset = train_pipeline.dataset()
        val_ds = val_pipeline.dataset()
        self._train_from_tensors = train_pipeline.from_tensors
        self.steps_per_epoch = self._compute_steps_per_epoch(train_pipeline.total_samples)
        # not tuned while profiling (the trace starts at call boundaries), nor on several workers: each would time
        # its own calls, and the workers must run the same calls
        tune = not p.profile and layout.workers == 1
        self.steps_per_call = StepsPerCall(p.steps_per_execution, self.steps_per_epoch, tune=tune)
        log.info(
            "Training: %s samples a pass, %d steps per epoch; global batch %d (--train.batch_size) = %d per replica "
            "x %d replica(s) on %d worker(s)",
            "endless" if train_pipeline.total_samples is None else train_pipeline.total_samples,
            self.steps_per_epoch,
            p.train.batch_size,
            p.train.batch_size // layout.replicas,
            layout.replicas,
            layout.workers,
        )

        with self.strategy.scope():
            self.keras_model = self._build_model()
            self.trainable_variables = trainable_variables(self.keras_model, p.no_train_scope)
            total_steps = total_training_steps(self.steps_per_epoch, p.epochs, p.max_steps)
            self.optimizer = with_loss_scaling(
                p.optimizer.create(p.learning_rate.create(self.steps_per_epoch, total_steps)), p.precision
            )
            self.optimizer.build(self.trainable_variables)
            if p.calc_ema != 0:
                self.ema = ExponentialMovingAverage(
                    self.trainable_variables, ema_rate(p.calc_ema, self.steps_per_epoch)
                )
                log.info("EMA of the weights with decay %.6g", self.ema.rate)
            inputs, targets, _ = next(iter(val_ds.take(1)))
            self.step = TrainStep(
                self.keras_model,
                self.model,
                self.optimizer,
                self.trainable_variables,
                loss_term_names(self.model, self.keras_model, inputs, targets),
                num_replicas=self.strategy.num_replicas_in_sync,
                ema=self.ema,
            )
        self._val_dataset = distribute(self.strategy, layout, val_ds) if layout.distributed else val_ds
        self._checkpoints = CheckpointStore(self.run_dir.checkpoint_dir, p.keep_checkpoint_max)
        self._checkpoint_frequency = p.checkpoint_frequency()
        self.monitor = Monitor(*self.model.monitor())
        self.best = BestValue(self.monitor)
        self._best_is_last = self._monitor_never_validated()
        self._compile()
        frozen = len(self.keras_model.trainable_variables) - len(self.trainable_variables)
        n_params = sum(int(np.prod(v.shape)) for v in self.keras_model.variables)
        log.info("Model: %d variables (%d frozen), %d parameters", len(self.keras_model.variables), frozen, n_params)
        self.exporter = self._create_exporter()

    def _build_model(self) -> KerasModel:
        """The scenario's graph wrapped and built; a bad layer argument is reported against its flag."""
        try:
            return build_keras_model(self.model.create_graph(), self.data.input_specs())
        except (ValueError, TypeError) as e:
            error = model_build_error(e, self.params.scenario.model)
            if error is None:
                raise
            raise error from e

    def _compute_steps_per_epoch(self, num_samples: Optional[int]) -> int:
        """Steps that make one epoch: the samples of a pass (of all workers) over the global batch size.

        `--train.batch_size` is the global batch (all replicas of all workers together), so the steps do not
        depend on the number of replicas and each epoch consumes the samples of one pass.
        """
        p = self.params
        samples = p.samples_per_epoch if p.samples_per_epoch > 0 else num_samples
        if not samples:
            raise ConfigError(
                "The training data has no known size (an endless generator, or lists mixed by --train.list_ratios). "
                "Fix: set --trainer.samples_per_epoch N."
            )
        global_batch = p.train.batch_size
        rounding = math.floor if p.train.batch_drop_remainder else math.ceil
        batches = max(1, int(rounding(samples / global_batch)))
        return max(1, math.ceil(batches / p.train_accum_steps))

    def _create_callbacks(self) -> List[Callback]:
        """The callbacks in their fixed order: progress/log → files → early stopping → best model."""
        callbacks: List[Callback] = [ProgressCallback(self.params.progress_bar), MetricsLogCallback()]
        callbacks.append(TensorBoardCallback())
        if self.params.profile:
            from tfaip_core.trainer.callbacks.profile import ProfileCallback

            callbacks.append(ProfileCallback(self.params.profile_steps))
        if self.params.lav_every_n > 0:  # run by the loop (before the best model is chosen), not at epoch end
            self.lav = LavCallback(self.params.lav_every_n)
            callbacks.append(self.lav)
        callbacks += self.extra_callbacks
        es = self.params.early_stopping
        if es.n_to_go > 0 or es.lower_threshold is not None or es.upper_threshold is not None:
            from tfaip_core.trainer.callbacks.early_stopping import EarlyStoppingCallback

            callbacks.append(EarlyStoppingCallback(es, self.monitor))
        callbacks.append(BestModelCallback(self.best, export=self.params.export_best))
        return callbacks

    def _check_monitor(self, logs: Logs, validated: bool, lav_ran: bool) -> None:
        """The monitored value must exist after its source ran (validation, or LAV for `lav_*`); otherwise best
        model and early stopping never act."""
        if (lav_ran if self.monitor.name.startswith("lav_") else validated) and self.monitor.name not in logs:
            raise ConfigError(
                f"{type(self.model).__name__}.monitor() names {self.monitor.name!r}, but a validated epoch has no "
                f"such value; the values are: {', '.join(sorted(logs))}. Fix: return one of the val_* (or, with "
                "LAV, lav_l0_*) names from monitor(), e.g. ('val_loss', 'min')."
            )

    def _monitor_never_validated(self) -> bool:
        """Whether no epoch can have the monitored value because validation is off: then best/ is the last model."""
        name, p = self.monitor.name, self.params
        if name.startswith("lav_") and p.lav_every_n == 0:
            raise ConfigError(
                f"{type(self.model).__name__}.monitor() names {name!r}, a LAV value, but LAV is off. "
                "Fix: pass --trainer.lav_every_n N (e.g. 1)."
            )
        if name.startswith("val_") and p.val_every_n == 0:
            log.info("Validation is off (--trainer.val_every_n 0): no epoch has %s; best/ will be the last model", name)
            return True
        return False

    def _release_train_iterator(self) -> None:
        """Drop the training iterator when `fit` ends: it (and its tf.data threads) goes now, not whenever the
        garbage collector gets to the trainer's reference cycles."""
        self._train_iterator = None

    # ============================== checkpoints and resume ==============================
    def _tf_checkpoint(self) -> tf.train.Checkpoint:
        objects: Dict[str, Any] = {MODEL_KEY: ModelVariables(self.keras_model), "optimizer": self.optimizer}
        if self.ema is not None:
            objects["ema"] = self.ema
        if self._iterator_checkpointable:
            objects["train_iterator"] = self._train_iterator
        return tf.train.Checkpoint(**objects)

    def _restore(self, callbacks: CallbackList) -> None:
        """Continue from the newest complete checkpoint if there is one; else warm start if asked."""
        self.callbacks = callbacks
        # The iterator's position (incl. the shuffle buffer) is checkpointed where tf.data supports it;
        # otherwise the resumed run skips the batches already consumed.
        self._iterator_checkpointable = self._train_from_tensors and not self.layout.distributed
        self._train_iterator = iter(self._train_dataset) if self._iterator_checkpointable else None
        # non-chief workers save to their scratch directory but resume from the chief's checkpoints
        restore_from = CheckpointStore(self.run_dir.restore_checkpoint_dir, self.params.keep_checkpoint_max)
        state = restore_from.restore_latest(self._tf_checkpoint())
        if state is None:
            if not self._iterator_checkpointable:
                self._train_iterator = self._train_input(skip=0)
            if self.params.warmstart.model:  # a fresh run only: resuming ignores warm start
                from tfaip_core.trainer.warmstart import warmstart

                warmstart(self.keras_model, self.params.warmstart)
            self._start_step = self.global_step
            return
        self.params.current_epoch = int(state["epoch"])
        self.step_in_epoch = int(state.get("step_in_epoch", 0))
        if not self._iterator_checkpointable:  # each step took accum batches per replica of this worker
            consumed = int(state["step"]) * self.params.train_accum_steps * self.layout.local_replicas
            self._train_iterator = self._train_input(skip=consumed)
        states = state.get("callbacks", {})
        callbacks.set_state(states)
        self.best.set_state(states.get(BEST_STATE_KEY, {}))
        self._start_step = self.global_step
        self.stop_training = bool(states.get(STOPPED_STATE_KEY, {}).get("stopped", False))
        if self.stop_training or self._finished():
            how = "early stopping ended it" if self.stop_training else "it reached its last epoch or step"
            further = "none (it stopped early)" if self.stop_training else "resume with a larger --trainer.epochs"
            log.info(
                "The run in %s has already finished (%s; %d epochs, global step %d): nothing to train. To train "
                "further: %s.",
                self.output_dir,
                how,
                self.params.current_epoch,
                self.global_step,
                further,
            )
            return
        log.info(
            "Resuming at epoch %d (+%d steps), global step %d",
            self.params.current_epoch + 1,
            self.step_in_epoch,
            self.global_step,
        )

    def _train_input(self, skip: int) -> Iterator[Any]:
        """An iterator over this worker's training batches without the first `skip`, fed to its replicas in turn.

        A streamed pipeline starts at the sample where the run stopped (no sample before it is pre-processed
        again); otherwise tf.data skips the batches (fed from tensors: no Python work; bucketed: replayed).
        """
        dataset = self._train_dataset
        if skip and self._train_pipeline.resumable:  # every batch of the endless stream is full
            dataset = self._train_pipeline.dataset(start=skip * self._train_pipeline.params.batch_size)
        elif skip:
            if self._train_pipeline.params.bucket_boundaries:
                log.info("Resuming a bucketed training stream: replaying its first %d batches", skip)
            dataset = dataset.skip(skip)
        return iter(distribute(self.strategy, self.layout, dataset) if self.layout.distributed else dataset)

    def save_checkpoint(self) -> str:
        """Write the resume state (raw weights, optimizer, EMA, data position, callback states) atomically."""
        states = self.callbacks.get_state()
        states[BEST_STATE_KEY] = self.best.get_state()
        states[STOPPED_STATE_KEY] = {"stopped": self.stop_training}  # early stopped: a resume trains nothing
        state = {
            "epoch": self.params.current_epoch,
            "step_in_epoch": self.step_in_epoch,
            "step": self.global_step,
            "callbacks": states,
        }
        path = self._checkpoints.save(self._tf_checkpoint(), self.global_step, state)
        self._checkpoint_frequency.mark()
        log.debug("Checkpoint %s", path)
        return path

    def _checkpoint_due(self, epoch_end: bool) -> bool:
        return self._checkpoint_frequency.due(
            step=self.global_step, epoch=self.params.current_epoch, epoch_end=epoch_end
        )

    def _end_epoch(self, last: bool) -> None:
        if last or self._checkpoint_due(epoch_end=True):
            self.save_checkpoint()
        self.run_dir.write_json(self.run_dir.params_file, self.params_dict())

    def _export_final(self) -> None:
        """The model after the last epoch (EMA weights if on) to export/; never from a run that trained nothing."""
        if self.global_step == self._start_step:
            log.info("No step was trained in this run; %s is left as it is", self.run_dir.export_dir)
            return
        with self.averaged_weights():
            self.export(self.run_dir.export_dir, extras=True)
        if self.params.export.archive:
            run_files = {"metrics.jsonl": self.run_dir.metrics_file, "train.log": self.run_dir.log_file}
            self.exporter.archive(self.run_dir.export_dir, self.run_dir.file(ARCHIVE_FILE), run_files)

    def _export_last_as_best(self) -> None:
        """Validation is off: best/ is the model after the last epoch (EMA weights if on); best.json says why."""
        if not self.params.export_best or self.global_step == self._start_step:
            return
        epoch = self.params.current_epoch
        reason = "validation is off (--trainer.val_every_n 0): the last epoch"
        with self.averaged_weights():
            record = {"monitor": self.monitor.name, "value": None, "epoch": epoch, "reason": reason}
            self.export(self.run_dir.best_dir, extra_files={BEST_FILE: record})
        log.info("Best model: the model of the last epoch (%d), as validation is off", epoch)

    def _stop_on_non_finite_loss(self, epoch: int) -> None:
        newest = self._checkpoints.complete()
        error = TrainingError(
            f"Non-finite loss at epoch {epoch + 1}, step {self.step_in_epoch} of the epoch (global step "
            f"{self.global_step}); training stopped. Last good checkpoint: {newest[-1] if newest else 'none'}. "
            "Fix: lower --learning_rate.lr, clip gradients (--optimizer.clip_global_norm), or check the data."
        )
        raise error  # one message: the program prints it (and run.py writes it to train.log)

    # ============================== helpers ==============================
    def _finished(self) -> bool:
        if self.params.max_steps > 0:
            return self._max_steps_reached()
        return self.params.current_epoch >= self.params.epochs

    def _max_steps_reached(self) -> bool:
        return 0 < self.params.max_steps <= self.global_step

    def _next_chunk(self) -> int:
        """Steps for the next compiled call: up to the epoch's end, max_steps, or a step-based checkpoint."""
        n = min(self.steps_per_call.value, self.steps_per_epoch - self.step_in_epoch)
        if self.params.max_steps > 0:
            n = min(n, self.params.max_steps - self.global_step)
        until_checkpoint = self._checkpoint_frequency.steps_until_due(self.global_step)
        return max(1, min(n, until_checkpoint) if until_checkpoint else n)

    @contextlib.contextmanager
    def averaged_weights(self) -> Iterator[None]:
        """The EMA weights inside the block if EMA is on (and has been updated); else a no-op."""
        if self.ema is None:
            yield
        else:
            with self.ema.averaged():
                yield

    @property
    def run_dir(self) -> RunDirectory:
        """The run's directory: set by `tfaip-train` (holding its lock), else opened by `fit`."""
        if self._run_dir is None:
            raise RuntimeError("Trainer.run_dir is used before fit() opened the run directory.")
        return self._run_dir

    @run_dir.setter
    def run_dir(self, run_dir: RunDirectory) -> None:
        self._run_dir = run_dir

    @property
    def global_step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def current_learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def params_dict(self) -> Dict[str, Any]:
        return self.params.to_dict()  # type: ignore[attr-defined]

    def export(self, path: str, extra_files: Optional[Dict[str, Any]] = None, extras: bool = False) -> None:
        """Write the current model as a serving SavedModel (plus params JSON and resources) to `path`.

        `extras`: also what --export.* asks for (TFLite, trainable), as the final export does.
        """
        self.exporter.params = self.params_dict()
        self.exporter.export(path, extra_files=extra_files, extras=extras)

    def _create_exporter(self) -> Exporter:
        """The one exporter of this run's model; the trainable export gets the optimizer and the loss of one replica."""
        one_replica = TrainStep(self.keras_model, self.model, self.optimizer, self.trainable_variables, ["loss"])
        training = Training(self.optimizer, self.trainable_variables, loss_function(one_replica.loss))
        return Exporter(
            self.keras_model,
            self.model,
            self.data,
            self.params_dict(),
            self.params.scenario,
            self.params.export,
            self.params.val,
            training,
        )


def _unbatch(strategy: tf.distribute.Strategy, inputs: Any, targets: Any, outputs: Any, meta: Any) -> List[Sample]:
    """Split a (distributed) batch into per-sample numpy `Sample`s (padding stripped, meta restored)."""
    samples: List[Sample] = []
    for parts in zip(*(strategy.experimental_local_results(x) for x in (inputs, targets, outputs, meta))):
        samples += unbatch(*parts)
    return samples
