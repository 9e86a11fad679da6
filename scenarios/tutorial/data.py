"""The tutorial's data: scikit-learn's bundled 8x8 digits by default (no download)."""

from __future__ import annotations

import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from scenarios.tutorial.params import TutorialDataParams
from tfaip_core import (
    DataBase,
    DataGenerator,
    DataPipelineParams,
    ListDataGenerator,
    ListFileGenerator,
    ListsPipelineParams,
    PipelineMode,
    Sample,
)
from tfaip_core.errors import DataError

PIXEL_MAX = {"digits": 16.0, "mnist": 255.0, "fashion_mnist": 255.0}
_IMAGE_SHAPE = {"digits": (8, 8), "mnist": (28, 28), "fashion_mnist": (28, 28)}
_DTYPE = {"digits": tf.float32, "mnist": tf.uint8, "fashion_mnist": tf.uint8}


def load_split(params: TutorialDataParams, mode: PipelineMode) -> Tuple[np.ndarray, np.ndarray]:
    """Images (raw pixel values, as the dataset stores them) and labels of the train or validation split."""
    training = mode == PipelineMode.TRAINING
    if params.dataset == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        order = np.random.default_rng(0).permutation(len(digits.target))  # fixed: the split never changes
        n_val = int(round(len(order) * params.val_fraction))
        idx = order[n_val:] if training else order[:n_val]
        return digits.images[idx].astype(np.float32), digits.target[idx].astype(np.int64)
    import keras

    try:
        loader = getattr(keras.datasets, params.dataset)
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as e:  # no network or a broken cache
        raise DataError(
            f"--data.dataset {params.dataset} could not be loaded ({e}). Fix: use --data.dataset digits."
        ) from e
    return (x_train, y_train.astype(np.int64)) if training else (x_test, y_test.astype(np.int64))


class TutorialData(DataBase[TutorialDataParams]):
    """Input `img` (raw pixels, HxW) and target `gt` (the class index)."""

    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"img": tf.TensorSpec(_IMAGE_SHAPE[self.params.dataset], _DTYPE[self.params.dataset])}

    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"gt": tf.TensorSpec([], tf.int64)}

    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> DataGenerator:
        """The scikit-learn / Keras split of `mode`; the files of a list (`--lav.lists`) or of `--data.files`.

        A LAV list (a `ListsPipelineParams` with lists) names digit files (.npz with `img` and `gt`); in
        PREDICTION mode `--data.files` names the files to predict (the validation split's images without them).
        """
        if isinstance(pipeline, ListsPipelineParams) and pipeline.lists:
            return ListFileGenerator(mode, pipeline, load=self.load_file, flag="--lav.lists")
        if mode == PipelineMode.PREDICTION and self.params.files:
            return ListDataGenerator(mode, pipeline, [self.load_file(path) for path in self.params.files])
        images, labels = load_split(self.params, PipelineMode.EVALUATION if mode == PipelineMode.PREDICTION else mode)
        samples: List[Sample] = [
            Sample(inputs={"img": img}, targets={"gt": label}, meta={"id": f"{self.params.dataset}_{mode.value}_{i}"})
            for i, (img, label) in enumerate(zip(images, labels))
        ]
        return ListDataGenerator(mode, pipeline, samples)

    def load_file(self, path: str) -> Sample:
        """One digit file: an image (grayscale), `.npy` (raw pixels) or `.npz` (`img`, optionally `gt`); id = path.

        Raises:
            DataError: the file cannot be read or its image has another shape than the dataset's.
        """
        gt = None
        try:
            if path.endswith(".npz"):
                with np.load(path) as arrays:
                    image = arrays["img"]
                    gt = arrays["gt"] if "gt" in arrays else None
            elif path.endswith(".npy"):
                image = np.load(path)
            else:
                from PIL import Image

                with Image.open(path) as picture:
                    image = np.asarray(picture.convert("L"))
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"digit file {path} cannot be read ({e}). Fix: pass .png, .npy or .npz files.") from e
        shape = _IMAGE_SHAPE[self.params.dataset]
        if image.shape != shape:
            raise DataError(
                f"digit file {path} holds an image of shape {image.shape}; --data.dataset {self.params.dataset} "
                f"takes {shape}. Fix: pass images of that size."
            )
        image = image.astype(_DTYPE[self.params.dataset].as_numpy_dtype)
        targets = {} if gt is None else {"gt": np.int64(gt)}
        return Sample(inputs={"img": image}, targets=targets, meta={"id": os.path.abspath(path)})
