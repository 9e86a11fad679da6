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
from typing import Any, Iterable, Iterator, List, Sequence, Union

import tensorflow as tf

from tfaip_core.data.data_base import DataBase
from tfaip_core.data.data_pipeline import DataPipeline, unbatch
from tfaip_core.data.params import DataBaseParams
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError
from tfaip_core.predict.loaded_model import LoadedModel, Tensors
from tfaip_core.predict.params import PredictorParams
from tfaip_core.predict.voter import Voter


@dataclasses.dataclass
class PredictionStats:
    """Throughput of a predictor: samples and batches yielded, wall seconds, and seconds inside the model(s)."""

    samples: int = 0
    batches: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"{self.samples} samples in {self.batches} batches, {self.seconds:.3f} s "
            f"({self.samples_per_second:.1f} samples/s; {self.model_seconds:.3f} s in the model)"
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
        yield from self._run(pipeline, source)

    def predict_raw(self, inputs: Iterable[Any]) -> Iterator[Sample]:
        """The predictions of raw inputs (each a `Sample` or the `inputs` of one), pre-processed like PREDICTION
        data. A sample without `meta["id"]` gets its position (`"0"`, `"1"` ...)."""
        samples: Iterable[Sample] = (x if isinstance(x, Sample) else Sample(inputs=x) for x in inputs)
        if isinstance(inputs, (list, tuple)):  # a sized source is preloaded (fed from tensors when it can be)
            samples = list(samples)
        pipeline = DataPipeline.from_samples(self.data, samples, self.params.pipeline())
        yield from self._run(pipeline, self.data)

    def predict_dataset(self, dataset: tf.data.Dataset) -> Iterator[Sample]:
        """The predictions of a batched dataset whose elements are input dicts (or tuples starting with one).

        No pre-processing; samples get their position in the dataset as `meta["id"]`.
        """
        start, index = time.perf_counter(), 0
        for element in dataset:
            inputs = element[0] if isinstance(element, tuple) else element
            if not isinstance(inputs, dict):
                raise DataError(
                    f"predict_dataset takes batches of named inputs (dicts); got {type(inputs).__name__}. "
                    "Fix: map the dataset to {name: tensor} dicts."
                )
            samples = self._predict_batch(inputs, None, self.data)
            for position, sample in enumerate(samples, index):
                if isinstance(sample.meta, dict):  # a fresh dict per sample (unbatch): set the id in place
                    sample.meta["id"] = str(position)
                else:
                    samples[position - index] = sample.new_meta({"id": str(position)})
            index += len(samples)
            yield from samples
            self.stats.seconds += time.perf_counter() - start
            start = time.perf_counter()

    # ------------------------------------------------------------------ running
    def _run(self, pipeline: DataPipeline, data: DataBase) -> Iterator[Sample]:
        with pipeline:
            start = time.perf_counter()
            for inputs, _, meta in pipeline.dataset():
                yield from self._predict_batch(inputs, meta, data)
                self.stats.seconds += time.perf_counter() - start
                start = time.perf_counter()

    def _predict_batch(self, inputs: Tensors, meta: Any, data: DataBase) -> List[Sample]:
        start = time.perf_counter()
        outputs = self.models[0].predict(inputs)
        self.stats.model_seconds += time.perf_counter() - start
        samples = data.post_process(unbatch(inputs, {}, outputs, meta), PipelineMode.PREDICTION)
        self.stats.batches += 1
        self.stats.samples += len(samples)
        return samples

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

    def _predict_batch(self, inputs: Tensors, meta: Any, data: DataBase) -> List[Sample]:
        per_model = []
        for model in self.models:
            start = time.perf_counter()
            outputs = model.predict(inputs)
            self.stats.model_seconds += time.perf_counter() - start
            per_model.append(data.post_process(unbatch(inputs, {}, outputs, meta), PipelineMode.PREDICTION))
        samples = [self.voter.vote(list(one)) for one in zip(*per_model)]
        self.stats.batches += 1
        self.stats.samples += len(samples)
        return samples


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
