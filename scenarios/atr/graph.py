"""The ATR network (a small CNN, bidirectional LSTMs, a softmax over the codec per frame) and greedy CTC decoding."""

from __future__ import annotations

from typing import Dict, Tuple

import keras
import tensorflow as tf

from scenarios.atr.codec import BLANK
from scenarios.atr.params import AtrGraphParams
from tfaip_core import GraphBase


def ctc_greedy_decode(logits: tf.Tensor, lengths: tf.Tensor, blank: int = BLANK) -> Tuple[tf.Tensor, tf.Tensor]:
    """Best path decoding: the most likely class per frame, repeats merged, blanks removed.

    Args:
        logits: [batch, frames, classes].
        lengths: [batch], the valid frames of each row (later frames are padding and ignored).
        blank: The blank's class. Defaults to 0.

    Returns:
        `labels` [batch, max decoded length] int32, padded with -1, and `labels_len` [batch].
    """
    best = tf.argmax(logits, axis=-1, output_type=tf.int32)
    previous = tf.pad(best[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    valid = tf.sequence_mask(lengths, tf.shape(best)[1])
    keep = valid & tf.not_equal(best, blank) & tf.not_equal(best, previous)
    ragged = tf.ragged.boolean_mask(best, keep)
    return ragged.to_tensor(default_value=-1), tf.cast(ragged.row_lengths(), tf.int32)


class AtrGraph(GraphBase[AtrGraphParams]):
    """uint8 line images [batch, width, height] -> per-frame `logits` (a frame is 2**len(filters) pixels wide).

    Outputs: `logits` [batch, frames, classes], `logits_len` [batch] (the valid frames of each line),
    `labels` / `labels_len` (greedy CTC decoding, -1 padded). A
    line's outputs do not depend on the lines it is batched with: conv outputs beyond a line's width are zeroed
    (as a line alone is zero-padded), and padding frames are masked in the LSTMs.
    """

    def __init__(self, params: AtrGraphParams, num_classes: int):
        super().__init__(params)
        self.convs = [
            keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv_{i}")
            for i, f in enumerate(params.filters)
        ]
        self.pools = [
            keras.layers.MaxPooling2D(2, padding="same", name=f"pool_{i}") for i in range(len(params.filters))
        ]
        self.lstms = [
            keras.layers.Bidirectional(keras.layers.LSTM(n, return_sequences=True), name=f"bilstm_{i}")
            for i, n in enumerate(params.lstm)
        ]
        self.dropout = keras.layers.Dropout(params.dropout)
        self.logits = keras.layers.Dense(num_classes, name="logits")

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        x = tf.cast(inputs["img"], tf.float32)[..., tf.newaxis] / 255.0  # [batch, width, height, 1]
        lengths = tf.cast(inputs["img_len"], tf.int32)
        for conv, pool in zip(self.convs, self.pools):
            # zero the conv outputs beyond each line's width: they saw its last columns, and the next layers
            # must see there what a line alone would (zero padding), or a line's result depends on its batch
            x = conv(x) * tf.sequence_mask(lengths, tf.shape(x)[1], dtype=x.dtype)[:, :, tf.newaxis, tf.newaxis]
            x = pool(x)
            lengths = (lengths + 1) // 2  # "same" pooling rounds up
        shape = tf.shape(x)
        x = tf.reshape(x, [shape[0], shape[1], x.shape[2] * x.shape[3]])  # frames of height x filters features
        mask = tf.sequence_mask(lengths, shape[1])
        for lstm in self.lstms:
            x = lstm(x, mask=mask, training=training)
        logits = self.logits(self.dropout(x, training=training))
        labels, labels_len = ctc_greedy_decode(logits, lengths)
        return {"logits": logits, "logits_len": lengths, "labels": labels, "labels_len": labels_len}
