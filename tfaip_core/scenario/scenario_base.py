"""`ScenarioBase`: ties a scenario's Data, Model and Evaluator together and creates its trainer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Generic, Type, TypeVar

from tfaip_core.data.data_base import DataBase
from tfaip_core.evaluator.evaluator_base import EvaluatorBase
from tfaip_core.model.model_base import ModelBase
from tfaip_core.scenario.params import ScenarioBaseParams

if TYPE_CHECKING:
    from tfaip_core.trainer.params import TrainerParams
    from tfaip_core.trainer.trainer import Trainer

TSP = TypeVar("TSP", bound=ScenarioBaseParams)


class ScenarioBase(Generic[TSP]):
    """A trainable task: which params, data, model and evaluator classes belong together.

    Subclasses set the four class attributes; everything else has working defaults:

        class Scenario(ScenarioBase[TutorialScenarioParams]):
            params_cls = TutorialScenarioParams
            data_cls = TutorialData
            model_cls = TutorialModel
            evaluator_cls = TutorialEvaluator

    Override `default_trainer_params` to change training defaults (epochs, batch size ...).
    """

    params_cls: ClassVar[Type[ScenarioBaseParams]] = ScenarioBaseParams
    data_cls: ClassVar[Type[DataBase]]
    model_cls: ClassVar[Type[ModelBase]]
    evaluator_cls: ClassVar[Type[EvaluatorBase]] = EvaluatorBase

    def __init__(self, params: TSP):
        self.params = params

    @classmethod
    def class_path(cls) -> str:
        """`module:Class`, the name under which the framework finds this scenario again."""
        return f"{cls.__module__}:{cls.__qualname__}"

    @classmethod
    def default_params(cls) -> TSP:
        """The scenario's parameters with their defaults."""
        params = cls.params_cls()
        params.scenario_class = cls.class_path()
        return params  # type: ignore[return-value]

    @classmethod
    def default_trainer_params(cls) -> TrainerParams:
        """The trainer parameters a run of this scenario starts from (before flags)."""
        from tfaip_core.trainer.params import TrainerParams

        return TrainerParams(scenario=cls.default_params())

    def create_data(self) -> DataBase:
        return self.data_cls(self.params.data)

    def create_model(self) -> ModelBase:
        return self.model_cls(self.params.model)

    def create_evaluator(self) -> EvaluatorBase:
        return self.evaluator_cls(self.params.evaluator)

    def create_trainer(self, trainer_params: TrainerParams) -> Trainer:
        from tfaip_core.trainer.trainer import Trainer

        return Trainer(trainer_params, self)
