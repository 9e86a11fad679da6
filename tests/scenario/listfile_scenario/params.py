"""Parameters of the toy list-file scenario."""

from dataclasses import dataclass, field

from paiargparse import pai_dataclass, pai_meta

from tfaip_core import EvaluatorBaseParams, ModelBaseParams
from tfaip_core.scenario.list_file import ListFileDataParams, ListFileScenarioParams


@pai_dataclass
@dataclass
class ToyDataParams(ListFileDataParams):
    """The sample files: `LABEL V1 ... VDIM` on one line."""

    dim: int = field(default=4, metadata=pai_meta(help="Length of each sample's vector. Defaults to 4."))


@pai_dataclass
@dataclass
class ToyModelParams(ModelBaseParams):
    """One dense layer from the vector to the class logits."""

    num_classes: int = field(default=2, metadata=pai_meta(help="Number of classes. Defaults to 2."))


@pai_dataclass
@dataclass
class ToyScenarioParams(ListFileScenarioParams):
    """The toy scenario's parts."""

    data: ToyDataParams = field(
        default_factory=ToyDataParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The data.")
    )
    model: ToyModelParams = field(
        default_factory=ToyModelParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The model.")
    )
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The evaluator.")
    )
