"""`ComputedBatches`: the in-graph reader gives the dataset's stream, and its counter is the whole state."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import tensorflow as tf

from tfaip_core.data.computed_batches import ComputedBatches


def _batches(n: int = 10, batch_size: int = 4, shuffle: bool = True, seed: int = 3) -> ComputedBatches:
    data = ({"x": np.arange(n, dtype=np.int64) * 10}, {"y": np.arange(n, dtype=np.int64)})
    return ComputedBatches(data, batch_size, shuffle=shuffle, seed=seed)


def _read_in_graph(batches: ComputedBatches, count: int) -> List[List[int]]:
    @tf.function
    def read() -> tf.Tensor:  # as the training loop reads them: inside a compiled function
        return tf.stack([batches.get_next_as_optional().get_value()[1]["y"] for _ in range(count)])

    return read().numpy().tolist()


def test_the_steps_read_the_stream_of_the_dataset() -> None:
    batches = _batches()
    from_dataset = [b[1]["y"].numpy().tolist() for b in batches.dataset().take(10)]  # 4 passes of 10 samples
    assert _read_in_graph(batches, 6) + _read_in_graph(batches, 4) == from_dataset  # continued across calls
    assert int(batches.position.numpy()) == 10
    rows = sum(from_dataset, [])
    assert all(sorted(rows[i : i + 10]) == list(range(10)) for i in range(0, 40, 10))  # each pass a permutation
    first = batches.dataset().take(1).get_single_element()
    np.testing.assert_array_equal(first[0]["x"].numpy(), first[1]["y"].numpy() * 10)  # rows stay together


def test_without_shuffling_the_batches_come_in_order_across_passes() -> None:
    assert sum(_read_in_graph(_batches(shuffle=False), 5), []) == list(range(10)) * 2


def test_a_checkpoint_of_the_counter_continues_the_stream(tmp_path: Path) -> None:
    batches = _batches()
    _read_in_graph(batches, 3)
    path = tf.train.Checkpoint(position=batches.position).write(str(tmp_path / "ckpt"))
    expected = _read_in_graph(batches, 4)
    restored = _batches()  # a new process: same data and seed
    tf.train.Checkpoint(position=restored.position).read(path).assert_consumed()
    assert _read_in_graph(restored, 4) == expected
    assert _read_in_graph(_batches(), 4) != expected  # (not what a fresh stream starts with)
