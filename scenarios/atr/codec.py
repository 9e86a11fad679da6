"""The codec: characters <-> CTC labels. Label 0 is the CTC blank; character i of the codec is label i + 1.

Pure Python: the data encodes transcripts with it, post-processing decodes predicted labels back to text.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence

BLANK = 0


class Codec:
    """An ordered set of characters. The codec is stored as its string (`--data.codec`) in the run's params.

    Example:
        >>> codec = Codec.from_texts(["ab", "ba c"])
        >>> codec.chars, codec.encode("cab"), codec.decode([3, 1, 2])
        (' abc', [4, 2, 3], 'cab')
    """

    def __init__(self, chars: str):
        if len(set(chars)) != len(chars):
            raise ValueError(f"a codec names each character once; got {chars!r}")
        self.chars = chars
        self._labels = {c: i + 1 for i, c in enumerate(chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Codec:
        """The characters of `texts`, sorted by code point (so the same texts give the same codec)."""
        return cls("".join(sorted(set("".join(texts)))))

    @property
    def num_classes(self) -> int:
        """Classes of the network's output layer: every character plus the blank."""
        return len(self.chars) + 1

    def unknown(self, text: str) -> List[str]:
        """The characters of `text` the codec cannot encode (each once, in order of appearance)."""
        return list(dict.fromkeys(c for c in text if c not in self._labels))

    def encode(self, text: str) -> List[int]:
        """The labels of the characters of `text`; characters outside the codec are skipped (see `unknown`)."""
        return [self._labels[c] for c in text if c in self._labels]

    def decode(self, labels: Sequence[int]) -> str:
        """The text of `labels` (1..len(chars)); blanks and negative padding values are skipped.

        Raises:
            ValueError: a label beyond the codec (a model trained with another codec).
        """
        out = []
        for label in labels:
            label = int(label)
            if label <= BLANK:
                continue
            if label > len(self.chars):
                raise ValueError(f"label {label} is beyond the codec of {len(self.chars)} characters")
            out.append(self.chars[label - 1])
        return "".join(out)
