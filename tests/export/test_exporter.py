"""The final export of a run with every artefact (named graphs, int8 TFLite, trainable, archive) and tfaip-export.

One tutorial run (trained once for the module, in this process) is the source of every test here.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import cli, train_in_process
from tfaip_core.model.variables import is_rng_state, read_model_variables

RUN_FLAGS = (
    "--trainer.epochs", "3", "--trainer.random_seed", "3", "--trainer.export_best", "false",
    "--export.tflite", "int8", "--export.trainable", "true", "--export.archive", "true",
    "--export.representative_samples", "100",
)  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output_dir = tmp_path_factory.mktemp("export") / "run"
    train_in_process(output_dir, *RUN_FLAGS)
    return output_dir


def _validation() -> Tuple[np.ndarray, np.ndarray]:
    from scenarios.tutorial.data import load_split
    from scenarios.tutorial.params import TutorialDataParams
    from tfaip_core import PipelineMode

    return load_split(TutorialDataParams(), PipelineMode.EVALUATION)


def _serve(export_dir: Path, signature: str = "serving_default") -> Dict[str, np.ndarray]:
    images, _ = _validation()
    outputs = tf.saved_model.load(str(export_dir)).signatures[signature](img=tf.constant(images))
    return {k: v.numpy() for k, v in outputs.items()}


def _tflite_classes(path: Path, images: np.ndarray) -> np.ndarray:
    """The `class` output of the .tflite's serving_default for each image, run by the LiteRT interpreter."""
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (extra litert)")
    interpreter = interpreter_module.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    detail = runner.get_input_details()["img"]
    classes = []
    for image in images:
        x = image[np.newaxis]
        if detail["dtype"] == np.int8:
            scale, zero = detail["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        classes.append(int(runner(img=x)["class"][0]))
    return np.array(classes)


def test_export_has_default_and_named_signatures(run: Path) -> None:
    signatures = tf.saved_model.load(str(run / "export")).signatures
    assert sorted(signatures) == ["logits", "serving_default"]
    served, logits = _serve(run / "export"), _serve(run / "export", "logits")
    assert set(served) == {"probs", "class"} and set(logits) == {"logits"}
    np.testing.assert_array_equal(np.argmax(logits["logits"], axis=-1), served["class"])


def test_int8_tflite_accuracy_within_two_points_of_the_float_model(run: Path) -> None:
    images, labels = _validation()
    float_accuracy = float(np.mean(_serve(run / "export")["class"] == labels))
    int8_accuracy = float(np.mean(_tflite_classes(run / "export" / "model.tflite", images) == labels))
    print(f"float SavedModel accuracy {float_accuracy:.4f}, int8 TFLite accuracy {int8_accuracy:.4f}")
    assert float_accuracy > 0.85  # a trained model, or the comparison says nothing
    assert abs(float_accuracy - int8_accuracy) <= 0.02


def test_trainable_export_and_descriptor(run: Path) -> None:
    trainable = run / "export" / "trainable"
    assert sorted(tf.saved_model.load(str(trainable)).signatures) == [
        "logits", "restore", "save", "serving_default", "train"
    ]  # fmt: skip
    descriptor = json.loads((trainable / "model.json").read_text())
    assert descriptor["inputs"] == [{"name": "img", "dtype": "float32", "shape": [-1, 8, 8]}]
    assert descriptor["targets"] == [{"name": "gt", "dtype": "int64", "shape": [-1]}]
    assert descriptor["outputs"] == [
        {"name": "class", "dtype": "int64", "shape": [-1]},
        {"name": "probs", "dtype": "float32", "shape": [-1, 10]},
    ]
    assert descriptor["train"]["signature"] == "train" and descriptor["train"]["inputs"] == ["gt", "img"]
    assert descriptor["signatures"]["train"]["outputs"] == [{"name": "loss", "dtype": "float32", "shape": []}]


def test_archive_holds_the_export_and_the_run_logs(run: Path) -> None:
    with zipfile.ZipFile(run / "export.zip") as archive:
        names = set(archive.namelist())
        assert archive.read("metrics.jsonl") == (run / "metrics.jsonl").read_bytes()
        assert archive.read("model.tflite") == (run / "export" / "model.tflite").read_bytes()
    for name in (
        "saved_model.pb",
        "trainer_params.json",
        "train.log",
        "trainable/model.json",
        "trainable/saved_model.pb",
    ):
        assert name in names
    assert any(n.startswith("variables/variables.data") for n in names)


def test_archive_round_trips_through_tfaip_predict(run: Path, tmp_path: Path) -> None:
    images, _ = _validation()
    files = []
    for i in range(3):
        np.save(tmp_path / f"d{i}.npy", images[i])
        files.append(str(tmp_path / f"d{i}.npy"))
    lines = {}
    for model in (run / "export", run / "export.zip"):
        result = cli("tfaip-predict", "--export_dir", str(model), "--data.files", *files)
        assert result.returncode == 0, result.stderr
        lines[model.suffix] = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines[""]) == 3 and lines[".zip"] == lines[""]


def test_tfaip_export_reexports_a_run_to_dynamic_tflite_with_identical_weights(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    result = cli(
        "tfaip-export", str(run), "--output", str(out), "--format", "tflite", "archive", "--quantization", "dynamic"
    )
    assert result.returncode == 0, result.stderr
    for key, value in _serve(run / "export").items():
        np.testing.assert_array_equal(_serve(out)[key], value)
    images, labels = _validation()
    accuracy = float(np.mean(_tflite_classes(out / "model.tflite", images[:100]) == labels[:100]))
    assert accuracy > 0.8
    assert (out / "model.tflite").read_bytes() != (run / "export" / "model.tflite").read_bytes()  # not int8
    with zipfile.ZipFile(tmp_path / "again.zip") as archive:
        assert archive.read("train.log") == (run / "train.log").read_bytes()  # the run's logs come along
    # the same weights by path, bit for bit (the files' bytes differ: Keras tracks the variables in another order)
    ours, again = (
        {k: v for k, v in read_model_variables(str(d / "variables" / "variables")).items() if not is_rng_state(k)}
        for d in (run / "export", out)
    )
    assert sorted(ours) == sorted(again)
    assert all(np.array_equal(ours[k], again[k]) for k in ours)


def test_tfaip_export_from_a_checkpoint_writes_a_trainable_export(run: Path, tmp_path: Path) -> None:
    checkpoint = sorted((run / "checkpoint").glob("ckpt-*"))[-1]
    out = tmp_path / "from_ckpt"
    result = cli("tfaip-export", str(checkpoint), "--output", str(out), "--format", "trainable")
    assert result.returncode == 0, result.stderr
    assert "train" in tf.saved_model.load(str(out / "trainable")).signatures
    assert not (out / "model.tflite").exists()
    # without EMA the checkpoint's weights are the exported ones
    np.testing.assert_array_equal(_serve(out)["probs"], _serve(run / "export")["probs"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "savedmodel", "--quantization", "int8"], "--quantization applies to the TFLite file"),
        (["--format", "tflite", "--representative_samples", "0"], "representative_samples must be >= 1"),
    ],
)
def test_tfaip_export_usage_errors(run: Path, tmp_path: Path, args: list, message: str) -> None:
    result = cli("tfaip-export", str(run), "--output", str(tmp_path / "x"), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "x").exists()


def test_tfaip_export_never_replaces_a_folder_it_did_not_write(run: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    result = cli("tfaip-export", str(run), "--output", str(tmp_path / "mine"))
    assert result.returncode == 2
    assert "must be a new directory or an earlier export" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    result = cli("tfaip-export", str(tmp_path / "nothing"), "--output", str(tmp_path / "y"))
    assert result.returncode == 2 and "nothing" in result.stderr
