"""Parameters of a list-file scenario: its data part is a `ListFileDataParams` (`--lav.lists`).

TensorFlow-free (read when flags are parsed). This module defines paiargparse dataclasses: it must not use
`from __future__ import annotations`.
"""

from dataclasses import dataclass, field

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.list_file_params import ListFileDataParams
from tfaip_core.evaluator.params import EvaluatorBaseParams
from tfaip_core.model.params import ModelBaseParams
from tfaip_core.scenario.params import ScenarioBaseParams


@pai_dataclass
@dataclass
class ListFileScenarioParams(ScenarioBaseParams):
    """Scenario parameters whose data part is a `ListFileDataParams`; scenarios narrow the field types further."""

    data: ListFileDataParams = field(
        default_factory=ListFileDataParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The data.")
    )
    model: ModelBaseParams = field(
        default_factory=ModelBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The model.")
    )
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The evaluator.")
    )
