"""The template's evaluator: metrics computed in Python on each validation sample (after post-processing)."""

from __future__ import annotations

from typing import Dict

from tfaip_core import EvaluatorBase, EvaluatorBaseParams, Sample


class TemplateEvaluator(EvaluatorBase[EvaluatorBaseParams]):
    """Accuracy of the predicted class. TODO: your metric (edit distance, BLEU, F1 ... anything in Python)."""

    def reset_state(self) -> None:
        self.correct = 0
        self.total = 0

    def update_state(self, sample: Sample) -> None:
        # one sample: numpy `targets` and `outputs` without batch dimension or padding, `meta` with its id
        self.correct += int(int(sample.outputs["class"]) == int(sample.targets["y"]))
        self.total += 1

    def result(self) -> Dict[str, float]:
        # logged with the prefix val_ (here val_accuracy, the monitored value)
        return {"accuracy": self.correct / self.total if self.total else 0.0}
