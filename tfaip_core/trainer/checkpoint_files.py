"""Which checkpoints a directory holds (names and completeness), without TensorFlow.

A checkpoint is `DIR/ckpt-STEP/` with `state.json` written last: its presence makes the checkpoint
complete. The scripts ask this before TensorFlow is loaded (e.g. may this run be resumed?).
"""

from __future__ import annotations

import os
import re
from typing import List, Tuple

NAME = re.compile(r"^ckpt-(\d+)$")
STATE_FILE = "state.json"


def complete_checkpoints(directory: str) -> List[str]:
    """Paths of the complete checkpoints in `directory`, oldest (lowest step) first."""
    if not os.path.isdir(directory):
        return []
    found: List[Tuple[int, str]] = []
    for name in os.listdir(directory):
        match = NAME.match(name)
        path = os.path.join(directory, name)
        if match and os.path.isfile(os.path.join(path, STATE_FILE)):
            found.append((int(match.group(1)), path))
    return [p for _, p in sorted(found)]
