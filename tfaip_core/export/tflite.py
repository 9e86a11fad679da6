"""TFLite / LiteRT: `model.tflite` from the serving SavedModel, float32, dynamic-range or full int8.

The file holds every serving signature (`serving_default` and the model's named export graphs). `int8`
quantises weights and activations, calibrated on a representative dataset drawn from the validation pipeline,
and makes float inputs and outputs int8 too (what a microcontroller runs); run it with the LiteRT interpreter
(`ai_edge_litert.interpreter.Interpreter`, the `litert` extra).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfaip_core.data.data_base import DataBase
from tfaip_core.data.data_pipeline import DataPipeline
from tfaip_core.data.params import DataPipelineParams
from tfaip_core.data.sample import PipelineMode
from tfaip_core.errors import ConfigError, DataError

TFLITE_FILE = "model.tflite"
Inputs = Dict[str, np.ndarray]


def convert_tflite(
    saved_model_dir: str, signature_keys: Sequence[str], mode: str, representative: Sequence[Inputs] = ()
) -> bytes:
    """The `.tflite` flatbuffer of the signatures `signature_keys` of the SavedModel in `saved_model_dir`.

    Args:
        saved_model_dir: A serving SavedModel (`write_saved_model`).
        signature_keys: The signatures to convert (each keeps its name in the file).
        mode: `float32` (no quantisation), `dynamic` (int8 weights, float activations) or `int8` (int8 weights,
            activations, float inputs and outputs; needs `representative`).
        representative: Calibration inputs for `int8`, one sample each (a batch of 1) by input name.

    Raises:
        ConfigError: an unknown mode, or int8 without representative samples.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=list(signature_keys))
    if mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if not representative:
            raise ConfigError(
                "--export.tflite int8 must calibrate on representative samples; got none (the validation data is "
                "empty). Fix: give the run validation data, or use --export.tflite dynamic."
            )
        samples = list(representative)

        def dataset() -> Iterator[Tuple[str, Inputs]]:
            for sample in samples:
                for key in signature_keys:
                    yield key, sample

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif mode != "float32":
        raise ConfigError(f"TFLite mode must be float32, dynamic or int8; got {mode!r}. Fix: choose one of them.")
    return converter.convert()


def representative_inputs(data: DataBase, pipeline: DataPipelineParams, count: int) -> List[Inputs]:
    """The inputs of the first `count` samples of `data`'s validation pipeline, each a batch of one.

    Raises:
        DataError: the validation pipeline yields no sample.
    """
    params = dataclasses.replace(pipeline, limit=count if pipeline.limit == -1 else min(pipeline.limit, count))
    samples: List[Inputs] = []
    with DataPipeline(data, PipelineMode.EVALUATION, params, with_targets=False) as source:
        for inputs, _ in source.dataset():
            rows = int(tf.shape(tf.nest.flatten(inputs)[0])[0])
            for i in range(rows):
                samples.append({k: v[i : i + 1].numpy() for k, v in inputs.items()})
                if len(samples) == count:
                    return samples
    if not samples:
        raise DataError("the validation data yields no sample to calibrate --export.tflite int8 on. Fix: give it data.")
    return samples
