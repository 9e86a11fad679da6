"""ATR graph pieces: greedy CTC decoding and the CTC loss against independent computations, and batch invariance."""

from __future__ import annotations

from typing import List

import numpy as np
import tensorflow as tf

from scenarios.atr.graph import AtrGraph, ctc_greedy_decode
from scenarios.atr.model import ctc_loss
from scenarios.atr.params import AtrGraphParams


def numpy_greedy(logits: np.ndarray, length: int, blank: int = 0) -> List[int]:
    """Best path of one line: argmax per valid frame, then merge repeats, then drop blanks."""
    best = logits[:length].argmax(-1)
    merged = [int(c) for i, c in enumerate(best) if i == 0 or c != best[i - 1]]
    return [c for c in merged if c != blank]


def test_greedy_decoding_matches_numpy_and_tensorflow() -> None:
    rng = np.random.default_rng(3)
    batch, frames, classes = 6, 25, 5  # few classes: many repeats and blanks
    logits = rng.normal(size=(batch, frames, classes)).astype(np.float32)
    lengths = np.array([25, 1, 10, 0, 17, 3], dtype=np.int32)
    labels, labels_len = ctc_greedy_decode(tf.constant(logits), tf.constant(lengths))
    labels, labels_len = labels.numpy(), labels_len.numpy()
    expected = [numpy_greedy(logits[i], int(lengths[i])) for i in range(batch)]
    assert labels_len.tolist() == [len(e) for e in expected]
    assert labels.shape == (batch, max(len(e) for e in expected))
    for row, want in zip(labels, expected):
        assert row[: len(want)].tolist() == want
        assert (row[len(want) :] == -1).all()
    # TensorFlow's own decoder (time-major, blank given explicitly)
    (sparse,), _ = tf.nn.ctc_greedy_decoder(
        tf.transpose(tf.constant(logits), [1, 0, 2]), tf.constant(lengths), merge_repeated=True, blank_index=0
    )
    dense = tf.sparse.to_dense(sparse, default_value=-1).numpy()
    assert dense.tolist() == labels[: dense.shape[0], : dense.shape[1]].tolist()


def test_ctc_loss_matches_dense_tensorflow_including_an_empty_transcript() -> None:
    rng = np.random.default_rng(0)
    batch, frames, classes = 4, 30, 7
    logits = tf.constant(rng.normal(size=(batch, frames, classes)), tf.float32)
    label_len = np.array([5, 0, 3, 1], dtype=np.int32)
    logit_len = tf.constant([30, 20, 10, 4])
    labels = np.zeros((batch, 5), np.int32)
    for i, n in enumerate(label_len):
        labels[i, :n] = rng.integers(1, classes, n)
    ours = ctc_loss(tf.constant(labels), tf.constant(label_len), logits, logit_len).numpy()
    dense = tf.nn.ctc_loss(labels, logits, label_len, logit_len, logits_time_major=False, blank_index=0).numpy()
    np.testing.assert_allclose(ours, dense, rtol=1e-5)
    # the empty transcript: -log p(blank) summed over its 20 valid frames
    log_probs = tf.nn.log_softmax(logits).numpy()
    assert abs(ours[1] - (-log_probs[1, :20, 0].sum())) < 1e-3


def test_a_line_reads_the_same_alone_and_padded_in_a_batch() -> None:
    """Padding columns are masked in the LSTMs: a short line batched with a long one gets the same outputs."""
    tf.keras.utils.set_random_seed(0)
    graph = AtrGraph(AtrGraphParams(filters=[4, 8], lstm=[8], dropout=0.0), num_classes=6)
    rng = np.random.default_rng(1)
    short = rng.integers(0, 256, size=(37, 16)).astype(np.uint8)
    long = rng.integers(0, 256, size=(90, 16)).astype(np.uint8)
    padded = np.zeros((2, 90, 16), np.uint8)
    padded[0, :37], padded[1] = short, long
    alone = graph({"img": tf.constant(short[None]), "img_len": tf.constant([37])})
    batched = graph({"img": tf.constant(padded), "img_len": tf.constant([37, 90])})
    frames = int(alone["logits_len"][0])
    assert frames == 10 and batched["logits_len"].numpy().tolist() == [10, 23]  # ceil(ceil(37/2)/2)
    np.testing.assert_allclose(batched["logits"][0, :frames].numpy(), alone["logits"][0].numpy(), atol=1e-5)
    n = int(alone["labels_len"][0])
    assert batched["labels"][0, :n].numpy().tolist() == alone["labels"][0, :n].numpy().tolist()
