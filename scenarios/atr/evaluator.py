"""Character error rate and line accuracy of recognised text lines, and the edit distance they rest on."""

from __future__ import annotations

from typing import Dict

from tfaip_core import EvaluatorBase, EvaluatorBaseParams, Sample
from tfaip_core.errors import DataError


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn `a` into `b`."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class AtrEvaluator(EvaluatorBase[EvaluatorBaseParams]):
    """`cer`: edit distance summed over lines / ground-truth characters summed over lines (micro average);
    `line_acc`: share of lines recognised exactly.

    Reads the transcript from `sample.meta["gt"]` (the text as written, including characters the codec cannot
    encode: they count as errors) and the recognised text from `sample.outputs["text"]` (post-processing).
    """

    def reset_state(self) -> None:
        self.errors = 0
        self.chars = 0
        self.lines = 0
        self.correct = 0

    def update_state(self, sample: Sample) -> None:
        gt = (sample.meta or {}).get("gt")
        if gt is None or not isinstance(sample.outputs, dict) or "text" not in sample.outputs:
            raise DataError(
                f"AtrEvaluator needs the transcript in sample.meta['gt'] and the recognised text in "
                f"sample.outputs['text'] (sample {sample.id}). Fix: evaluate through AtrData, whose samples and "
                "post-processing provide both."
            )
        distance = edit_distance(gt, sample.outputs["text"])
        self.errors += distance
        self.chars += len(gt)
        self.lines += 1
        self.correct += int(distance == 0)

    def result(self) -> Dict[str, float]:
        if not self.lines:
            return {}
        return {"cer": self.errors / max(self.chars, 1), "line_acc": self.correct / self.lines}
