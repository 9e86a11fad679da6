"""ATR codec round trip, edit distance against an independent numpy computation, CER and line accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.atr.codec import BLANK, Codec
from scenarios.atr.evaluator import AtrEvaluator, edit_distance
from tfaip_core import EvaluatorBaseParams, Sample
from tfaip_core.errors import DataError


def numpy_edit_distance(a: str, b: str) -> int:
    """The textbook full (len(a)+1) x (len(b)+1) Wagner-Fischer table (the code under test keeps two rows)."""
    table = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    table[:, 0] = np.arange(len(a) + 1)
    table[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i, j] = min(table[i - 1, j] + 1, table[i, j - 1] + 1, table[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return int(table[-1, -1])


def test_codec_round_trip_and_order() -> None:
    codec = Codec.from_texts(["hello world", "Zebra 42!"])
    assert codec.chars == " !24Zabdehlorw"
    assert codec.num_classes == len(codec.chars) + 1
    text = "hello Zebra 42"
    labels = codec.encode(text)
    assert min(labels) >= 1 and BLANK == 0
    assert codec.decode(labels) == text
    assert codec.decode([BLANK, -1] + labels + [-1, -1]) == text  # blanks and padding are skipped


def test_codec_unknown_characters_are_reported_and_skipped() -> None:
    codec = Codec("abc")
    assert codec.unknown("abXcYX") == ["X", "Y"]
    assert codec.encode("abXc") == [1, 2, 3]


def test_codec_refuses_repeats_and_foreign_labels() -> None:
    with pytest.raises(ValueError, match="each character once"):
        Codec("abca")
    with pytest.raises(ValueError, match="label 4 is beyond the codec of 3 characters"):
        Codec("abc").decode([1, 4])


@pytest.mark.parametrize(
    "a, b, expected",
    [("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("flaw", "lawn", 2), ("abc", "abc", 0)],
)
def test_edit_distance_known_cases(a: str, b: str, expected: int) -> None:
    assert edit_distance(a, b) == expected
    assert edit_distance(b, a) == expected


def test_edit_distance_matches_numpy_table() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        a = "".join(rng.choice(list("abcd "), size=rng.integers(0, 12)))
        b = "".join(rng.choice(list("abcd "), size=rng.integers(0, 12)))
        assert edit_distance(a, b) == numpy_edit_distance(a, b), (a, b)


def _sample(gt: str, text: str) -> Sample:
    return Sample(outputs={"text": text}, meta={"id": gt, "gt": gt})


def test_evaluator_cer_is_total_errors_over_total_characters() -> None:
    pairs = [("hello world", "helo world"), ("abc", "abc"), ("a line", "a lime!"), ("x", "")]
    evaluator = AtrEvaluator(EvaluatorBaseParams())
    evaluator.reset_state()
    for gt, text in pairs:
        evaluator.update_state(_sample(gt, text))
    errors = sum(numpy_edit_distance(gt, text) for gt, text in pairs)
    chars = sum(len(gt) for gt, _ in pairs)
    assert evaluator.result() == {"cer": errors / chars, "line_acc": 1 / 4}
    evaluator.reset_state()
    evaluator.update_state(_sample("abc", "abc"))
    assert evaluator.result() == {"cer": 0.0, "line_acc": 1.0}


def test_evaluator_names_missing_transcript() -> None:
    evaluator = AtrEvaluator(EvaluatorBaseParams())
    evaluator.reset_state()
    with pytest.raises(DataError, match=r"sample.meta\['gt'\].*sample x"):
        evaluator.update_state(Sample(outputs={"text": "a"}, meta={"id": "x"}))
