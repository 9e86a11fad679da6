"""Synthetic text lines rendered with Pillow: a data set for tests and demos that needs no download.

`write_lines(directory, texts)` writes `NNNN.bin.png` (black text on white) and `NNNN.gt.txt` for each
text plus a list file naming the images, in the format `--train.lists` / `--val.lists` read.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional, Sequence

from PIL import Image, ImageDraw, ImageFont

#: A few short lines of printed text (letters, digits, punctuation) for synthetic data sets.
TEXTS = (
    "the quick brown fox",
    "jumps over the lazy dog",
    "pack my box with",
    "five dozen liquor jugs",
    "sphinx of black quartz",
    "judge my vow 1234",
    "how vexingly quick",
    "daft zebras jump 567",
)


def render_line(text: str, path: str, height: int = 24, margin: int = 4) -> None:
    """Write `text` as a black-on-white line image to `path` (Pillow's built-in bitmap font)."""
    font = ImageFont.load_default()
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    image = Image.new("L", (right - left + 2 * margin, max(height, bottom - top + 2 * margin)), 255)
    ImageDraw.Draw(image).text((margin - left, (image.height - (bottom - top)) // 2 - top), text, fill=0, font=font)
    image.save(path)


def write_lines(directory: str, texts: Sequence[str] = TEXTS, list_name: str = "lines.lst") -> str:
    """Render `texts` into `directory` (`0000.bin.png` + `0000.gt.txt` ...) and return the list file's path."""
    os.makedirs(directory, exist_ok=True)
    names: List[str] = []
    for i, text in enumerate(texts):
        name = f"{i:04d}.bin.png"
        render_line(text, os.path.join(directory, name))
        with open(os.path.join(directory, f"{i:04d}.gt.txt"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
        names.append(name)
    list_file = os.path.join(directory, list_name)
    with open(list_file, "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    return list_file


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m scenarios.atr.synthetic DIR`: render the built-in lines into DIR and print the list file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m scenarios.atr.synthetic DIR  (writes DIR/lines.lst and the lines it names)")
        return 2
    print(write_lines(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
