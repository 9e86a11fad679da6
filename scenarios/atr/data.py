"""The ATR data: line images scaled to a fixed height, their transcripts as CTC labels, and labels -> text.

A sample's inputs are `img` (uint8, [width, line_height], ink bright on a dark background: the image is
stored width-first so that the width is the padded, bucketed dimension) and `img_len` (the width); its
targets are `gt` (the labels of the transcript) and `gt_len`; its meta carries the transcript as text
(`gt`), which the evaluator compares with the recognised text.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from scenarios.atr.codec import Codec
from scenarios.atr.params import AtrDataParams
from tfaip_core import DataGenerator, DataPipelineParams, ListDataGenerator, PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError
from tfaip_core.scenario.list_file import ListFileData
from tfaip_core.util.logging import logger

log = logger("data")
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_VARIANTS = (".bin", ".nrm")  # ocropus-style binarised / normalised images of the same line


def gt_path(image_path: str, gt_extension: str = ".gt.txt") -> str:
    """The transcript file of a line image: `x.bin.png` -> `x.gt.txt` (also `x.png`, `x.nrm.png` ...)."""
    base, ext = os.path.splitext(image_path)
    if ext.lower() in _IMAGE_EXTENSIONS:
        stem, variant = os.path.splitext(base)
        if variant.lower() in _VARIANTS:
            base = stem
    return base + gt_extension


def read_transcript(path: str) -> str:
    """The first line of a transcript file, without its line break (UTF-8)."""
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().splitlines()
    return lines[0] if lines else ""


def load_line_image(path: str, line_height: int) -> np.ndarray:
    """The line image as uint8 [width, line_height], ink bright (255 - grey value), scaled to `line_height`."""
    from PIL import Image

    with Image.open(path) as image:
        grey = image.convert("L")
        width = max(1, int(round(grey.width * line_height / grey.height)))
        scaled = grey.resize((width, line_height), Image.Resampling.BILINEAR)
        ink = 255 - np.asarray(scaled, dtype=np.uint8)
    return np.ascontiguousarray(ink.T)


def build_codec(image_paths: Sequence[str], gt_extension: str = ".gt.txt") -> Codec:
    """The codec of the transcripts of `image_paths` (every character that occurs, sorted)."""
    return Codec.from_texts(read_transcript(gt_path(p, gt_extension)) for p in image_paths)


def check_transcripts(image_paths: Iterable[str], gt_extension: str, flag: str) -> None:
    """Raise `DataError` naming the images (at most 5) whose transcript file does not exist."""
    missing = [p for p in image_paths if not os.path.isfile(gt_path(p, gt_extension))]
    if missing:
        shown = ", ".join(gt_path(p, gt_extension) for p in missing[:5])
        raise DataError(
            f"{flag}: {len(missing)} line image(s) have no transcript ({shown}). Fix: write the transcripts, drop "
            "those lines from the list, or set --data.gt_extension."
        )


class AtrData(ListFileData[AtrDataParams]):
    """Line images from list files (`--train.lists`, `--val.lists`) with their transcripts (see the module)."""

    def __init__(self, params: AtrDataParams):
        super().__init__(params)
        self._codec: Optional[Codec] = None

    @property
    def codec(self) -> Codec:
        """The codec of `--data.codec` (filled from the training transcripts when training starts)."""
        if not self.params.codec:
            raise ConfigError(
                "--data.codec is empty: the ATR data needs a codec. Fix: train with AtrScenario (it builds the "
                "codec from the training transcripts), or pass --data.codec with the characters to read."
            )
        if self._codec is None or self._codec.chars != self.params.codec:
            self._codec = Codec(self.params.codec)
        return self._codec

    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        return {
            "img": tf.TensorSpec([None, self.params.line_height], tf.uint8),
            "img_len": tf.TensorSpec([], tf.int32),
        }

    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"gt": tf.TensorSpec([None], tf.int32), "gt_len": tf.TensorSpec([], tf.int32)}

    def generator(self, mode: PipelineMode, pipeline: DataPipelineParams, seed: Optional[int]) -> DataGenerator:
        """PREDICTION: the images of `--data.images` (no transcripts needed); else the list files (`ListFileData`)."""
        if PipelineMode(mode) != PipelineMode.PREDICTION:
            return super().generator(mode, pipeline, seed)
        if not self.params.images:
            raise ConfigError(
                "--data.images names no line images to recognise. Fix: e.g. tfaip-predict --export_dir DIR "
                "--data.images line1.png line2.png."
            )
        missing = [p for p in self.params.images if not os.path.isfile(p)]
        if missing:
            raise DataError(f"--data.images: {len(missing)} image(s) do not exist: {', '.join(missing[:5])}.")
        samples = [self.load_image(path).new_meta({"id": path}) for path in self.params.images]
        return ListDataGenerator(mode, pipeline, samples)

    def load_image(self, path: str) -> Sample:
        """The line image at `path` as a sample without targets."""
        image = load_line_image(path, self.params.line_height)
        return Sample(inputs={"img": image, "img_len": np.int32(image.shape[0])}, targets={})

    def element_length(self, inputs: Dict[str, tf.Tensor], targets: Dict[str, tf.Tensor]) -> tf.Tensor:
        """Bucketing (`--train.bucket_boundaries`) by image width in pixels (at `--data.line_height`)."""
        return inputs["img_len"]

    def load_sample(self, path: str) -> Sample:
        """The image at `path` and, if its transcript file exists, the transcript (targets and `meta["gt"]`)."""
        sample = self.load_image(path)
        transcript_file = gt_path(path, self.params.gt_extension)
        if not os.path.isfile(transcript_file):
            return sample  # no transcript: fine for prediction, refused for training (AtrScenario.create_trainer)
        text = read_transcript(transcript_file)
        unknown = self.codec.unknown(text)
        if unknown:
            log.warning("%s: characters outside the codec are left out of the CTC target: %s", path, unknown)
        labels = np.asarray(self.codec.encode(text), dtype=np.int32)
        return Sample(inputs=sample.inputs, targets={"gt": labels, "gt_len": np.int32(len(labels))}, meta={"gt": text})

    def post_process(self, samples: Iterable[Sample], mode: PipelineMode = PipelineMode.EVALUATION) -> List[Sample]:
        """`--data.post_proc`, then the predicted labels decoded to `outputs["text"]` (what evaluator and user see)."""
        return [self.decode(sample) for sample in super().post_process(samples, mode)]

    def decode(self, sample: Sample) -> Sample:
        """The sample with `outputs["text"]`: its `labels` (the first `labels_len` of them) as text."""
        outputs = dict(sample.outputs)
        labels = np.asarray(outputs["labels"])[: int(outputs["labels_len"])]
        outputs["text"] = self.codec.decode(labels)
        return sample.new_outputs(outputs)
