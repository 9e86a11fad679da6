"""ATR end to end in this process: a tiny run on rendered lines trains, validates (CER), and exports the decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from scenarios.atr.codec import Codec
from scenarios.atr.data import AtrData
from scenarios.atr.params import AtrDataParams
from scenarios.atr.synthetic import TEXTS, write_lines
from tests.conftest import cli, read_metrics, train_in_process

TINY = ("--model.graph.filters", "4", "--model.graph.lstm", "8", "--trainer.epochs", "1", "--train.batch_size", "4")


def test_tiny_run_trains_validates_and_exports_a_decoding_model(tmp_path: Path) -> None:
    list_file = write_lines(str(tmp_path / "lines"))
    out = tmp_path / "run"
    result = train_in_process(
        out,
        "--train.lists", list_file, "--val.lists", list_file, "--trainer.export_best", "false", *TINY,
        scenario="scenarios.atr",
    )  # fmt: skip
    assert "GT:   'the quick brown fox'" in result.stderr  # print_evaluate: ground truth and prediction
    (epoch,) = read_metrics(out)
    assert 0 <= epoch["val_line_acc"] <= 1 and epoch["val_cer"] >= 0 and epoch["best_val_cer"] == epoch["val_cer"]

    codec = Codec.from_texts(TEXTS)
    params = json.loads((out / "export" / "trainer_params.json").read_text())
    assert params["scenario"]["data"]["codec"] == codec.chars  # the export carries its codec

    data = AtrData(AtrDataParams(codec=codec.chars))
    samples = [data.load_sample(str(tmp_path / "lines" / f"{i:04d}.bin.png")) for i in range(3)]
    width = max(s.inputs["img_len"] for s in samples)
    images = np.zeros((3, width, 48), np.uint8)
    for i, s in enumerate(samples):
        images[i, : s.inputs["img_len"]] = s.inputs["img"]
    serve = tf.saved_model.load(str(out / "export")).signatures["serving_default"]
    outputs = {
        k: v.numpy()
        for k, v in serve(img=tf.constant(images), img_len=tf.constant([s.inputs["img_len"] for s in samples])).items()
    }
    assert set(outputs) == {"labels", "labels_len"}
    for i in range(3):
        n = int(outputs["labels_len"][i])
        row = outputs["labels"][i]
        assert ((row[:n] >= 1) & (row[:n] < codec.num_classes)).all() and (row[n:] == -1).all()
        decoded = data.decode(samples[i].new_outputs({k: v[i] for k, v in outputs.items()}))
        assert decoded.outputs["text"] == codec.decode(row[:n])

    # tfaip-predict prints the text of each line; tfaip-lav reports the evaluator's CER
    images = [str(tmp_path / "lines" / f"{i:04d}.bin.png") for i in range(2)]
    predicted = cli("tfaip-predict", "--export_dir", str(out / "export"), "--data.images", *images)
    assert predicted.returncode == 0, predicted.stderr
    lines = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [line["id"] for line in lines] == images and all(isinstance(x["outputs"]["text"], str) for x in lines)
    lav = cli("tfaip-lav", "--export_dir", str(out / "export"), "--lav.lists", list_file, cwd=tmp_path)
    assert lav.returncode == 0, lav.stderr
    assert "cer" in lav.stdout and "line_acc" in lav.stdout
