"""Template: a toy binary classification (is a weighted sum of 8 random numbers positive?) with a small MLP.

    tfaip-train scenarios.template --trainer.output_dir runs/template

Expected: validation accuracy 0.99 (>= 0.9) after the default 10 epochs; measured 53 s wall time on 2 CPU cores
shared with other jobs (15 s of CPU time; most of the wall time is TensorFlow start-up and the SavedModel exports).

TODO: describe your experiment here: the command, the data, the expected metric and the time it takes.
"""

from __future__ import annotations

from tfaip_core import ScenarioBase, TrainerParams

from .data import TemplateData
from .evaluator import TemplateEvaluator
from .model import TemplateModel
from .params import TemplateScenarioParams


class TemplateScenario(ScenarioBase[TemplateScenarioParams]):
    """Wires the parts together; the framework builds each from its params (`create_data`, `create_model` ...)."""

    params_cls = TemplateScenarioParams
    data_cls = TemplateData
    model_cls = TemplateModel
    evaluator_cls = TemplateEvaluator

    @classmethod
    def default_trainer_params(cls) -> TrainerParams:
        """The trainer settings this scenario starts from; flags override them."""
        params = super().default_trainer_params()
        params.epochs = 10
        params.train.batch_size = 32
        params.val.batch_size = 100
        return params
