"""The tutorial's data: scikit-learn's bundled 8x8 digits by default (no download)."""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from scenarios.tutorial.params import TutorialDataParams
from tfaip_core import DataBase, DataPipelineParams, ListDataGenerator, PipelineMode, Sample
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

    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> ListDataGenerator:
        images, labels = load_split(self.params, mode)
        samples: List[Sample] = [
            Sample(inputs={"img": img}, targets={"gt": label}, meta={"id": f"{self.params.dataset}_{mode.value}_{i}"})
            for i, (img, label) in enumerate(zip(images, labels))
        ]
        return ListDataGenerator(mode, pipeline, samples)
