"""How a run is spread over replicas and workers: the batch each replica gets, the data each worker reads.

One meaning of batch size: `--train.batch_size` (and `--val.batch_size`) is the *global* batch, the samples of
one optimizer step summed over all replicas of all workers. Each replica gets `batch_size / replicas`; so the
same flags give the same training (the same step count, the same update) on 1 CPU, N GPUs or N machines.

The training data is split between workers at its source (`DataGenerator.generate_shard`: worker w of W reads
every W-th sample), and each worker's dataset is batched per replica and handed to
`Strategy.distribute_datasets_from_function`, which feeds the worker's replicas its batches in turn. The
validation data is not split: every worker validates all of it (its replicas share each batch), so that the
Python evaluator sees every sample on every worker; `broadcast_from_chief` then makes the logged values, and
so every decision taken from them (early stopping, best model), the chief's on all workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from tfaip_core.data.params import DataPipelineParams
from tfaip_core.errors import ConfigError, TrainingError


@dataclass(frozen=True)
class Layout:
    """Replicas and workers of a strategy: `replicas` in sync over `workers` machines; this is worker `worker`."""

    replicas: int = 1
    workers: int = 1
    worker: int = 0

    @property
    def local_replicas(self) -> int:
        """Replicas on this worker."""
        return self.replicas // self.workers

    @property
    def distributed(self) -> bool:
        """Whether the steps run on more than one replica (else the datasets are fed as they are)."""
        return self.replicas > 1 or self.workers > 1


def layout_of(strategy: tf.distribute.Strategy) -> Layout:
    """The `Layout` of `strategy`; the worker index is TensorFlow's input-pipeline id (the chief first)."""
    workers, worker = 1, 0
    resolver = (
        getattr(strategy, "cluster_resolver", None)
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        else None
    )
    if resolver is not None:
        cluster = resolver.cluster_spec().as_dict()
        chiefs, others = len(cluster.get("chief", [])), len(cluster.get("worker", []))
        workers = max(1, chiefs + others)
        if resolver.task_type == "worker":
            worker = chiefs + int(resolver.task_id or 0)
    return Layout(replicas=strategy.num_replicas_in_sync, workers=workers, worker=worker)


def per_replica_params(params: DataPipelineParams, replicas: int, flag: str) -> DataPipelineParams:
    """A copy of `params` whose batch size(s) are those of one replica: the global ones / `replicas`.

    Raises:
        ConfigError: a batch size is not a multiple of `replicas` (replicas would get unequal shares, and the
            loss a different weighting than on one device).
    """
    if replicas == 1:
        return params
    sizes = [params.batch_size, *params.bucket_batch_sizes]
    uneven = [s for s in sizes if s % replicas]
    if uneven:
        which = f"{flag}.batch_size" if uneven[0] == params.batch_size else f"{flag}.bucket_batch_sizes"
        raise ConfigError(
            f"{which} is the global batch (all replicas together) and must be a multiple of the {replicas} "
            f"replicas; got {uneven[0]}. Fix: pass a multiple of {replicas}, e.g. "
            f"{which} {max(1, uneven[0] // replicas) * replicas}."
        )
    return dataclasses.replace(
        params,
        batch_size=params.batch_size // replicas,
        bucket_batch_sizes=[s // replicas for s in params.bucket_batch_sizes],
    )


def per_replica_eval_params(params: DataPipelineParams, replicas: int) -> DataPipelineParams:
    """Validation batches for `replicas` replicas sharing each batch (rounded up: validation has no loss scale)."""
    if replicas == 1:
        return params
    return dataclasses.replace(
        params,
        batch_size=-(-params.batch_size // replicas),
        bucket_batch_sizes=[-(-s // replicas) for s in params.bucket_batch_sizes],
    )


def distribute(
    strategy: tf.distribute.Strategy, layout: Layout, dataset: tf.data.Dataset
) -> tf.distribute.DistributedDataset:
    """`dataset` (this worker's, batched per replica) fed to this worker's replicas, one batch each in turn."""

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        if (context.num_input_pipelines, context.input_pipeline_id) != (layout.workers, layout.worker):
            raise TrainingError(
                f"TensorFlow feeds input pipeline {context.input_pipeline_id} of {context.num_input_pipelines}, but "
                f"the data was split for worker {layout.worker} of {layout.workers}. Fix: check TF_CONFIG."
            )
        return dataset

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return strategy.distribute_datasets_from_function(dataset_fn, options)


def broadcast_from_chief(
    strategy: tf.distribute.Strategy, layout: Layout, values: Dict[str, float]
) -> Dict[str, float]:
    """The chief's `values` on every worker (an all-reduce in which only the chief's first replica adds its own).

    Why: early stopping and the best model decide from these values; every worker must decide the same, or
    one worker stops while the others wait for it forever. A no-op on one worker.
    """
    if layout.workers == 1 or not values:
        return values
    keys = sorted(values)
    vector = tf.constant([values[k] for k in keys], tf.float64)

    def chief_only() -> tf.Tensor:
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        return context.all_reduce("SUM", tf.where(first, vector, tf.zeros_like(vector)))

    reduced = strategy.experimental_local_results(tf.function(lambda: strategy.run(chief_only))())[0].numpy()
    return {key: float(value) for key, value in zip(keys, reduced)}


def weights_fingerprint(variables: Sequence[tf.Variable]) -> str:
    """SHA-256 over the values of `variables` (in order): equal on workers that hold the same weights."""
    digest = hashlib.sha256()
    for variable in variables:
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()
