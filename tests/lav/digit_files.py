"""Digit files of the tutorial's validation split, for LAV lists (.npz with img and gt) and prediction (.png)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from scenarios.tutorial.data import load_split
from scenarios.tutorial.params import TutorialDataParams
from tfaip_core import PipelineMode


def validation_digits() -> Tuple[np.ndarray, np.ndarray]:
    """Images (float32 raw pixels 0..16) and labels of the tutorial's validation split."""
    return load_split(TutorialDataParams(), PipelineMode.EVALUATION)


def write_npz_list(directory: Path, name: str, indices: range) -> Tuple[Path, List[Path]]:
    """A list file naming one .npz (img, gt) per validation digit in `indices`; (list file, the files)."""
    images, labels = validation_digits()
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for i in indices:
        path = directory / f"{name}_{i}.npz"
        np.savez(path, img=images[i], gt=labels[i])
        files.append(path)
    list_file = directory / f"{name}.lst"
    list_file.write_text("".join(f"{p.name}\n" for p in files), encoding="utf-8")
    return list_file, files


def write_png_files(directory: Path, indices: range) -> List[Path]:
    """One grayscale PNG per validation digit in `indices` (raw pixel values 0..16, exact in uint8)."""
    from PIL import Image

    images, _ = validation_digits()
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for i in indices:
        path = directory / f"digit_{i}.png"
        Image.fromarray(images[i].astype(np.uint8)).save(path)
        files.append(path)
    return files


def plain_predictions(model_dir: Path, images: np.ndarray) -> dict:
    """Outputs of the export's serving_default signature, loaded with plain TensorFlow, as numpy."""
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    return {k: v.numpy() for k, v in serve(img=tf.constant(images, tf.float32)).items()}
