"""`ScenarioBase`: ties a scenario's Data, Model and Evaluator together and creates its trainer."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, Generic, List, Sequence, Type, TypeVar, Union

from tfaip_core.data.params import DataPipelineParams
from tfaip_core.errors import ConfigError
from tfaip_core.evaluator.evaluator_base import EvaluatorBase
from tfaip_core.lav.params import LavParams
from tfaip_core.predict.params import PredictorParams
from tfaip_core.scenario.params import ScenarioBaseParams

if TYPE_CHECKING:  # TensorFlow-heavy: imported where used, so that `SCENARIO --help` does not load TensorFlow
    from tfaip_core.data.data_base import DataBase
    from tfaip_core.lav.lav import LAV, PredictFn
    from tfaip_core.model.model_base import ModelBase
    from tfaip_core.predict.predictor import MultiModelPredictor, Predictor
    from tfaip_core.predict.voter import Voter
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

    `data_cls`, `model_cls` and `evaluator_cls` may also be named as `"module:Class"` strings, imported when
    the part is created: a scenario module that imports only its params then answers `--help` without
    loading TensorFlow (the tutorial does this).
    """

    params_cls: ClassVar[Type[ScenarioBaseParams]] = ScenarioBaseParams
    data_cls: ClassVar[Union[Type[DataBase], str]]
    model_cls: ClassVar[Union[Type[ModelBase], str]]
    evaluator_cls: ClassVar[Union[Type[EvaluatorBase], str]] = EvaluatorBase

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

    @classmethod
    def part_class(cls, name: str) -> Any:
        """The class of the part `name` ("data_cls", "model_cls", "evaluator_cls"), imported if given as a string."""
        value = getattr(cls, name)
        if not isinstance(value, str):
            return value
        module, _, qualname = value.partition(":")
        if not module or not qualname:
            raise ConfigError(
                f"{cls.__qualname__}.{name} = {value!r} is not a class name. Fix: name it as 'package.module:Class'."
            )
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part, None)
            if found is None:
                raise ConfigError(
                    f"{cls.__qualname__}.{name} = {value!r}: the module {module} has no {qualname}. "
                    "Fix: name an existing class as 'package.module:Class'."
                )
        return found

    def create_data(self) -> DataBase:
        return self.part_class("data_cls")(self.params.data)

    def create_model(self) -> ModelBase:
        return self.part_class("model_cls")(self.params.model)

    def create_evaluator(self) -> EvaluatorBase:
        return self.part_class("evaluator_cls")(self.params.evaluator)

    def create_trainer(self, trainer_params: TrainerParams) -> Trainer:
        from tfaip_core.trainer.trainer import Trainer

        return Trainer(trainer_params, self)

    # ------------------------------------------------------------------ LAV and prediction
    def lav_pipelines(self, trainer_params: TrainerParams) -> List[DataPipelineParams]:
        """The evaluation pipeline of each LAV list (`lav_l0`, `lav_l1` ...): by default the validation data.

        Scenarios that read list files (`ListFileScenario`, the tutorial) override it to give one pipeline per
        `--lav.lists` entry.

        Raises:
            ConfigError: `--lav.lists` is set, but this scenario reads no list files.
        """
        if trainer_params.lav.lists:
            raise ConfigError(
                f"--lav.lists: the scenario {type(self).__name__} reads no list files, so the lists would be ignored; "
                f"got {list(trainer_params.lav.lists)}. Fix: drop --lav.lists (LAV then runs on the validation "
                "data, --val.*)."
            )
        return [trainer_params.val]

    def create_lav(self, predict_fn: PredictFn, params: LavParams) -> LAV:
        """A LAV runner of this scenario's data, model and evaluator around `predict_fn` (batch -> outputs)."""
        from tfaip_core.lav.lav import LAV

        return LAV(self.create_data(), self.create_model(), self.create_evaluator(), predict_fn, params)

    def create_voter(self) -> Voter:
        """How a `MultiModelPredictor` combines several models' predictions. Defaults to `AverageVoter`."""
        from tfaip_core.predict.voter import AverageVoter

        return AverageVoter()

    def create_predictor(self, model_dir: str, params: PredictorParams) -> Predictor:
        """A `Predictor` of the export (or `.zip` archive) `model_dir` of this scenario.

        Example (`tfaip_core.scenario.exported` rebuilds the scenario from the export):
            with exported_scenario("run/best") as exported:
                with exported.scenario().create_predictor(exported.directory, PredictorParams()) as predictor:
                    samples = list(predictor.predict())
        """
        from tfaip_core.predict.predictor import Predictor

        return Predictor(model_dir, self.create_data(), params)

    def create_multi_predictor(self, model_dirs: Sequence[str], params: PredictorParams) -> MultiModelPredictor:
        """A `MultiModelPredictor` of several exports of this scenario, combined by `create_voter()`."""
        from tfaip_core.predict.predictor import MultiModelPredictor

        return MultiModelPredictor(model_dirs, self.create_data(), params, self.create_voter())
