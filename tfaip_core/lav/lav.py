"""LAV ("load and validate"): a prediction function over evaluation data, post-processed, evaluated per sample.

The same runner serves LAV during training (the in-memory model's prediction graph, EMA weights if on) and
`tfaip-lav` (an exported model loaded with `tf.saved_model.load`): it only needs the function from a batch of
named inputs to named outputs, which `tfaip_core.model.prediction` defines for both.

Per LAV run and list: reset → for each batch: predict, update the model's metrics whose output the prediction
returns, un-batch (padding stripped, meta with the sample's id), post-process, `evaluator.update_state` each
sample → the metrics and the evaluator's `result()` as one dict of floats.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional

import tensorflow as tf

from tfaip_core.data.data_base import DataBase
from tfaip_core.data.data_pipeline import DataPipeline, unbatch
from tfaip_core.data.params import DataPipelineParams
from tfaip_core.data.sample import PipelineMode
from tfaip_core.errors import ConfigError
from tfaip_core.evaluator.evaluator_base import EvaluatorBase
from tfaip_core.evaluator.summaries import SampleSummaries
from tfaip_core.lav.params import SAME_AS_VALIDATION, LavParams
from tfaip_core.model.model_base import MetricDefinition, ModelBase
from tfaip_core.util.logging import logger

log = logger("lav")
Tensors = Dict[str, tf.Tensor]
PredictFn = Callable[[Tensors], Tensors]


@dataclasses.dataclass
class LavResult:
    """The outcome of one LAV run over one list: `metrics` (model metrics and evaluator results by name)."""

    label: str
    metrics: Dict[str, float]
    samples: int
    seconds: float

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


class LAV:
    """Runs `predict_fn` over evaluation data and reports the model's metrics and the evaluator's results.

    Args:
        data: The scenario's data (pipeline, post-processing).
        model: The scenario's model (metrics, `print_evaluate`, extra TensorBoard outputs).
        evaluator: The scenario's evaluator, reset at the start of every run.
        predict_fn: A batch of named inputs -> named outputs (a prediction graph or a loaded export).
        params: `--lav.*` (batch size, printing).
    """

    def __init__(
        self, data: DataBase, model: ModelBase, evaluator: EvaluatorBase, predict_fn: PredictFn, params: LavParams
    ) -> None:
        self.data = data
        self.model = model
        self.evaluator = evaluator
        self.predict_fn = predict_fn
        self.params = params
        self._metrics: Optional[Dict[str, MetricDefinition]] = None

    def pipeline_params(self, pipeline: DataPipelineParams) -> DataPipelineParams:
        """`pipeline` (the validation pipeline or one for a LAV list) with `--lav.batch_size` applied."""
        pipeline = copy.deepcopy(pipeline)
        if self.params.batch_size != SAME_AS_VALIDATION:
            pipeline.batch_size = self.params.batch_size
            pipeline.bucket_batch_sizes = []
        return pipeline

    def run(
        self,
        pipeline: DataPipelineParams,
        label: str = "l0",
        print_fn: Optional[Callable[[str], None]] = None,
        summaries: Optional[SampleSummaries] = None,
    ) -> LavResult:
        """One pass over the evaluation data of `pipeline` (with `--lav.batch_size` applied).

        `print_fn` receives every sample through `model.print_evaluate` when `--lav.print_samples` is on;
        `summaries` (if given) keeps the samples the model writes to TensorBoard (the caller writes them).

        Raises:
            ConfigError: an evaluator result has the name of a model metric.
        """
        start = time.perf_counter()
        self.evaluator.reset_state()
        if summaries is not None:
            summaries.reset()
        metrics: Optional[Dict[str, MetricDefinition]] = None
        count = 0
        with DataPipeline(self.data, PipelineMode.EVALUATION, self.pipeline_params(pipeline), with_meta=True) as dp:
            for inputs, targets, meta in dp.dataset():
                outputs = self.predict_fn(inputs)
                if metrics is None:
                    metrics = self._usable_metrics(targets, outputs)
                for definition in metrics.values():
                    definition.metric.update_state(targets[definition.target], outputs[definition.output])
                samples = self.data.post_process(unbatch(inputs, targets, outputs, meta))
                for sample in samples:
                    self.evaluator.update_state(sample)
                    if print_fn is not None and self.params.print_samples:
                        print_fn(f"{label} {sample.id}:")
                        self.model.print_evaluate(sample, print_fn)
                if summaries is not None:
                    summaries.add(samples)
                count += len(samples)
        results = {name: float(d.metric.result()) for name, d in (metrics or {}).items()}
        for name, value in self.evaluator.result().items():
            if name in results:
                raise ConfigError(
                    f"The evaluator's result {name!r} has the name of a metric of the model; one would silently "
                    f"replace the other in LAV. Fix: rename it in {type(self.evaluator).__name__}.result()."
                )
            results[name] = float(value)
        return LavResult(label, results, count, time.perf_counter() - start)

    def _usable_metrics(self, targets: Tensors, outputs: Tensors) -> Dict[str, MetricDefinition]:
        """The model's metrics (fresh, reset) whose target and output this data and prediction provide."""
        if self._metrics is None:
            self._metrics = self.model.metrics()
        usable = {}
        for name, definition in self._metrics.items():
            if definition.target in targets and definition.output in outputs:
                definition.metric.reset_state()
                usable[name] = definition
            else:
                log.debug(
                    "LAV leaves out metric %s: it reads target %r and output %r; the prediction returns %s",
                    name,
                    definition.target,
                    definition.output,
                    sorted(outputs),
                )
        return usable


def format_table(results: List[LavResult]) -> str:
    """The results as a text table: one row per metric, one column per list."""
    names = sorted({name for result in results for name in result.metrics})
    header = ["metric"] + [f"{r.label} ({r.samples} samples)" for r in results]
    rows = [[name] + [_cell(r.metrics.get(name)) for r in results] for name in names]
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header] + rows]
    return "\n".join(lines)


def _cell(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.6g}"
