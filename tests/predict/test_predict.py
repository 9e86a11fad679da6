"""The Predictor API and `tfaip-predict` (in-process) on exports of the tutorial, checked against plain
`tf.saved_model.load` and an independent majority vote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import tensorflow as tf

from scenarios.tutorial.model import MajorityClassVoter
from tests.conftest import cli, train_in_process
from tests.lav.digit_files import plain_predictions, validation_digits, write_png_files
from tfaip_core import Sample
from tfaip_core.predict.params import PredictorParams
from tfaip_core.predict.voter import AverageVoter
from tfaip_core.scenario.exported import exported_scenario


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """The tutorial trained twice (seeds 1 and 2, 6 epochs): their final exports."""
    root = tmp_path_factory.mktemp("predict")
    exports = []
    for seed in ("1", "2"):
        output = root / f"run{seed}"
        train_in_process(
            output, "--trainer.epochs", "6", "--trainer.random_seed", seed, "--trainer.export_best", "false"
        )
        exports.append(output / "export")
    return exports[0], exports[1]


def predict_lines(*args: str, cwd: Path) -> List[dict]:
    result = cli("tfaip-predict", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_tfaip_predict_on_digit_files_one_line_per_file_named_by_it(two_models: Tuple[Path, Path], tmp_path: Path):
    files = write_png_files(tmp_path / "digits", range(0, 120))
    _, labels = validation_digits()
    output = tmp_path / "out.jsonl"
    args = ["--export_dir", str(two_models[0]), "--data.files", *map(str, files)]
    result = cli("tfaip-predict", *args, "--predict.output_file", str(output), "--predict.batch_size", "32")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in lines] == [str(f) for f in files]  # one line per input, in order, named by it
    predicted = np.array([line["outputs"]["class"] for line in lines])
    assert np.mean(predicted == labels[:120]) >= 0.95
    assert "Predicted 120 samples in 4 batches" in result.stderr


def test_two_model_voting_is_the_majority_class_with_ties_to_the_summed_probabilities(
    two_models: Tuple[Path, Path], tmp_path: Path
) -> None:
    images, _ = validation_digits()
    files = write_png_files(tmp_path / "digits", range(len(images)))
    lines = predict_lines("--export_dir", *map(str, two_models), "--data.files", *map(str, files), cwd=tmp_path)
    assert len(lines) == len(images)
    first, second = (plain_predictions(m, images) for m in two_models)
    summed = first["probs"].astype(np.float32) + second["probs"]
    # two voters: they agree, or it is a tie that the higher summed probability of the two classes decides
    expected = np.where(
        first["class"] == second["class"],
        first["class"],
        np.where(
            summed[np.arange(len(images)), first["class"]] >= summed[np.arange(len(images)), second["class"]],
            first["class"],
            second["class"],
        ),
    )
    voted = np.array([line["outputs"]["class"] for line in lines])
    np.testing.assert_array_equal(voted, expected)
    assert (first["class"] != second["class"]).any()  # the models disagree somewhere, so voting is exercised
    np.testing.assert_array_equal(np.array([line["outputs"]["probs"] for line in lines], np.float32), summed / 2)


def test_predictor_equals_plain_saved_model_on_the_same_batches(two_models: Tuple[Path, Path]) -> None:
    images, _ = validation_digits()
    images = images[:50]
    serve = tf.saved_model.load(str(two_models[0])).signatures["serving_default"]
    expected = [{k: v.numpy() for k, v in serve(img=tf.constant(images[i : i + 16])).items()} for i in range(0, 50, 16)]
    plain = {k: np.concatenate([e[k] for e in expected]) for k in expected[0]}
    with exported_scenario(str(two_models[0])) as exported:
        with exported.scenario().create_predictor(exported.directory, PredictorParams(batch_size=16)) as predictor:
            raw = list(predictor.predict_raw([{"img": image} for image in images]))
            dataset = tf.data.Dataset.from_tensor_slices({"img": images}).batch(16)
            from_dataset = list(predictor.predict_dataset(dataset))
            data_params = exported.params.scenario.data
            data_params.files = []  # the PREDICTION data without files: the validation split (its first 50)
            predictor.params.limit = 50
            from_data = list(predictor.predict(data_params))
            stats = predictor.stats
    assert [s.id for s in raw] == [s.id for s in from_dataset] == [str(i) for i in range(50)]
    assert [s.id for s in from_data] == [f"digits_prediction_{i}" for i in range(50)]
    for samples in (raw, from_dataset, from_data):
        np.testing.assert_array_equal(np.stack([s.outputs["probs"] for s in samples]), plain["probs"])
        np.testing.assert_array_equal(np.array([s.outputs["class"] for s in samples]), plain["class"])
    assert stats.samples == 150 and stats.batches == 12 and stats.samples_per_second > 0
    assert 0 < stats.wait_seconds < stats.seconds  # waiting for the model is a part of the wall time


def test_predict_raw_keeps_the_ids_of_samples(two_models: Tuple[Path, Path]) -> None:
    images, _ = validation_digits()
    with exported_scenario(str(two_models[0])) as exported:
        with exported.scenario().create_predictor(exported.directory, PredictorParams(batch_size=2)) as predictor:
            samples = [Sample(inputs={"img": images[i]}, meta={"id": f"mine-{i}"}) for i in range(3)]
            assert [s.id for s in predictor.predict_raw(iter(samples))] == ["mine-0", "mine-1", "mine-2"]


def test_average_voter_averages_floats_and_takes_the_majority_of_the_rest() -> None:
    def sample(probs: List[float], cls: int) -> Sample:
        return Sample(outputs={"probs": np.array(probs, np.float32), "class": np.int64(cls)}, meta={"id": "x"})

    samples = [sample([0.6, 0.4], 0), sample([0.2, 0.8], 1), sample([0.3, 0.7], 1)]
    voted = AverageVoter().vote(samples)
    np.testing.assert_array_equal(voted.outputs["probs"], np.mean([[0.6, 0.4], [0.2, 0.8], [0.3, 0.7]], 0, np.float32))
    assert voted.outputs["class"] == 1 and voted.meta == {"id": "x"}
    assert AverageVoter().vote(samples[:2]).outputs["class"] == 0  # a tie: the model listed first
    # the tutorial's voter breaks the tie by the summed probabilities instead
    assert MajorityClassVoter().vote(samples[:2]).outputs["class"] == 1


def test_tfaip_predict_errors_are_one_line(two_models: Tuple[Path, Path], tmp_path: Path) -> None:
    cases: Dict[Tuple[str, ...], str] = {
        ("--data.files", "x.png"): "tfaip-predict: error: --export_dir is required",
        ("--export_dir", str(two_models[0]), "--predict.batch_size", "0"): "--predict.batch_size must be >= 1",
        ("--export_dir", str(two_models[0]), "--data.files", str(tmp_path / "missing.png")): "cannot be read",
    }
    for args, expected in cases.items():
        result = cli("tfaip-predict", *args, cwd=tmp_path)
        assert result.returncode != 0 and expected in result.stderr, (args, result.stderr)
        assert len([line for line in result.stderr.splitlines() if "error" in line]) == 1, result.stderr
