"""Parameters of a scenario: its data, model and evaluator parts."""

from dataclasses import dataclass, field

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.params import DataBaseParams
from tfaip_core.evaluator.params import EvaluatorBaseParams
from tfaip_core.model.params import ModelBaseParams


@pai_dataclass
@dataclass
class ScenarioBaseParams:
    """The parts of a scenario. Subclasses narrow the field types to the scenario's own params.

    The three parts are "flat", so their flags start at the root: `--data.*`, `--model.*`, `--evaluator.*`.
    """

    data: DataBaseParams = field(
        default_factory=DataBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The data parameters.")
    )
    model: ModelBaseParams = field(
        default_factory=ModelBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The model parameters.")
    )
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="The evaluator parameters."),
    )
    scenario_class: str = field(
        default="",
        metadata=pai_meta(help="module:Class of the scenario; filled in by the framework. Defaults to ''."),
    )
