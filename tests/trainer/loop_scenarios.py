"""Tutorial variants with deliberate mistakes or probes, for the training-loop tests."""

from __future__ import annotations

from typing import Dict, Set, Tuple

from scenarios.tutorial.model import TutorialEvaluator, TutorialModel
from scenarios.tutorial.scenario import TutorialScenario
from tfaip_core import Sample


class MistypedMonitorModel(TutorialModel):
    def monitor(self) -> Tuple[str, str]:
        return "val_acuracy", "max"  # sic: no validated epoch produces it


class MistypedMonitorScenario(TutorialScenario):
    def create_model(self) -> TutorialModel:
        return MistypedMonitorModel(self.params.model)


class CollidingEvaluator(TutorialEvaluator):
    def result(self) -> Dict[str, float]:
        return {"acc": 0.5}  # the model already has a metric "acc"


class CollidingEvaluatorScenario(TutorialScenario):
    evaluator_cls = CollidingEvaluator


class MetaEvaluator(TutorialEvaluator):
    """Counts the distinct sample ids it is given and whether each looks like the data's own ids."""

    def reset_state(self) -> None:
        super().reset_state()
        self.ids: Set[str] = set()
        self.foreign = 0

    def update_state(self, sample: Sample) -> None:
        super().update_state(sample)
        self.ids.add(str(sample.meta.get("id")))
        self.foreign += int(not str(sample.meta.get("id", "")).startswith("digits_evaluation_"))

    def result(self) -> Dict[str, float]:
        return {**super().result(), "distinct_ids": float(len(self.ids)), "foreign_ids": float(self.foreign)}


class MetaScenario(TutorialScenario):
    evaluator_cls = MetaEvaluator
