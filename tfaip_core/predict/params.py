"""`PredictorParams` (`--predict.*` of `tfaip-predict`): how a Predictor batches and feeds its inputs.

TensorFlow-free (read when flags are parsed). This module defines paiargparse dataclasses: it must not use
`from __future__ import annotations`.
"""

from dataclasses import dataclass, field

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.params import DataPipelineParams


@pai_dataclass
@dataclass
class PredictorParams:
    """Settings of a `Predictor` / `MultiModelPredictor` and of `tfaip-predict`."""

    batch_size: int = field(default=16, metadata=pai_meta(help="Samples per batch. Defaults to 16."))
    num_processes: int = field(
        default=1,
        metadata=pai_meta(
            help="Worker processes for the scenario's pre-processing (1: all in this process, no "
            "multiprocessing). Defaults to 1."
        ),
    )
    limit: int = field(
        default=-1, metadata=pai_meta(help="Predict only the first N samples (-1: all). Defaults to -1.")
    )
    prefetch: int = field(
        default=-1, metadata=pai_meta(help="Batches to prefetch (-1: tf.data AUTOTUNE, 0: off). Defaults to -1.")
    )
    output_file: str = field(
        default="",
        metadata=pai_meta(
            help="tfaip-predict: write the predictions as JSON lines to this file (empty: standard output). "
            "Defaults to ''."
        ),
    )

    def pipeline(self) -> DataPipelineParams:
        """These settings as the `DataPipelineParams` of the prediction pipeline."""
        return DataPipelineParams(
            batch_size=self.batch_size, num_processes=self.num_processes, limit=self.limit, prefetch=self.prefetch
        )

    def validate(self) -> None:
        """Raise `ConfigError` for a value that cannot work (the pipeline's own checks, as `--predict.*`)."""
        self.pipeline().validate("--predict")
