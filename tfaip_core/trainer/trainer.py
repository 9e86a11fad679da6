"""The trainer: one readable loop of compiled steps run through a `tf.distribute` strategy.

THIS LOOP MUST READ EASILY. `fit` shows the order of everything that happens; what is optional is
a callback (their order is fixed in `_create_callbacks`) or a small helper object (EMA, gradient
accumulation, the checkpoint store).
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

from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.device.strategy import create_strategy, is_chief
from tfaip_core.errors import ConfigError, TrainingError
from tfaip_core.export.saved_model import export_saved_model
from tfaip_core.model.model_base import build_keras_model
from tfaip_core.trainer.accumulation import GradientAccumulator
from tfaip_core.trainer.callbacks.base import Callback, CallbackList, Logs
from tfaip_core.trainer.callbacks.best_model import BestModelCallback
from tfaip_core.trainer.callbacks.metrics_log import MetricsLogCallback
from tfaip_core.trainer.callbacks.progress import ProgressCallback
from tfaip_core.trainer.callbacks.tensorboard import TensorBoardCallback
from tfaip_core.trainer.checkpoint import MODEL_KEY, CheckpointStore, ModelVariables
from tfaip_core.trainer.ema import ExponentialMovingAverage, ema_rate
from tfaip_core.trainer.monitor import Monitor
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.trainer.scope import trainable_variables
from tfaip_core.util.io import atomic_write_json
from tfaip_core.util.logging import logger

if TYPE_CHECKING:
    from tfaip_core.scenario.scenario_base import ScenarioBase

log = logger("trainer")
AUTO_STEPS_PER_EXECUTION = 16


class Trainer:
    """Trains a scenario as its `TrainerParams` say. `fit()` runs (or continues) the whole training.

    A "step" is one optimizer update; with `--trainer.train_accum_steps N` it consumes N batches.
    """

    def __init__(self, params: TrainerParams, scenario: ScenarioBase):
        self.params = params
        self.scenario = scenario
        self.output_dir = os.path.abspath(params.output_dir or ".")
        self.stop_training = False
        self.steps_per_epoch = 0
        self.step_in_epoch = 0
        self.extra_callbacks: List[Callback] = []
        self.ema: Optional[ExponentialMovingAverage] = None

    # ============================== the loop ==============================
    def fit(self) -> Logs:
        """Train until the last epoch (or `max_steps`); return the logs of the last epoch."""
        p = self.params
        self._setup()
        callbacks = CallbackList(self._create_callbacks())
        callbacks.set_trainer(self)
        self._restore(callbacks)  # the newest checkpoint, or else warm start

        logs: Logs = {}
        callbacks.on_train_begin()
        while not self._finished():
            epoch = p.current_epoch
            callbacks.on_epoch_begin(epoch)
            self._reset_metrics()
            while self.step_in_epoch < self.steps_per_epoch and not self._max_steps_reached():
                done, finite = self._train_function(self._train_iterator, tf.constant(self._next_chunk(), tf.int32))
                self.step_in_epoch += int(done)
                if not bool(finite):
                    self._stop_on_non_finite_loss(epoch)
                callbacks.on_train_batch_end(self.step_in_epoch, self._metric_logs())
                if self.step_in_epoch < self.steps_per_epoch and self._checkpoint_due(epoch_end=False):
                    self.save_checkpoint()
            p.current_epoch, self.step_in_epoch = epoch + 1, 0
            logs = self._metric_logs()
            logs["lr"] = self.current_learning_rate()
            with self.averaged_weights():  # EMA weights (if on) for validation, early stopping and best model
                if (epoch + 1) % p.val_every_n == 0 or self._finished():
                    logs.update(self.evaluate())
                callbacks.on_epoch_end(epoch, logs)  # progress, metrics.jsonl, TensorBoard, early stopping, best
            self._end_epoch(last=self._finished() or self.stop_training)  # checkpoint of the raw weights
            if self.stop_training:
                break
        if p.export_final and self.chief:
            with self.averaged_weights():
                self.export(os.path.join(self.output_dir, "export"))
        callbacks.on_train_end(logs)
        return logs

    def evaluate(self) -> Logs:
        """One pass over the validation data: loss terms, metrics and the evaluator, prefixed `val_`."""
        self._reset_metrics()
        self.evaluator.reset_state()
        printed = 0
        for inputs, targets in self._val_dataset:
            outputs = self._eval_function(inputs, targets)
            for sample in self.data.post_process(_unbatch(self.strategy, inputs, targets, outputs)):
                self.evaluator.update_state(sample)
                if printed < self.params.num_print_evaluate:
                    self.model.print_evaluate(sample, log.info)
                    printed += 1
        logs = {f"val_{k}": v for k, v in self._metric_logs().items()}
        logs.update({f"val_{k}": float(v) for k, v in self.evaluator.result().items()})
        return logs

    # ============================== compiled steps ==============================
    def _forward_backward(self, inputs: Any, targets: Any) -> Tuple[tf.Tensor, List[tf.Tensor]]:
        with tf.GradientTape() as tape:
            outputs = self.keras_model(inputs, training=True)
            loss, terms = self._loss(inputs, targets, outputs)
        self._update_metrics(terms, loss, targets, outputs)
        return loss, tape.gradient(loss, self.trainable_variables)

    def _apply(self, gradients: List[tf.Tensor]) -> None:
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        if self.ema is not None:
            self.ema.update()

    def _train_step(self, inputs: Any, targets: Any) -> tf.Tensor:
        loss, gradients = self._forward_backward(inputs, targets)
        self._apply(gradients)
        return loss

    def _accumulate_step(self, inputs: Any, targets: Any) -> tf.Tensor:
        loss, gradients = self._forward_backward(inputs, targets)
        self.accumulator.add(gradients)
        return loss

    def _apply_accumulated(self) -> None:
        self._apply(self.accumulator.mean_and_reset())

    def _eval_step(self, inputs: Any, targets: Any) -> Dict[str, tf.Tensor]:
        outputs = self.keras_model(inputs, training=False)
        loss, terms = self._loss(inputs, targets, outputs)
        self._update_metrics(terms, loss, targets, outputs)
        return outputs

    def _loss(self, inputs: Any, targets: Any, outputs: Any) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
        """This replica's share of the global-batch mean loss (summing over replicas gives the mean), and the terms."""
        terms = self.model.loss(inputs, targets, outputs)
        weights = self.model.loss_weights()
        replicas = self.strategy.num_replicas_in_sync
        total = tf.constant(0.0)
        for name, value in terms.items():
            value = tf.cast(value, tf.float32)
            scaled = value / replicas if value.shape.rank == 0 else tf.nn.compute_average_loss(tf.reshape(value, [-1]))
            total += weights.get(name, 1.0) * scaled
        for regulariser in self.keras_model.losses:
            total += tf.cast(regulariser, tf.float32) / replicas
        return total, terms

    def _update_metrics(self, terms: Dict[str, tf.Tensor], loss: tf.Tensor, targets: Any, outputs: Any) -> None:
        batch = tf.cast(tf.shape(tf.nest.flatten(targets)[0])[0], tf.float32)
        self._loss_metrics["loss"].update_state(loss * self.strategy.num_replicas_in_sync, sample_weight=batch)
        for name, value in terms.items():
            if name != "loss":
                self._loss_metrics[name].update_state(tf.reshape(tf.cast(value, tf.float32), [-1]))
        for definition in self._model_metrics.values():
            definition.metric.update_state(targets[definition.target], outputs[definition.output])

    def _compile(self) -> None:
        strategy, accum = self.strategy, self.params.train_accum_steps

        def one_update(iterator: Any) -> tf.Tensor:
            if accum == 1:
                inputs, targets = next(iterator)
                return strategy.reduce("SUM", strategy.run(self._train_step, args=(inputs, targets)), axis=None)
            total = tf.constant(0.0)
            for _ in tf.range(accum):
                inputs, targets = next(iterator)
                total += strategy.reduce("SUM", strategy.run(self._accumulate_step, args=(inputs, targets)), axis=None)
            strategy.run(self._apply_accumulated)
            return total

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
            return strategy.run(self._eval_step, args=(inputs, targets))

        if self.params.force_eager:
            self._train_function, self._eval_function = train_function, eval_function
        else:
            self._train_function = tf.function(train_function)
            self._eval_function = tf.function(eval_function)

    # ============================== setup ==============================
    def _setup(self) -> None:
        p = self.params
        p.validate()
        os.makedirs(self.output_dir, exist_ok=True)
        if p.random_seed is not None:
            keras.utils.set_random_seed(p.random_seed)
            random.seed(p.random_seed)
            np.random.seed(p.random_seed)
            tf.config.experimental.enable_op_determinism()
        self.strategy = create_strategy(p.device)
        self.chief = is_chief(self.strategy)
        self.data = self.scenario.create_data()
        self.model = self.scenario.create_model()
        self.evaluator = self.scenario.create_evaluator()

        self._train_dataset, n_train = self.data.create_dataset(
            PipelineMode.TRAINING, p.train, repeat=True, seed=p.random_seed, preload=p.preload_data
        )
        val_ds, _ = self.data.create_dataset(PipelineMode.EVALUATION, p.val, preload=p.preload_data)
        self.steps_per_epoch = self._compute_steps_per_epoch(n_train)
        self.steps_per_execution = p.steps_per_execution or min(AUTO_STEPS_PER_EXECUTION, self.steps_per_epoch)
        log.info(
            "Training: %s samples a pass, %d steps per epoch",
            "endless" if n_train is None else n_train,
            self.steps_per_epoch,
        )

        with self.strategy.scope():
            self.keras_model = build_keras_model(self.model.create_graph(), self.data.input_specs())
            self.trainable_variables = trainable_variables(self.keras_model, p.no_train_scope)
            schedule = p.learning_rate.create(self.steps_per_epoch, p.epochs)
            self.optimizer = p.optimizer.create(schedule)
            self.optimizer.build(self.trainable_variables)
            if p.calc_ema != 0:
                self.ema = ExponentialMovingAverage(
                    self.trainable_variables, ema_rate(p.calc_ema, self.steps_per_epoch)
                )
                log.info("EMA of the weights with decay %.6g", self.ema.rate)
            if p.train_accum_steps > 1:
                self.accumulator = GradientAccumulator(self.trainable_variables, p.train_accum_steps)
            self._loss_metrics = self._create_loss_metrics(val_ds)
            self._model_metrics = self.model.metrics()
        self._val_dataset = self.strategy.experimental_distribute_dataset(val_ds)
        self._checkpoints = CheckpointStore(os.path.join(self.output_dir, "checkpoint"), p.keep_checkpoint_max)
        self._checkpoint_frequency = p.checkpoint_frequency()
        self.monitor = Monitor(*self.model.monitor())
        self._compile()
        frozen = len(self.keras_model.trainable_variables) - len(self.trainable_variables)
        n_params = sum(int(np.prod(v.shape)) for v in self.keras_model.variables)
        log.info("Model: %d variables (%d frozen), %d parameters", len(self.keras_model.variables), frozen, n_params)

    def _create_loss_metrics(self, dataset: tf.data.Dataset) -> Dict[str, keras.metrics.Metric]:
        """A running mean for the total loss and for each loss term (named by one look at a batch)."""
        inputs, targets = next(iter(dataset.take(1)))
        terms = self.model.loss(inputs, targets, self.keras_model(inputs, training=False))
        names = ["loss"] + [name for name in terms if name != "loss"]
        return {name: keras.metrics.Mean(name=name) for name in names}

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
        callbacks: List[Callback] = [ProgressCallback(self.params.progress_bar)]
        if self.chief:
            callbacks += [
                MetricsLogCallback(os.path.join(self.output_dir, "metrics.jsonl")),
                TensorBoardCallback(self.output_dir),
            ]
        callbacks += self.extra_callbacks
        es = self.params.early_stopping
        if es.n_to_go > 0 or es.lower_threshold is not None or es.upper_threshold is not None:
            from tfaip_core.trainer.callbacks.early_stopping import EarlyStoppingCallback

            callbacks.append(EarlyStoppingCallback(es, self.monitor))
        callbacks.append(BestModelCallback(self.monitor, export=self.params.export_best and self.chief))
        return callbacks

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
        self._iterator_checkpointable = (
            self.data.from_tensors.get(PipelineMode.TRAINING, False) and self.strategy.num_replicas_in_sync == 1
        )
        self._train_iterator = iter(self._train_dataset) if self._iterator_checkpointable else None
        state = self._checkpoints.restore_latest(self._tf_checkpoint())
        if state is None:
            if not self._iterator_checkpointable:
                self._train_iterator = iter(self.strategy.experimental_distribute_dataset(self._train_dataset))
            if self.params.warmstart.model:  # a fresh run only: resuming ignores warm start
                from tfaip_core.trainer.warmstart import warmstart

                warmstart(self.keras_model, self.params.warmstart)
            return
        self.params.current_epoch = int(state["epoch"])
        self.step_in_epoch = int(state.get("step_in_epoch", 0))
        if not self._iterator_checkpointable:
            consumed = int(state["step"]) * self.params.train_accum_steps
            self._train_iterator = iter(
                self.strategy.experimental_distribute_dataset(self._train_dataset.skip(consumed))
            )
        callbacks.set_state(state.get("callbacks", {}))
        log.info(
            "Resuming at epoch %d (+%d steps), global step %d",
            self.params.current_epoch + 1,
            self.step_in_epoch,
            self.global_step,
        )

    def save_checkpoint(self) -> str:
        """Write the resume state (raw weights, optimizer, EMA, data position, callback states) atomically."""
        if not self.chief:
            return ""
        state = {
            "epoch": self.params.current_epoch,
            "step_in_epoch": self.step_in_epoch,
            "step": self.global_step,
            "callbacks": self.callbacks.get_state(),
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
        if self.chief:
            atomic_write_json(os.path.join(self.output_dir, "trainer_params.json"), self.params_dict())

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
    def global_step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def current_learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def _reset_metrics(self) -> None:
        for metric in self._loss_metrics.values():
            metric.reset_state()
        for definition in self._model_metrics.values():
            definition.metric.reset_state()

    def _metric_logs(self) -> Logs:
        logs = {name: float(m.result()) for name, m in self._loss_metrics.items()}
        logs.update({name: float(d.metric.result()) for name, d in self._model_metrics.items()})
        return logs

    def params_dict(self) -> Dict[str, Any]:
        return self.params.to_dict()  # type: ignore[attr-defined]

    def export(self, path: str) -> None:
        """Write the current model as a SavedModel (plus params JSON) to `path`."""
        export_saved_model(path, self.keras_model, self.model, self.data.input_specs(), self.params_dict())
        log.info("Exported the model to %s", path)


def _row(i: int) -> Any:
    """A function taking row `i` of every array in a nested structure."""
    return lambda structure: tf.nest.map_structure(lambda a: a[i], structure)


def _unbatch(strategy: tf.distribute.Strategy, inputs: Any, targets: Any, outputs: Any) -> List[Sample]:
    """Split a (distributed) batch into per-sample numpy `Sample`s for the evaluator."""
    samples = []
    for part_in, part_tgt, part_out in zip(
        strategy.experimental_local_results(inputs),
        strategy.experimental_local_results(targets),
        strategy.experimental_local_results(outputs),
    ):
        np_in, np_tgt, np_out = (tf.nest.map_structure(lambda t: t.numpy(), x) for x in (part_in, part_tgt, part_out))
        size = len(tf.nest.flatten(np_tgt)[0])
        for i in range(size):
            row = _row(i)
            samples.append(Sample(inputs=row(np_in), targets=row(np_tgt), outputs=row(np_out)))
    return samples
