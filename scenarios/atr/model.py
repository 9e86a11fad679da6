"""The ATR model: CTC loss, the monitored CER, the exported decoding, and a look at GT vs prediction."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import tensorflow as tf

from scenarios.atr.codec import BLANK
from scenarios.atr.graph import AtrGraph
from scenarios.atr.params import AtrModelParams
from tfaip_core import GraphBase, ModelBase, Sample


def ctc_loss(labels: tf.Tensor, label_len: tf.Tensor, logits: tf.Tensor, logit_len: tf.Tensor) -> tf.Tensor:
    """Per-line CTC loss [batch] of padded `labels` [batch, max_len] (>= 1) under `logits` [batch, frames, classes].

    Uses TensorFlow's CTC kernel on sparse labels (about 25x faster on CPU than its dense implementation), which
    refuses an empty label; a line whose transcript has no known character (e.g. "3" when the codec lacks
    digits) gets its exact loss computed here instead: the negative log-probability of blank in every frame.
    """
    label_len = tf.cast(label_len, tf.int32)
    logit_len = tf.cast(logit_len, tf.int32)
    has_labels = label_len > 0
    labels = tf.cast(labels, tf.int32)
    # empty rows get a dummy label 1 for the kernel; their result is replaced below
    dummy = tf.one_hot(tf.zeros_like(label_len), tf.shape(labels)[1], dtype=tf.int32)
    labels = tf.where(has_labels[:, tf.newaxis], labels, dummy)
    mask = tf.sequence_mask(tf.maximum(label_len, 1), tf.shape(labels)[1])
    sparse = tf.sparse.from_dense(tf.where(mask, labels, 0))  # labels are >= 1: only the padding is dropped
    ctc = tf.nn.ctc_loss(sparse, logits, None, logit_len, logits_time_major=False, blank_index=BLANK)
    frames = tf.sequence_mask(logit_len, tf.shape(logits)[1], dtype=logits.dtype)
    blank_only = -tf.reduce_sum(tf.nn.log_softmax(logits)[..., BLANK] * frames, axis=1)
    return tf.where(has_labels, ctc, blank_only)


class AtrModel(ModelBase[AtrModelParams]):
    """CTC over the codec's characters (`num_classes` = characters + blank)."""

    def __init__(self, params: AtrModelParams, num_classes: int):
        super().__init__(params)
        self.num_classes = num_classes

    def create_graph(self) -> GraphBase:
        return AtrGraph(self.params.graph, self.num_classes)

    def loss(self, inputs: Dict, targets: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        """The CTC loss of each line (negative log-likelihood of its transcript), shape [batch]."""
        return {"ctc": ctc_loss(targets["gt"], targets["gt_len"], outputs["logits"], outputs["logits_len"])}

    def monitor(self) -> Tuple[str, str]:
        return "val_cer", "min"

    def print_evaluate(self, sample: Sample, print_fn: Callable[[str], None]) -> None:
        print_fn(f"{sample.id}\n  GT:   {sample.meta.get('gt', '')!r}\n  PRED: {sample.outputs['text']!r}")

    def export_outputs(self, inputs: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        """The greedy decoding: `labels` (-1 padded) and `labels_len`; post-processing turns them into text."""
        return {"labels": outputs["labels"], "labels_len": outputs["labels_len"]}
