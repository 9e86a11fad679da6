"""The toy data: each listed file holds `LABEL V1 ... VDIM` on one line."""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from tests.scenario.listfile_scenario.params import ToyDataParams
from tfaip_core import Sample
from tfaip_core.errors import DataError
from tfaip_core.scenario.list_file import ListFileData


def write_sample(path: str, label: int, values: Sequence[float]) -> None:
    """Write one sample file in the toy format."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(" ".join([str(int(label))] + [f"{v:.6g}" for v in values]) + "\n")


class ToyData(ListFileData[ToyDataParams]):
    """Input `x` (a float vector of `--data.dim`), target `label` (the class index)."""

    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"x": tf.TensorSpec([self.params.dim], tf.float32)}

    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"label": tf.TensorSpec([], tf.int64)}

    def load_sample(self, path: str) -> Sample:
        with open(path, encoding="utf-8") as f:
            tokens: List[str] = f.read().split()
        if len(tokens) != self.params.dim + 1:
            raise DataError(f"expected a label and {self.params.dim} values; got {len(tokens)} tokens")
        values = np.asarray([float(t) for t in tokens[1:]], dtype=np.float32)
        return Sample(inputs={"x": values}, targets={"label": int(tokens[0])})
