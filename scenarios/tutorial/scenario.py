"""Tutorial: handwritten-digit classification with an MLP or a CNN.

Runs offline on scikit-learn's bundled 8x8 digits (1797 images; 1438 train / 359 validation,
a fixed split). Train with:

    tfaip-train scenarios.tutorial --trainer.output_dir runs/tutorial

Expected: about 98% validation accuracy (>= 95%; measured 98.05%) after the default 15 epochs, in
about 7 seconds on 2 CPU cores (3 s of training; the rest is TensorFlow start-up and exports).
Other graphs:

    tfaip-train scenarios.tutorial --trainer.output_dir runs/cnn --model.graph CNN --model.graph.filters 8 16

MNIST / Fashion-MNIST (downloaded once through keras.datasets): `--data.dataset mnist`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from scenarios.tutorial.params import TutorialScenarioParams
from tfaip_core import DataPipelineParams, ScenarioBase, TrainerParams

if TYPE_CHECKING:
    from scenarios.tutorial.model import MajorityClassVoter, TutorialModel


class TutorialScenario(ScenarioBase[TutorialScenarioParams]):
    # the parts by name: imported when created, so `tfaip-train scenarios.tutorial --help` needs no TensorFlow
    params_cls = TutorialScenarioParams
    data_cls = "scenarios.tutorial.data:TutorialData"
    model_cls = "scenarios.tutorial.model:TutorialModel"
    evaluator_cls = "scenarios.tutorial.model:TutorialEvaluator"

    @classmethod
    def default_trainer_params(cls) -> TrainerParams:
        params = super().default_trainer_params()
        params.epochs = 15
        params.train.batch_size = 32
        params.val.batch_size = 128
        return params

    def create_model(self) -> TutorialModel:
        from scenarios.tutorial.data import PIXEL_MAX
        from scenarios.tutorial.model import TutorialModel

        return TutorialModel(self.params.model, pixel_max=PIXEL_MAX[self.params.data.dataset])

    def lav_pipelines(self, trainer_params: TrainerParams) -> List[DataPipelineParams]:
        """LAV on the validation split, or on each `--lav.lists` list of digit files (.npz with img and gt)."""
        from tfaip_core.scenario.list_file import lav_list_pipelines

        return lav_list_pipelines(trainer_params)

    def create_voter(self) -> MajorityClassVoter:
        """tfaip-predict with several models: majority vote of the classes."""
        from scenarios.tutorial.model import MajorityClassVoter

        return MajorityClassVoter()
