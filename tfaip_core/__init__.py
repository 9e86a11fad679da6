"""tfaip_core: dataclass-parameterised scenario training for TensorFlow 2 / Keras 3.

The public API is re-exported here. Names are resolved lazily, so importing a params class
(`from tfaip_core import DataBaseParams`) does not load TensorFlow.
"""

import importlib as _importlib
import typing as _typing

from tfaip_core.version import __version__ as __version__

_EXPORTS: _typing.Dict[str, str] = {
    # errors
    "TfaipError": "tfaip_core.errors",
    "ConfigError": "tfaip_core.errors",
    "DataError": "tfaip_core.errors",
    "CheckpointError": "tfaip_core.errors",
    "TrainingError": "tfaip_core.errors",
    # data
    "Sample": "tfaip_core.data.sample",
    "PipelineMode": "tfaip_core.data.sample",
    "DataBaseParams": "tfaip_core.data.params",
    "DataPipelineParams": "tfaip_core.data.params",
    "DataBase": "tfaip_core.data.data_base",
    "DataGenerator": "tfaip_core.data.generator",
    "ListDataGenerator": "tfaip_core.data.generator",
    "DataProcessorParams": "tfaip_core.data.processor",
    "MappingDataProcessor": "tfaip_core.data.processor",
    "GeneratingDataProcessor": "tfaip_core.data.processor",
    "ProcessorPipeline": "tfaip_core.data.pipeline",
    "DataPipeline": "tfaip_core.data.data_pipeline",
    "ProcessorPipelineParams": "tfaip_core.data.params",
    # model
    "ModelBaseParams": "tfaip_core.model.params",
    "GraphBaseParams": "tfaip_core.model.params",
    "ModelBase": "tfaip_core.model.model_base",
    "MetricDefinition": "tfaip_core.model.model_base",
    "GraphBase": "tfaip_core.model.graph_base",
    # evaluator
    "EvaluatorBaseParams": "tfaip_core.evaluator.params",
    "EvaluatorBase": "tfaip_core.evaluator.evaluator_base",
    # scenario
    "ScenarioBaseParams": "tfaip_core.scenario.params",
    "ScenarioBase": "tfaip_core.scenario.scenario_base",
    "locate_scenario": "tfaip_core.scenario.locate",
    "ListFileScenario": "tfaip_core.scenario.list_file",
    "ListFileData": "tfaip_core.scenario.list_file",
    "ListFileGenerator": "tfaip_core.data.list_reading",
    "ListsPipelineParams": "tfaip_core.data.list_file_params",
    # LAV, prediction, export
    "LavParams": "tfaip_core.lav.params",
    "PredictorParams": "tfaip_core.predict.params",
    "Predictor": "tfaip_core.predict.predictor",
    "MultiModelPredictor": "tfaip_core.predict.predictor",
    "Voter": "tfaip_core.predict.voter",
    "AverageVoter": "tfaip_core.predict.voter",
    "exported_scenario": "tfaip_core.scenario.exported",
    "ExportParams": "tfaip_core.export.params",
    # trainer
    "TrainerParams": "tfaip_core.trainer.params",
    "Trainer": "tfaip_core.trainer.trainer",
    "Callback": "tfaip_core.trainer.callbacks.base",
    "DeviceParams": "tfaip_core.device.params",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> _typing.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfaip_core' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> _typing.List[str]:
    """The public API only (not the helpers of this module, nor the subpackages imported so far)."""
    return sorted(__all__ + ["__version__"])
