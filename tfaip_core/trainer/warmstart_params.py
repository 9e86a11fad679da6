"""Parameters of warm start (`--warmstart.*`): initialise the model from an earlier model."""

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
            "(OUTPUT_DIR or OUTPUT_DIR/checkpoint) to load weights from (None: off). Ignored when resuming. "
            "Defaults to None."
        ),
    )
    rename: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="Rules FROM->TO applied, in order, to the variable names of the loaded model before matching "
            "(plain substrings). Defaults to []."
        ),
    )
    include: Optional[str] = field(
        default=None,
        metadata=pai_meta(help="Load only our variables whose path matches this regex (None: all). Defaults to None."),
    )
    exclude: Optional[str] = field(
        default=None,
        metadata=pai_meta(help="Do not load our variables whose path matches this regex. Defaults to None."),
    )
    allow_partial: bool = field(
        default=False,
        metadata=pai_meta(
            help="Allow variables that find no match or have another shape (they keep their initial values) "
            "instead of failing. Defaults to False."
        ),
    )

    def validate(self) -> None:
        for rule in self.rename:
            if "->" not in rule:
                raise ConfigError(f"--warmstart.rename rules must read FROM->TO; got {rule!r}.")
