"""Parameters of warm start (`--warmstart.*`): initialise the model from an earlier model."""

import re
from dataclasses import dataclass, field
from typing import List, Optional

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError


@pai_dataclass
@dataclass
class WarmstartParams:
    """Which model to load weights from, and how to match its variables to ours."""

    model: Optional[str] = field(
        default=None,
        metadata=pai_meta(
            help="An exported model directory (OUTPUT_DIR/export or /best) or a run's checkpoint directory "
            "(OUTPUT_DIR or OUTPUT_DIR/checkpoint: the newest checkpoint; or one OUTPUT_DIR/checkpoint/ckpt-N) to load "
            "weights from, matched by variable path (None: off). Ignored when resuming. "
            "Defaults to None."
        ),
    )
    rename: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="Rules FROM->TO applied, in order, to the variable names of the loaded model before matching "
            "(plain substrings, e.g. dense_0/->dense_first/). Defaults to []."
        ),
    )
    include: Optional[str] = field(
        default=None,
        metadata=pai_meta(
            help="Load only variables whose path (ours, and the loaded model's after renaming) matches this regex "
            "(re.search; None: all). Defaults to None."
        ),
    )
    exclude: Optional[str] = field(
        default=None,
        metadata=pai_meta(
            help="Do not load variables whose path (ours, and the loaded model's after renaming) matches this regex "
            "(re.search). Defaults to None."
        ),
    )
    allow_partial: bool = field(
        default=False,
        metadata=pai_meta(
            help="Allow variables that find no match or have another shape (they keep their initial values) "
            "instead of failing. Defaults to False."
        ),
    )

    def validate(self) -> None:
        """Raise `ConfigError` for a malformed rename rule or regex (the path is checked when loading)."""
        for rule in self.rename:
            old, arrow, _ = rule.partition("->")
            if not arrow or not old:
                raise ConfigError(
                    f"--warmstart.rename rules must read FROM->TO with a non-empty FROM; got {rule!r}. "
                    "Fix: e.g. --warmstart.rename dense_0/->dense_first/."
                )
        for flag, pattern in (("include", self.include), ("exclude", self.exclude)):
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as e:
                raise ConfigError(
                    f"--warmstart.{flag} {pattern!r} is not a valid regex ({e}). Fix: correct the pattern."
                ) from None
