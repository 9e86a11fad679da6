"""`Predictor` and `MultiModelPredictor`: exported models run on new data, from Python (and `tfaip-predict`).

Each runs the scenario's data pipeline in PREDICTION mode (inputs only, each sample's meta carried through),
calls the export's `serving_default` signature on every batch (`LoadedModel`, plain `tf.saved_model.load`),
un-batches, post-processes (`--data.post_proc`) and yields one `Sample` per input with `inputs`, `outputs` and
`meta` (its `meta["id"]` names the input). Three ways in:

* `predict(data)`: the scenario's own PREDICTION data (e.g. the files named by `--data.*` flags);
* `predict_raw(iterable)`: raw inputs (or `Sample`s) through the scenario's pre-processors;
* `predict_dataset(dataset)`: an already batched `tf.data.Dataset` of input dicts (no pre-processing).

`stats` counts samples, batches and seconds (throughput).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import tensorflow as tf

from tfaip_core.data.data_base import DataBase
from tfaip_core.data.data_pipeline import DataPipeline, unbatch
from tfaip_core.data.params import DataBaseParams
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError
from tfaip_core.predict.loaded_model import LoadedModel
from tfaip_core.predict.params import PredictorParams
from tfaip_core.predict.voter import Voter


@dataclasses.dataclass
class PredictionStats:
    """Throughput of a predictor: samples and batches yielded, and wall seconds.

    `wait_seconds` is the part of `seconds` spent waiting for the next batch of model outputs (the data pipeline
    and the model run ahead in tf.data's threads): close to `seconds`, the model or the input is the bottleneck;
    small, the un-batching and post-processing in Python are.
    """

    samples: int = 0
    batches: int = 0
    seconds: float = 0.0
    wait_seconds: float = 0.0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"{self.samples} samples in {self.batches} batches, {self.seconds:.3f} s "
            f"({self.samples_per_second:.1f} samples/s; {self.wait_seconds:.3f} s waiting for the model)"
        )


class Predictor:
    """One exported model applied to new data. Close it (or use `with`) to release the model.

    Example:
        with scenario.create_predictor("run/best", PredictorParams(batch_size=32)) as predictor:
            for sample in predictor.predict_raw([{"img": image}]):
                print(sample.meta["id"], sample.outputs["class"])

    Args:
        model_dir: An export (`OUTPUT_DIR/best`, `OUTPUT_DIR/export`) or a `.zip` model archive.
        data: The scenario's data, built from the export's params (pre- and post-processing, specs).
        params: Batch size, worker processes, limit.
    """

    def __init__(self, model_dir: str, data: DataBase, params: PredictorParams) -> None:
        self._setup([model_dir], data, params)

    def _setup(self, model_dirs: Sequence[str], data: DataBase, params: PredictorParams) -> None:
        params.validate()
        self.data = data
        self.params = params
        self.stats = PredictionStats()
        self.models = _open(model_dirs)

    # ------------------------------------------------------------------ the three ways in
    def predict(self, data: Union[DataBase, DataBaseParams, None] = None) -> Iterator[Sample]:
        """The predictions of the scenario's PREDICTION data: of `data` (a `DataBase` or its params, e.g. with
        other files), else of the data the predictor was made with."""
        source = self._data(data)
        pipeline = DataPipeline(
            source, PipelineMode.PREDICTION, self.params.pipeline(), with_targets=False, with_meta=True
        )
        with pipeline:
            for samples in self._run(pipeline.dataset(), meta=True, data=source):
                yield from samples

    def predict_raw(self, inputs: Iterable[Any]) -> Iterator[Sample]:
        """The predictions of raw inputs (each a `Sample` or the `inputs` of one), pre-processed like PREDICTION
        data. A sample without `meta["id"]` gets its position (`"0"`, `"1"` ...)."""
        samples: Iterable[Sample] = (x if isinstance(x, Sample) else Sample(inputs=x) for x in inputs)
        if isinstance(inputs, (list, tuple)):  # a sized source is preloaded (fed from tensors when it can be)
            samples = list(samples)
        pipeline = DataPipeline.from_samples(self.data, samples, self.params.pipeline())
        with pipeline:
            for samples in self._run(pipeline.dataset(), meta=True):
                yield from samples

    def predict_dataset(self, dataset: tf.data.Dataset) -> Iterator[Sample]:
        """The predictions of a batched dataset whose elements are input dicts (or tuples starting with one).

        No pre-processing; samples get their position in the dataset as `meta["id"]`.
        """
        spec = dataset.element_spec
        if not isinstance(spec[0] if isinstance(spec, tuple) and spec else spec, dict):
            raise DataError(
                f"predict_dataset takes batches of named inputs (dicts); got elements {spec}. "
                "Fix: map the dataset to {name: tensor} dicts."
            )
        for samples in self._run(dataset):
            yield from samples

    # ------------------------------------------------------------------ running
    def _run(
        self, dataset: tf.data.Dataset, meta: bool = False, data: Optional[DataBase] = None
    ) -> Iterator[List[Sample]]:
        """The post-processed samples of each batch of `dataset` (input dicts first in each element, the
        pipeline's meta last if `meta`; else each sample's `meta["id"]` is its position).

        The models run inside the dataset (tf.data's threads, ahead of this loop by `--predict.prefetch`
        batches), so the model of the next batch overlaps with un-batching and post-processing this one.
        """
        data = data or self.data
        models = self.models

        def predict(*element: Any) -> Dict[str, Any]:
            # dicts only: the iterator re-nests every element in Python, and on Python 3.11 tf.nest spends about
            # 8 µs on each tuple in it (a typing.Protocol isinstance check), 1 µs a sample at batch size 128
            outputs = {index: model.predict(element[0]) for index, model in enumerate(models)}
            return {"inputs": element[0], "meta": element[-1] if meta else {}, "outputs": outputs}

        predicted = dataset.map(predict)
        if self.params.prefetch != 0:
            predicted = predicted.prefetch(tf.data.AUTOTUNE if self.params.prefetch < 0 else self.params.prefetch)
        start, position = time.perf_counter(), 0
        for element in predicted:
            self.stats.wait_seconds += time.perf_counter() - start
            inputs, batch_meta = element["inputs"], element["meta"] or None
            per_model = [
                unbatch(inputs, {}, element["outputs"][index], batch_meta, None if meta else position)
                for index in range(len(models))
            ]
            position += len(per_model[0])
            samples = self._combine([data.post_process(one, PipelineMode.PREDICTION) for one in per_model])
            self.stats.batches += 1
            self.stats.samples += len(samples)
            yield samples
            self.stats.seconds += time.perf_counter() - start
            start = time.perf_counter()

    def _combine(self, per_model: List[List[Sample]]) -> List[Sample]:
        """One model's samples of a batch (a `MultiModelPredictor` votes)."""
        return per_model[0]

    def _data(self, data: Union[DataBase, DataBaseParams, None]) -> DataBase:
        if data is None:
            return self.data
        if isinstance(data, DataBase):
            return data
        if isinstance(data, DataBaseParams):
            return type(self.data)(data)
        raise ConfigError(
            f"predict takes the scenario's data or its params ({type(self.data.params).__name__}); got "
            f"{type(data).__name__}. Fix: pass a DataBase, its params, or nothing."
        )

    def close(self) -> None:
        """Release the models (and remove extracted archives). Idempotent."""
        for model in self.models:
            model.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MultiModelPredictor(Predictor):
    """Several exported models of one scenario on the same data; the `voter` combines each sample's predictions.

    Every batch goes through each model; the post-processed samples of one input are voted into one.

    Args:
        model_dirs: Two or more exports (or archives) of the same scenario.
        data: The scenario's data (from the first model's params).
        params: Batch size, worker processes, limit.
        voter: Combines the models' samples (the scenario's `create_voter()`).
    """

    def __init__(self, model_dirs: Sequence[str], data: DataBase, params: PredictorParams, voter: Voter) -> None:
        if len(model_dirs) < 1:
            raise ConfigError("MultiModelPredictor needs at least one model directory; got none. Fix: pass some.")
        self.voter = voter
        self._setup(model_dirs, data, params)

    def _combine(self, per_model: List[List[Sample]]) -> List[Sample]:
        return [self.voter.vote(list(one)) for one in zip(*per_model)]


def _open(model_dirs: Sequence[str]) -> List[LoadedModel]:
    """Load every model; on a failure close those already loaded."""
    models: List[LoadedModel] = []
    try:
        for path in model_dirs:
            models.append(LoadedModel(path))
    except BaseException:
        for model in models:
            model.close()
        raise
    return models
