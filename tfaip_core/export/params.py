"""Parameters of the exports written at the end of training (`--export.*`), and the resource-field marker.

TensorFlow-free: the command line and a run directory's params are read without it.
"""

from dataclasses import dataclass, field
from typing import Any, Dict

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError

TFLITE_MODES = ("none", "float32", "dynamic", "int8")
#: Key in a params field's metadata marking a file the model needs at prediction time (see `resource_meta`).
RESOURCE = "tfaip_resource"


def resource_meta(**kwargs: Any) -> Dict[str, Any]:
    """`pai_meta(**kwargs)` for a params field holding a file or folder path the export must carry.

    The export copies the file to `resources/` inside the model directory and stores the path relative to
    it in the exported `trainer_params.json`; `tfaip_core.export.resources.resolve_resources` finds it again.

    Example:
        codec_file: str = field(default="", metadata=resource_meta(help="The codec (one character a line)."))
    """
    return {**pai_meta(**kwargs), RESOURCE: True}


@pai_dataclass
@dataclass
class ExportParams:
    """What the final export (`OUTPUT_DIR/export`) holds besides the serving SavedModel, and the archive."""

    trainable: bool = field(
        default=False,
        metadata=pai_meta(
            help="Also write a trainable SavedModel to OUTPUT_DIR/export/trainable (signatures train, "
            "serving_default, save, restore) with a model.json descriptor, for on-device training. Defaults to False."
        ),
    )
    tflite: str = field(
        default="none",
        metadata=pai_meta(
            choices=list(TFLITE_MODES),
            help="Also write OUTPUT_DIR/export/model.tflite: float32, dynamic (int8 weights) or int8 (int8 weights, "
            "activations, inputs and outputs, calibrated on validation samples); none: no TFLite file. "
            "Defaults to none.",
        ),
    )
    representative_samples: int = field(
        default=200,
        metadata=pai_meta(
            help="Validation samples that calibrate the int8 quantisation (--export.tflite int8). Defaults to 200."
        ),
    )
    archive: bool = field(
        default=False,
        metadata=pai_meta(
            help="Pack the final export (SavedModel, model.tflite, trainable/), trainer_params.json, metrics.jsonl "
            "and train.log into OUTPUT_DIR/export.zip. Defaults to False."
        ),
    )

    def validate(self) -> None:
        """Raise `ConfigError` naming the first field that cannot work."""
        if self.tflite not in TFLITE_MODES:
            raise ConfigError(
                f"--export.tflite must be one of {', '.join(TFLITE_MODES)}; got {self.tflite!r}. "
                "Fix: e.g. --export.tflite int8."
            )
        if self.representative_samples < 1:
            raise ConfigError(
                f"--export.representative_samples must be >= 1; got {self.representative_samples}. "
                "Fix: e.g. --export.representative_samples 200."
            )

    @property
    def any(self) -> bool:
        """Whether anything beyond the serving SavedModel is asked for."""
        return self.trainable or self.tflite != "none" or self.archive
