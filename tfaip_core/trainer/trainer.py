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
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from tfaip_core.data.data_pipeline import DataPipeline, unbatch
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.device.cluster import is_chief
from tfaip_core.device.strategy import create_strategy
from tfaip_core.errors import ConfigError, TrainingError
from tfaip_core.export.saved_model import export_saved_model
from tfaip_core.model.model_base import KerasModel, build_keras_model
from tfaip_core.model.variables import MODEL_KEY, ModelVariables
from tfaip_core.trainer.callbacks.base import Callback, CallbackList, Logs
from tfaip_core.trainer.callbacks.best_model import BestModelCallback
from tfaip_core.trainer.callbacks.metrics_log import MetricsLogCallback
from tfaip_core.trainer.callbacks.progress import ProgressCallback
from tfaip_core.trainer.callbacks.tensorboard import TensorBoardCallback
from tfaip_core.trainer.checkpoint import CheckpointStore
from tfaip_core.trainer.ema import ExponentialMovingAverage, ema_rate
from tfaip_core.trainer.model_errors import model_build_error
from tfaip_core.trainer.monitor import BestValue, Monitor
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.trainer.schedule_params import total_training_steps
from tfaip_core.trainer.scope import trainable_variables
from tfaip_core.trainer.step import TrainStep, loss_term_names
from tfaip_core.util.logging import logger
from tfaip_core.util.run_dir import RunDirectory
from tfaip_core.util.stop import check_stop, deferred_stops

if TYPE_CHECKING:
    from tfaip_core.scenario.scenario_base import ScenarioBase

log = logger("trainer")
AUTO_STEPS_PER_EXECUTION = 16
BEST_STATE_KEY = "BestValue"  # the best monitored value's state among the callback states of a checkpoint


class Trainer:
    """Trains a scenario as its `TrainerParams` say. `fit()` runs (or continues) the whole training.

    A "step" is one optimizer update; with `--trainer.train_accum_steps N` it consumes N batches.
    Every file goes through `run_dir` (a `RunDirectory`): `tfaip-train` sets it after taking the
    directory's lock; used from Python without it, `fit` opens one itself (continuing a run found there).
    """

    def __init__(self, params: TrainerParams, scenario: ScenarioBase):
        self.params = params
        self.scenario = scenario
        self.output_dir = os.path.abspath(params.output_dir or ".")
        self._run_dir: Optional[RunDirectory] = None
        self.stop_training = False
        self.steps_per_epoch = 0
        self.step_in_epoch = 0
        self.extra_callbacks: List[Callback] = []
        self.ema: Optional[ExponentialMovingAverage] = None

    # ============================== the loop ==============================
    def fit(self) -> Logs:
        """Train until the last epoch (or `max_steps`); return the logs of the last epoch."""
        p = self.params
        with contextlib.ExitStack() as cleanup:  # data workers, writers, the run directory: closed also on error
            self._setup(cleanup)
            callbacks = CallbackList(self._create_callbacks())
            cleanup.callback(callbacks.close)
            callbacks.set_trainer(self)
            self._restore(callbacks)  # the newest checkpoint, or else warm start

            logs: Logs = {}
            callbacks.on_train_begin()
            cleanup.enter_context(deferred_stops())  # Ctrl-C / SIGTERM stop at the check_stop() points below
            while not self._finished():
                epoch = p.current_epoch
                callbacks.on_epoch_begin(epoch)
                self.step.reset_metrics()
                while self.step_in_epoch < self.steps_per_epoch and not self._max_steps_reached():
                    done, finite = self._train_function(self._train_iterator, tf.constant(self._next_chunk(), tf.int32))
                    self.step_in_epoch += int(done)
                    if not bool(finite):
                        self._stop_on_non_finite_loss(epoch)
                    callbacks.on_train_batch_end(self.step_in_epoch, self.step.metric_logs())
                    check_stop()
                    if self.step_in_epoch < self.steps_per_epoch and self._checkpoint_due(epoch_end=False):
                        self.save_checkpoint()
                p.current_epoch, self.step_in_epoch = epoch + 1, 0
                logs = self.step.metric_logs()
                logs["lr"] = self.current_learning_rate()
                with self.averaged_weights():  # EMA weights (if on) for validation, early stopping and best model
                    if (epoch + 1) % p.val_every_n == 0 or self._finished():
                        logs.update(self.evaluate())
                        self._check_monitor(logs)
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
            callbacks.on_train_end(logs)
            return logs

    def evaluate(self) -> Logs:
        """One pass over the validation data: loss terms, metrics and the evaluator, prefixed `val_`."""
        self.step.reset_metrics()
        self.evaluator.reset_state()
        printed = 0
        for inputs, targets, meta in self._val_dataset:
            outputs = self._eval_function(inputs, targets)
            check_stop()
            for sample in self.data.post_process(_unbatch(self.strategy, inputs, targets, outputs, meta)):
                self.evaluator.update_state(sample)
                if printed < self.params.num_print_evaluate:
                    self.model.print_evaluate(sample, log.info)
                    printed += 1
        logs = {f"val_{k}": v for k, v in self.step.metric_logs().items()}
        for name, value in self.evaluator.result().items():
            key = f"val_{name}"
            if key in logs:
                raise ConfigError(
                    f"The evaluator's result {name!r} has the name of a loss term or metric of the model ({key}); "
                    f"one would silently replace the other. Fix: rename it in {type(self.evaluator).__name__}.result()."
                )
            logs[key] = float(value)
        return logs

    # ============================== compiled steps ==============================
    def _compile(self) -> None:
        strategy, accum, step = self.strategy, self.params.train_accum_steps, self.step

        def one_update(iterator: Any) -> tf.Tensor:
            if accum == 1:
                inputs, targets = next(iterator)
                return strategy.reduce("SUM", strategy.run(step.train, args=(inputs, targets)), axis=None)
            batches = [next(iterator) for _ in range(accum)]  # unrolled: the gradients add up as tensors
            return strategy.reduce("SUM", strategy.run(step.train_accumulated, args=(batches,)), axis=None)

        def train_function(iterator: Any, num_steps: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
            """Run up to `num_steps` updates; stop early at the first non-finite loss."""
            done, finite = tf.constant(0), tf.constant(True)
            for _ in tf.range(num_steps):
                loss = one_update(iterator)
                done += 1
                if not tf.math.is_finite(loss):
                    finite = tf.constant(False)
                    break
            return done, finite

        def eval_function(inputs: Any, targets: Any) -> Any:
            return strategy.run(step.evaluate, args=(inputs, targets))

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
        keras.utils.clear_session()  # fresh layer names: variable paths are those of a new process
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
        self.data = self.scenario.create_data()
        self.model = self.scenario.create_model()
        self.evaluator = self.scenario.create_evaluator()

        train_pipeline = cleanup.enter_context(
            DataPipeline(
                self.data,
                PipelineMode.TRAINING,
                p.train,
                repeat=True,
                seed=p.random_seed,
                preload=p.preload_data,
            )
        )
        val_pipeline = cleanup.enter_context(
            DataPipeline(self.data, PipelineMode.EVALUATION, p.val, with_meta=True, preload=p.preload_data)
        )
        self._train_dataset = train_pipeline.dataset()
        val_ds = val_pipeline.dataset()
        self._train_from_tensors = train_pipeline.from_tensors
        self.steps_per_epoch = self._compute_steps_per_epoch(train_pipeline.num_samples)
        self.steps_per_execution = p.steps_per_execution or min(AUTO_STEPS_PER_EXECUTION, self.steps_per_epoch)
        log.info(
            "Training: %s samples a pass, %d steps per epoch",
            "endless" if train_pipeline.num_samples is None else train_pipeline.num_samples,
            self.steps_per_epoch,
        )

        with self.strategy.scope():
            self.keras_model = self._build_model()
            self.trainable_variables = trainable_variables(self.keras_model, p.no_train_scope)
            total_steps = total_training_steps(self.steps_per_epoch, p.epochs, p.max_steps)
            self.optimizer = p.optimizer.create(p.learning_rate.create(self.steps_per_epoch, total_steps))
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
        self._val_dataset = self.strategy.experimental_distribute_dataset(val_ds)
        self._checkpoints = CheckpointStore(self.run_dir.checkpoint_dir, p.keep_checkpoint_max)
        self._checkpoint_frequency = p.checkpoint_frequency()
        self.monitor = Monitor(*self.model.monitor())
        self.best = BestValue(self.monitor)
        self._compile()
        frozen = len(self.keras_model.trainable_variables) - len(self.trainable_variables)
        n_params = sum(int(np.prod(v.shape)) for v in self.keras_model.variables)
        log.info("Model: %d variables (%d frozen), %d parameters", len(self.keras_model.variables), frozen, n_params)

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
        p = self.params
        samples = p.samples_per_epoch if p.samples_per_epoch > 0 else num_samples
        if not samples:
            raise ConfigError(
                "The training data has no known size (an endless generator, or lists mixed by --train.list_ratios). "
                "Fix: set --trainer.samples_per_epoch N."
            )
        global_batch = p.train.batch_size * self.strategy.num_replicas_in_sync
        rounding = math.floor if p.train.batch_drop_remainder else math.ceil
        batches = max(1, int(rounding(samples / global_batch)))
        return max(1, math.ceil(batches / p.train_accum_steps))

    def _create_callbacks(self) -> List[Callback]:
        """The callbacks in their fixed order: progress/log → files → early stopping → best model."""
        callbacks: List[Callback] = [ProgressCallback(self.params.progress_bar), MetricsLogCallback()]
        callbacks.append(TensorBoardCallback())
        callbacks += self.extra_callbacks
        es = self.params.early_stopping
        if es.n_to_go > 0 or es.lower_threshold is not None or es.upper_threshold is not None:
            from tfaip_core.trainer.callbacks.early_stopping import EarlyStoppingCallback

            callbacks.append(EarlyStoppingCallback(es, self.monitor))
        callbacks.append(BestModelCallback(self.best, export=self.params.export_best))
        return callbacks

    def _check_monitor(self, logs: Logs) -> None:
        """The monitored value must exist after validation; otherwise best model and early stopping never act."""
        if self.monitor.name not in logs:
            raise ConfigError(
                f"{type(self.model).__name__}.monitor() names {self.monitor.name!r}, but a validated epoch has no "
                f"such value; the values are: {', '.join(sorted(logs))}. Fix: return one of the val_* names from "
                "monitor(), e.g. ('val_loss', 'min')."
            )

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
        self._iterator_checkpointable = self._train_from_tensors and self.strategy.num_replicas_in_sync == 1
        self._train_iterator = iter(self._train_dataset) if self._iterator_checkpointable else None
        # non-chief workers save to their scratch directory but resume from the chief's checkpoints
        restore_from = CheckpointStore(self.run_dir.restore_checkpoint_dir, self.params.keep_checkpoint_max)
        state = restore_from.restore_latest(self._tf_checkpoint())
        if state is None:
            if not self._iterator_checkpointable:
                self._train_iterator = iter(self.strategy.experimental_distribute_dataset(self._train_dataset))
            if self.params.warmstart.model:  # a fresh run only: resuming ignores warm start
                from tfaip_core.trainer.warmstart import warmstart

                warmstart(self.keras_model, self.params.warmstart)
            self._start_step = self.global_step
            return
        self.params.current_epoch = int(state["epoch"])
        self.step_in_epoch = int(state.get("step_in_epoch", 0))
        if not self._iterator_checkpointable:
            consumed = int(state["step"]) * self.params.train_accum_steps
            self._train_iterator = iter(
                self.strategy.experimental_distribute_dataset(self._train_dataset.skip(consumed))
            )
        states = state.get("callbacks", {})
        callbacks.set_state(states)
        self.best.set_state(states.get(BEST_STATE_KEY, {}))
        self._start_step = self.global_step
        log.info(
            "Resuming at epoch %d (+%d steps), global step %d",
            self.params.current_epoch + 1,
            self.step_in_epoch,
            self.global_step,
        )

    def save_checkpoint(self) -> str:
        """Write the resume state (raw weights, optimizer, EMA, data position, callback states) atomically."""
        states = self.callbacks.get_state()
        states[BEST_STATE_KEY] = self.best.get_state()
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
            self.export(self.run_dir.export_dir)

    def _stop_on_non_finite_loss(self, epoch: int) -> None:
        newest = self._checkpoints.complete()
        error = TrainingError(
            f"Non-finite loss at epoch {epoch + 1}, step {self.step_in_epoch} of the epoch (global step "
            f"{self.global_step}); training stopped. Last good checkpoint: {newest[-1] if newest else 'none'}. "
            "Fix: lower --learning_rate.lr, clip gradients (--optimizer.clip_global_norm), or check the data."
        )
        log.error("%s", error)
        raise error

    # ============================== helpers ==============================
    def _finished(self) -> bool:
        if self.params.max_steps > 0:
            return self._max_steps_reached()
        return self.params.current_epoch >= self.params.epochs

    def _max_steps_reached(self) -> bool:
        return 0 < self.params.max_steps <= self.global_step

    def _next_chunk(self) -> int:
        """Steps for the next compiled call: up to the epoch's end, max_steps, or a step-based checkpoint."""
        n = min(self.steps_per_execution, self.steps_per_epoch - self.step_in_epoch)
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

    def export(self, path: str, extra_files: Optional[Dict[str, Any]] = None) -> None:
        """Write the current model as a SavedModel (plus params JSON) to `path`."""
        export_saved_model(
            path, self.keras_model, self.model, self.data.input_specs(), self.params_dict(), extra_files=extra_files
        )
        log.info("Exported the model to %s", path)


def _unbatch(strategy: tf.distribute.Strategy, inputs: Any, targets: Any, outputs: Any, meta: Any) -> List[Sample]:
    """Split a (distributed) batch into per-sample numpy `Sample`s (padding stripped, meta restored)."""
    samples: List[Sample] = []
    for parts in zip(*(strategy.experimental_local_results(x) for x in (inputs, targets, outputs, meta))):
        samples += unbatch(*parts)
    return samples
