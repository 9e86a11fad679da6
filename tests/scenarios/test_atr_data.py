"""ATR data: transcript paths, image loading, the codec a run builds, bucketing by width, the real UW3 lines."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scenarios.atr.codec import Codec
from scenarios.atr.data import AtrData, gt_path, load_line_image
from scenarios.atr.params import AtrDataParams
from scenarios.atr.scenario import AtrScenario
from scenarios.atr.synthetic import TEXTS, write_lines
from tests.conftest import SHARED_DATA
from tfaip_core import DataPipeline, PipelineMode
from tfaip_core.data.list_file_params import ListsPipelineParams
from tfaip_core.errors import DataError
from tfaip_core.scripts.cli import parse_params

UW3 = SHARED_DATA / "uw3_50lines"


@pytest.mark.parametrize(
    "image, expected",
    [
        ("/d/010001.bin.png", "/d/010001.gt.txt"),
        ("/d/010001.nrm.png", "/d/010001.gt.txt"),
        ("/d/line.png", "/d/line.gt.txt"),
        ("/d/a.b.JPG", "/d/a.b.gt.txt"),  # only .bin / .nrm are image variants
        ("/d/scan.tif", "/d/scan.gt.txt"),
    ],
)
def test_gt_path(image: str, expected: str) -> None:
    assert gt_path(image) == expected


def test_load_line_image_scales_to_height_and_makes_ink_bright(tmp_path: Path) -> None:
    pixels = np.full((20, 60), 255, np.uint8)
    pixels[:, 30:] = 0  # right half black ink
    Image.fromarray(pixels).save(tmp_path / "l.png")
    image = load_line_image(str(tmp_path / "l.png"), line_height=40)
    assert image.dtype == np.uint8 and image.shape == (120, 40)  # [width, height], aspect kept
    assert (image[:55] == 0).all() and (image[65:] == 255).all()


def _trainer_params(list_file: str, *flags: str):
    return parse_params(
        "tfaip-train",
        ["--train.lists", list_file, "--val.lists", list_file, "--trainer.output_dir", "unused", *flags],
        AtrScenario.default_trainer_params(),
    )


def test_run_builds_the_codec_from_training_transcripts_or_keeps_the_given_one(tmp_path: Path) -> None:
    list_file = write_lines(str(tmp_path / "lines"))
    params = _trainer_params(list_file)
    assert params.scenario.data.codec == ""
    AtrScenario(params.scenario).create_trainer(params)
    assert params.scenario.data.codec == Codec.from_texts(TEXTS).chars  # stored in trainer_params.json
    given = _trainer_params(list_file, "--data.codec", "zyx abcdefghijklmnopqrstuvw1234567")
    AtrScenario(given.scenario).create_trainer(given)
    assert given.scenario.data.codec == "zyx abcdefghijklmnopqrstuvw1234567"


def test_a_line_without_transcript_is_an_error_before_training(tmp_path: Path) -> None:
    list_file = write_lines(str(tmp_path / "lines"))
    os.remove(tmp_path / "lines" / "0002.gt.txt")
    params = _trainer_params(list_file)
    with pytest.raises(DataError, match=r"--train.lists: 1 line image\(s\) have no transcript \(.*0002.gt.txt\)"):
        AtrScenario(params.scenario).create_trainer(params)


def test_samples_and_bucketing_by_width(tmp_path: Path) -> None:
    texts = ["a", "bb", "a much longer line of text", "ccc", "another rather long line", "dd", "x y z w v u"]
    list_file = write_lines(str(tmp_path / "lines"), texts)
    data = AtrData(AtrDataParams(codec=Codec.from_texts(texts).chars))
    pipeline = ListsPipelineParams(lists=[list_file], batch_size=2, bucket_boundaries=[150])
    seen = []
    with DataPipeline(data, PipelineMode.EVALUATION, pipeline, with_meta=True) as p:
        for inputs, targets, _meta in p.dataset():
            lens = inputs["img_len"].numpy()
            assert len({w < 150 for w in lens}) == 1, f"a batch mixes buckets: {lens}"
            assert inputs["img"].shape[0] == len(lens) and inputs["img"].shape[2] == 48
            seen += [(int(w), int(n)) for w, n in zip(lens, targets["gt_len"].numpy())]
    assert sorted(n for _, n in seen) == sorted(len(t) for t in texts)
    assert {w < 150 for w, _ in seen} == {True, False}  # both buckets were used
    sample = data.load_sample(str(tmp_path / "lines" / "0002.bin.png"))
    assert sample.meta["gt"] == texts[2]
    assert data.codec.decode(sample.targets["gt"]) == texts[2]
    assert sample.inputs["img_len"] == sample.inputs["img"].shape[0] == max(seen)[0]


@pytest.mark.skipif(not UW3.is_dir(), reason=f"{UW3} is absent")
def test_uw3_lines_load(tmp_path: Path) -> None:
    images = sorted(str(p) for p in (UW3 / "train").glob("*.bin.png"))
    assert len(images) == 50
    texts = [Path(gt_path(p)).read_text(encoding="utf-8").rstrip("\n") for p in images]
    data = AtrData(AtrDataParams(codec=Codec.from_texts(texts).chars))
    for path, text in zip(images[:10], texts):
        sample = data.load_sample(path)
        assert sample.inputs["img"].shape[1] == 48 and sample.inputs["img"].dtype == np.uint8
        assert data.codec.decode(sample.targets["gt"]) == text == sample.meta["gt"]
