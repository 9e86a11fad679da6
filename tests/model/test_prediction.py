"""The one prediction function: the exported signature and the in-process graph agree with the model."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from scenarios.tutorial.model import TutorialModel
from scenarios.tutorial.params import TutorialModelParams
from tfaip_core.model.model_base import build_keras_model
from tfaip_core.model.prediction import SERVING_DEFAULT, prediction_graphs


def test_prediction_graph_returns_the_export_outputs_of_the_model() -> None:
    model = TutorialModel(TutorialModelParams())
    specs = {"img": tf.TensorSpec([8, 8], tf.float32)}
    keras_model = build_keras_model(model.create_graph(), specs)
    graphs = prediction_graphs(keras_model, model, specs)
    assert list(graphs) == [SERVING_DEFAULT, "logits"]  # the default graph, then ModelBase.export_graphs()
    graph = graphs[SERVING_DEFAULT]
    assert graph.input_signature["img"].shape.as_list() == [None, 8, 8]
    images = np.random.default_rng(0).uniform(0, 16, size=(5, 8, 8)).astype(np.float32)
    predicted = graph.compiled()({"img": tf.constant(images)})
    direct = keras_model({"img": images}, training=False)
    assert set(predicted) == {"probs", "class"}  # TutorialModel.export_outputs, not every graph output
    np.testing.assert_allclose(predicted["probs"].numpy(), direct["probs"].numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(predicted["class"].numpy(), direct["class"].numpy())
    logits = graphs["logits"].compiled()({"img": tf.constant(images)})
    assert set(logits) == {"logits"}
    np.testing.assert_allclose(logits["logits"].numpy(), direct["logits"].numpy(), rtol=1e-6, atol=1e-6)
