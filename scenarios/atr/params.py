"""Parameters of the ATR scenario: line images and codec (`--data.*`), the CNN + BiLSTM (`--model.graph.*`).

TensorFlow-free (read when flags are parsed). This module defines paiargparse dataclasses: it must not use
`from __future__ import annotations`.
"""

from dataclasses import dataclass, field
from typing import List

from paiargparse import pai_dataclass, pai_meta

from tfaip_core import ConfigError, EvaluatorBaseParams, GraphBaseParams, ModelBaseParams
from tfaip_core.data.list_file_params import ListFileDataParams
from tfaip_core.scenario.list_file_params import ListFileScenarioParams


@pai_dataclass
@dataclass
class AtrDataParams(ListFileDataParams):
    """Line images (`*.png`, with the transcript `*.gt.txt` beside them) and the codec."""

    line_height: int = field(
        default=48,
        metadata=pai_meta(help="Height every line image is scaled to (the width follows the aspect). Defaults to 48."),
    )
    gt_extension: str = field(
        default=".gt.txt",
        metadata=pai_meta(
            help="Transcript file beside each image: the image path without its extension (and without a "
            ".bin/.nrm before it) plus this. Defaults to .gt.txt."
        ),
    )
    images: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="Line images to recognise in PREDICTION mode (tfaip-predict --data.images a.png b.png ...); "
            "training and validation read --train.lists / --val.lists. Defaults to [] (none)."
        ),
    )
    codec: str = field(
        default="",
        metadata=pai_meta(
            help="The characters the model can read, each once, in label order (label 0 is the CTC blank). Empty: "
            "built from the training transcripts when training starts and stored in trainer_params.json, so "
            "every export carries it. Defaults to '' (built)."
        ),
    )

    def validate(self) -> None:
        super().validate()
        if self.line_height < 8:
            raise ConfigError(
                f"--data.line_height must be >= 8 (two 2x2 poolings need some height); got {self.line_height}. "
                "Fix: e.g. --data.line_height 48."
            )
        if not self.gt_extension:
            raise ConfigError("--data.gt_extension must not be empty; got ''. Fix: e.g. --data.gt_extension .gt.txt.")
        doubles = sorted({c for c in self.codec if self.codec.count(c) > 1})
        if doubles:
            raise ConfigError(
                f"--data.codec must name each character once; got {doubles} more than once. Fix: remove the repeats."
            )


@pai_dataclass
@dataclass
class AtrGraphParams(GraphBaseParams):
    """A small CNN (3x3 convs, each followed by 2x2 max pooling) and bidirectional LSTMs, then a softmax per frame."""

    filters: List[int] = field(
        default_factory=lambda: [16, 32],
        metadata=pai_meta(
            help="Filters of each 3x3 conv layer; each is followed by 2x2 max pooling (at most 3 layers, so "
            "a frame is 8 pixels wide at most). Defaults to [16, 32]."
        ),
    )
    lstm: List[int] = field(
        default_factory=lambda: [64],
        metadata=pai_meta(help="Units of each bidirectional LSTM layer (per direction). Defaults to [64]."),
    )
    dropout: float = field(
        default=0.5, metadata=pai_meta(help="Dropout before the output layer while training. Defaults to 0.5.")
    )

    def validate(self) -> None:
        super().validate()
        if not self.filters or len(self.filters) > 3 or min(self.filters) < 1:
            raise ConfigError(
                f"--model.graph.filters must be 1 to 3 positive filter counts; got {self.filters}. Fix: e.g. 32 64."
            )
        if not self.lstm or min(self.lstm) < 1:
            raise ConfigError(f"--model.graph.lstm must be one or more positive sizes; got {self.lstm}. Fix: e.g. 128.")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--model.graph.dropout must be in [0, 1); got {self.dropout}. Fix: e.g. 0.5, or 0.")


@pai_dataclass
@dataclass
class AtrModelParams(ModelBaseParams):
    graph: AtrGraphParams = field(
        default_factory=AtrGraphParams,
        metadata=pai_meta(fix_dc=True, help="The network: CNN + bidirectional LSTM."),
    )


@pai_dataclass
@dataclass
class AtrScenarioParams(ListFileScenarioParams):
    data: AtrDataParams = field(
        default_factory=AtrDataParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The data.")
    )
    model: AtrModelParams = field(
        default_factory=AtrModelParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The model.")
    )
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The evaluator.")
    )
