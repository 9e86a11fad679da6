"""A tiny sequence scenario for the data-pipeline integration tests: variable lengths, processors, bucketing.

Each raw sample is a random integer sequence (length 1..30); the label says whether its sum is even.
Pre-processing runs in worker processes when asked: `ToFloat` maps, `DropShort` drops sequences shorter
than 3, `SplitLong` (generating) splits sequences longer than 20 into two.
"""

import itertools
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import keras
import numpy as np
import tensorflow as tf
from paiargparse import pai_dataclass, pai_meta

from tests.data.seq_processors import DropShortParams, SplitLongParams, ToFloatParams  # noqa: F401 (re-exported)
from tfaip_core import (
    DataBase,
    DataBaseParams,
    DataGenerator,
    DataPipelineParams,
    EvaluatorBaseParams,
    GraphBase,
    GraphBaseParams,
    ModelBase,
    ModelBaseParams,
    PipelineMode,
    Sample,
    ScenarioBase,
    ScenarioBaseParams,
)
from tfaip_core.data.params import ProcessorPipelineParams


@pai_dataclass
@dataclass
class SeqDataParams(DataBaseParams):
    num_samples: int = field(default=200, metadata=pai_meta(help="Raw samples per split. Defaults to 200."))
    infinite: bool = field(
        default=False, metadata=pai_meta(help="The training generator never ends (size unknown). Defaults to False.")
    )
    pre_proc: ProcessorPipelineParams = field(
        default_factory=lambda: ProcessorPipelineParams(
            processors=[DropShortParams(), SplitLongParams(), ToFloatParams()]
        ),
        metadata=pai_meta(help="Pre-processing."),
    )


class SeqGenerator(DataGenerator[DataPipelineParams]):
    def __init__(self, mode: PipelineMode, params: DataPipelineParams, num_samples: Optional[int]):
        super().__init__(mode, params)
        self.num_samples = num_samples

    def generate(self) -> Iterator[Sample]:
        rng = np.random.default_rng(0 if self.mode == PipelineMode.TRAINING else 1)
        indices = itertools.count() if self.num_samples is None else range(self.num_samples)
        for i in indices:
            seq = rng.integers(0, 10, size=int(rng.integers(1, 31)))
            yield Sample(inputs={"seq": seq}, targets={"label": np.int64(int(seq.sum()) % 2)}, meta={"id": f"raw{i}"})

    def size(self) -> Optional[int]:
        return self.num_samples


class SeqData(DataBase[SeqDataParams]):
    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"seq": tf.TensorSpec([None, 1], tf.float32), "length": tf.TensorSpec([], tf.int32)}

    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"label": tf.TensorSpec([], tf.int64)}

    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> SeqGenerator:
        infinite = self.params.infinite and mode == PipelineMode.TRAINING
        return SeqGenerator(mode, pipeline, None if infinite else self.params.num_samples)


@pai_dataclass
@dataclass
class SeqModelParams(ModelBaseParams):
    units: int = field(default=8, metadata=pai_meta(help="Hidden units. Defaults to 8."))


class SeqGraph(GraphBase[GraphBaseParams]):
    def __init__(self, units: int):
        super().__init__(GraphBaseParams())
        self.hidden = keras.layers.Dense(units, activation="relu", name="hidden")
        self.out = keras.layers.Dense(2, name="out")

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        pooled = tf.reduce_sum(self.hidden(inputs["seq"]), axis=1)
        logits = self.out(pooled)
        return {"logits": logits, "class": tf.argmax(logits, -1)}


class SeqModel(ModelBase[SeqModelParams]):
    def create_graph(self) -> GraphBase:
        return SeqGraph(self.params.units)

    def loss(self, inputs: Dict, targets: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        return {
            "xent": keras.losses.sparse_categorical_crossentropy(targets["label"], outputs["logits"], from_logits=True)
        }


@pai_dataclass
@dataclass
class SeqScenarioParams(ScenarioBaseParams):
    data: SeqDataParams = field(default_factory=SeqDataParams, metadata=pai_meta(mode="flat", fix_dc=True))
    model: SeqModelParams = field(default_factory=SeqModelParams, metadata=pai_meta(mode="flat", fix_dc=True))
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams, metadata=pai_meta(mode="flat", fix_dc=True)
    )


class SeqScenario(ScenarioBase[SeqScenarioParams]):
    params_cls = SeqScenarioParams
    data_cls = SeqData
    model_cls = SeqModel


def expected_lengths(num_samples: int, mode: PipelineMode) -> List[int]:
    """The sequence lengths after pre-processing, computed here without the processors (independent reference)."""
    rng = np.random.default_rng(0 if mode == PipelineMode.TRAINING else 1)
    lengths = []
    for _ in range(num_samples):
        n = int(rng.integers(1, 31))
        rng.integers(0, 10, size=n)
        if n < 3:
            continue
        lengths += [n] if n <= 20 else [n // 2, n - n // 2]
    return lengths
