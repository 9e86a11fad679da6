"""Exports stand alone: plain `tf.saved_model.load` in a process that never imports tfaip_core.

The model is trained in this process; the loader runs in a subprocess of its own (marked `e2e`): a process that
has never imported tfaip_core or the scenario is the point of the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from scenarios.tutorial.scenario import TutorialScenario

LOADER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    serve = model.signatures["serving_default"]
    images = np.load(sys.argv[2])
    out = serve(img=tf.constant(images))
    assert "tfaip_core" not in sys.modules and "scenarios" not in sys.modules
    spec = serve.structured_input_signature[1]
    print(json.dumps({
        "inputs": {k: [str(v.dtype.name), v.shape.as_list()] for k, v in spec.items()},
        "outputs": {k: v.numpy().tolist() for k, v in out.items()},
    }))
    """
)


@pytest.mark.e2e
def test_export_matches_in_memory_model_without_tfaip(tmp_path: Path) -> None:
    params = TutorialScenario.default_trainer_params()
    params.output_dir = str(tmp_path / "run")
    params.epochs = 1
    params.samples_per_epoch = 256
    params.progress_bar = False
    params.export_best = False
    scenario = TutorialScenario(params.scenario)
    trainer = scenario.create_trainer(params)
    trainer.fit()

    from sklearn.datasets import load_digits

    images = load_digits().images[:20].astype(np.float32)  # raw pixel values 0..16, as the dataset stores them
    expected = trainer.keras_model({"img": images}, training=False)
    np.save(tmp_path / "images.npy", images)
    (tmp_path / "load.py").write_text(LOADER)
    result = subprocess.run(
        [sys.executable, str(tmp_path / "load.py"), str(tmp_path / "run" / "export"), str(tmp_path / "images.npy")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["inputs"] == {"img": ["float32", [None, 8, 8]]}
    assert set(loaded["outputs"]) == {"probs", "class"}
    np.testing.assert_allclose(np.array(loaded["outputs"]["probs"]), expected["probs"].numpy(), atol=1e-5)
    np.testing.assert_array_equal(np.array(loaded["outputs"]["class"]), expected["class"].numpy())
    params_json = json.loads((tmp_path / "run" / "export" / "trainer_params.json").read_text())
    assert params_json["scenario"]["scenario_class"] == "scenarios.tutorial.scenario:TutorialScenario"


def test_exports_of_identical_weights_store_identical_variable_files(tmp_path: Path) -> None:
    """Two seeded runs in one process: the same weights give byte-identical `variables/` (a fixed variable order).

    Keras lists the variables of an export in the order its traced graphs captured them, which changed from run
    to run (the same values, saved in another order). `saved_model.pb` also names traced functions with
    process-wide counters, so it is byte-identical only between fresh processes, and `fingerprint.pb` holds a
    random id; `docs/export.md` says so.
    """
    from tests.conftest import train_in_process

    flags = ["--trainer.epochs", "1", "--trainer.random_seed", "3", "--train.limit", "64", "--val.limit", "32"]
    for run in ("a", "b"):
        train_in_process(tmp_path / run, *flags, "--trainer.export_best", "false")
    for name in ("variables.index", "variables.data-00000-of-00001"):
        a, b = (tmp_path / run / "export" / "variables" / name for run in ("a", "b"))
        assert a.read_bytes() == b.read_bytes(), name


def test_an_exporter_written_again_stores_the_current_weights(tmp_path: Path) -> None:
    """The trainer's exporter traces its signatures once and writes them at every better best model: each export
    must serve the weights of its own moment, not those of the first write."""
    import tensorflow as tf

    from tests.conftest import fitted_tutorial_trainer

    trainer = fitted_tutorial_trainer(tmp_path / "run")
    images = np.random.default_rng(0).uniform(0, 16, (8, 8, 8)).astype(np.float32)

    def served(path: Path) -> np.ndarray:
        return tf.saved_model.load(str(path)).signatures["serving_default"](img=tf.constant(images))["probs"].numpy()

    first = trainer.keras_model({"img": images}, training=False)["probs"].numpy()
    trainer.export(str(tmp_path / "first"))
    for variable in trainer.keras_model.trainable_variables:
        variable.assign(variable * 0.5 + 0.1)
    second = trainer.keras_model({"img": images}, training=False)["probs"].numpy()
    trainer.export(str(tmp_path / "second"))
    assert trainer.exporter._archive is not None  # the reused archive is what is tested
    assert np.abs(first - second).max() > 0.01  # the change shows in the outputs
    np.testing.assert_allclose(served(tmp_path / "first"), first, atol=1e-6)
    np.testing.assert_allclose(served(tmp_path / "second"), second, atol=1e-6)
