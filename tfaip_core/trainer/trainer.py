"""The trainer: one readable loop of compiled steps run through a `tf.distribute` strategy.

THIS LOOP MUST READ EASILY. Everything optional is a callback (see `_create_callbacks` for
their order); `fit` shows the order of the hooks.
"""

from __future__ import annotations

import math
import os
import random
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.device.strategy import create_strategy, is_chief
from tfaip_core.export.saved_model import export_saved_model
from tfaip_core.model.model_base import KerasModel, build_keras_model
from tfaip_core.trainer.callbacks.base import Callback, CallbackList, Logs
from tfaip_core.trainer.callbacks.best_model import BestModelCallback
from tfaip_core.trainer.callbacks.checkpoint import CheckpointCallback
from tfaip_core.trainer.callbacks.metrics_log import MetricsLogCallback
from tfaip_core.trainer.callbacks.progress import ProgressCallback
from tfaip_core.trainer.callbacks.tensorboard import TensorBoardCallback
from tfaip_core.trainer.checkpoint import CheckpointStore
from tfaip_core.trainer.monitor import Monitor
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.util.logging import logger

if TYPE_CHECKING:
    from tfaip_core.scenario.scenario_base import ScenarioBase

log = logger("trainer")
AUTO_STEPS_PER_EXECUTION = 16


class Trainer:
    """Trains a scenario as its `TrainerParams` say. `fit()` runs the whole training."""

    def __init__(self, params: TrainerParams, scenario: "ScenarioBase"):
        self.params = params
        self.scenario = scenario
        self.output_dir = os.path.abspath(params.output_dir or ".")
        self.stop_training = False
        self.steps_per_epoch = 0
        self.extra_callbacks: List[Callback] = []

    # ============================== the loop ==============================
    def fit(self) -> Logs:
        """Train for the remaining epochs; return the logs of the last epoch."""
        p = self.params
        self._setup()
        callbacks = CallbackList(self._create_callbacks())
        callbacks.set_trainer(self)
        self._restore(callbacks)

        logs: Logs = {}
        callbacks.on_train_begin()
        for epoch in range(p.current_epoch, p.epochs):
            callbacks.on_epoch_begin(epoch)
            self._reset_metrics()
            done = 0
            while done < self.steps_per_epoch:
                n = min(self.steps_per_execution, self.steps_per_epoch - done)
                self._train_function(self._train_iterator, tf.constant(n, tf.int32))
                done += n
                callbacks.on_train_batch_end(done, self._metric_logs())
            logs = self._metric_logs()
            logs["lr"] = self.current_learning_rate()
            if (epoch + 1) % p.val_every_n == 0 or epoch + 1 == p.epochs:
                logs.update(self.evaluate())
            callbacks.on_epoch_end(epoch, logs)  # progress, metrics.jsonl, tensorboard, best model, checkpoint
            if self.stop_training:
                break
        if p.export_final and self.chief:
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
            for sample in _unbatch(self.strategy, inputs, targets, outputs):
                self.evaluator.update_state(sample)
                if printed < self.params.num_print_evaluate:
                    self.model.print_evaluate(sample, log.info)
                    printed += 1
        logs = {f"val_{k}": v for k, v in self._metric_logs().items()}
        logs.update({f"val_{k}": float(v) for k, v in self.evaluator.result().items()})
        return logs

    # ============================== steps ==============================
    def _train_step(self, inputs: Dict[str, tf.Tensor], targets: Dict[str, tf.Tensor]) -> None:
        with tf.GradientTape() as tape:
            outputs = self.keras_model(inputs, training=True)
            loss, terms = self._loss(inputs, targets, outputs)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self._update_metrics(terms, loss, targets, outputs)

    def _eval_step(self, inputs: Dict[str, tf.Tensor], targets: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        outputs = self.keras_model(inputs, training=False)
        loss, terms = self._loss(inputs, targets, outputs)
        self._update_metrics(terms, loss, targets, outputs)
        return outputs

    def _loss(self, inputs: Any, targets: Any, outputs: Any) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
        """The total loss of this replica's batch, scaled for summing over replicas, and the raw terms."""
        terms = self.model.loss(inputs, targets, outputs)
        weights = self.model.loss_weights()
        total = tf.constant(0.0)
        for name, value in terms.items():
            value = tf.cast(value, tf.float32)
            if value.shape.rank == 0:
                scaled = value / self.strategy.num_replicas_in_sync
            else:
                scaled = tf.nn.compute_average_loss(tf.reshape(value, [-1]))
            total += weights.get(name, 1.0) * scaled
        for regulariser in self.keras_model.losses:
            total += tf.cast(regulariser, tf.float32) / self.strategy.num_replicas_in_sync
        return total, terms

    def _update_metrics(self, terms: Dict[str, tf.Tensor], loss: tf.Tensor, targets: Any, outputs: Any) -> None:
        batch = tf.cast(tf.shape(tf.nest.flatten(targets)[0])[0], tf.float32)
        self._loss_metrics["loss"].update_state(loss * self.strategy.num_replicas_in_sync, sample_weight=batch)
        for name, value in terms.items():
            if name == "loss":
                continue
            self._loss_metrics[name].update_state(tf.reshape(tf.cast(value, tf.float32), [-1]))
        for definition in self._model_metrics.values():
            definition.metric.update_state(targets[definition.target], outputs[definition.output])

    def _compile(self) -> None:
        strategy = self.strategy

        def train_function(iterator: Any, num_steps: tf.Tensor) -> None:
            for _ in tf.range(num_steps):
                inputs, targets = next(iterator)
                strategy.run(self._train_step, args=(inputs, targets))

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
        self.strategy = create_strategy(p.device)
        self.chief = is_chief(self.strategy)
        self.data = self.scenario.create_data()
        self.model = self.scenario.create_model()
        self.evaluator = self.scenario.create_evaluator()

        train_ds, n_train = self.data.create_dataset(
            PipelineMode.TRAINING, p.train, repeat=True, seed=p.random_seed
        )
        val_ds, _ = self.data.create_dataset(PipelineMode.EVALUATION, p.val)
        self.steps_per_epoch = self._compute_steps_per_epoch(n_train)
        self.steps_per_execution = p.steps_per_execution or min(AUTO_STEPS_PER_EXECUTION, self.steps_per_epoch)
        log.info("Training: %s samples a pass, %d steps per epoch", n_train, self.steps_per_epoch)

        with self.strategy.scope():
            self.keras_model = build_keras_model(self.model.create_graph(), self.data.input_specs())
            self.trainable_variables = list(self.keras_model.trainable_variables)
            schedule = p.learning_rate.create(self.steps_per_epoch, p.epochs)
            self.optimizer = p.optimizer.create(schedule)
            self.optimizer.build(self.trainable_variables)
            self._loss_metrics = self._create_loss_metrics(val_ds)
            self._model_metrics = self.model.metrics()
        self._train_iterator = iter(self.strategy.experimental_distribute_dataset(train_ds))
        self._val_dataset = self.strategy.experimental_distribute_dataset(val_ds)
        self._checkpoint = tf.train.Checkpoint(model=self.keras_model, optimizer=self.optimizer)
        self._checkpoints = CheckpointStore(os.path.join(self.output_dir, "checkpoint"))
        name, mode = self.model.monitor()
        self.monitor = Monitor(name, mode)
        self._compile()
        n_params = sum(int(np.prod(v.shape)) for v in self.keras_model.variables)
        log.info("Model: %d variables, %d parameters", len(self.keras_model.variables), n_params)

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
            from tfaip_core.errors import ConfigError

            raise ConfigError(
                "The training data has no known size. Fix: set --trainer.samples_per_epoch N."
            )
        global_batch = p.train.batch_size * self.strategy.num_replicas_in_sync
        rounding = math.floor if p.train.batch_drop_remainder else math.ceil
        return max(1, int(rounding(samples / global_batch)))

    def _create_callbacks(self) -> List[Callback]:
        """The callbacks in their fixed order: progress/log → files → best model → checkpoint (last)."""
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
        callbacks += [BestModelCallback(self.monitor, export=self.params.export_best and self.chief)]
        if self.chief:
            callbacks.append(CheckpointCallback())
        return callbacks

    def _restore(self, callbacks: CallbackList) -> None:
        """Continue from the newest complete checkpoint if the output directory has one."""
        self.callbacks = callbacks
        state = self._checkpoints.restore_latest(self._checkpoint)
        if state is None:
            if self.params.warmstart.model:  # a fresh run only: resuming ignores warm start
                from tfaip_core.trainer.warmstart import warmstart

                warmstart(self.keras_model, self.params.warmstart)
            return
        self.params.current_epoch = int(state["epoch"])
        callbacks.set_state(state.get("callbacks", {}))

    # ============================== helpers ==============================
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
        return self.params.to_dict()

    def save_checkpoint(self) -> str:
        state = {"epoch": self.params.current_epoch, "step": self.global_step, "callbacks": self.callbacks.get_state()}
        return self._checkpoints.save(self._checkpoint, self.global_step, state)

    def export(self, path: str) -> None:
        """Write the current model as a SavedModel (plus params JSON) to `path`."""
        export_saved_model(path, self.keras_model, self.model, self.data.input_specs(), self.params_dict())
        log.info("Exported the model to %s", path)


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
            samples.append(
                Sample(
                    inputs=tf.nest.map_structure(lambda a: a[i], np_in),
                    targets=tf.nest.map_structure(lambda a: a[i], np_tgt),
                    outputs=tf.nest.map_structure(lambda a: a[i], np_out),
                )
            )
    return samples
