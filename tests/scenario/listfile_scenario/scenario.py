"""The toy list-file scenario.

Train it with (from the repository root):

    tfaip-train tests.scenario.listfile_scenario --train.lists train.lst --val.lists val.lst --trainer.output_dir DIR
"""

from __future__ import annotations

from tests.scenario.listfile_scenario.data import ToyData
from tests.scenario.listfile_scenario.model import ToyModel
from tests.scenario.listfile_scenario.params import ToyScenarioParams
from tfaip_core import EvaluatorBase
from tfaip_core.scenario.list_file import ListFileScenario


class ToyListFileScenario(ListFileScenario[ToyScenarioParams]):
    params_cls = ToyScenarioParams
    data_cls = ToyData
    model_cls = ToyModel
    evaluator_cls = EvaluatorBase
