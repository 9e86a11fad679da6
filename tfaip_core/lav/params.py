"""`LavParams` (`--lav.*`): what a "load and validate" run reads and how, during training and in `tfaip-lav`.

TensorFlow-free (read when flags are parsed). This module defines paiargparse dataclasses: it must not use
`from __future__ import annotations`.
"""

from dataclasses import dataclass, field
from typing import List

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError

#: `--lav.batch_size` that means "the validation batch size" (`--val.batch_size`).
SAME_AS_VALIDATION = -1


@pai_dataclass
@dataclass
class LavParams:
    """The data and settings of LAV: the prediction graph run over each list, post-processed and evaluated."""

    lists: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="List files to load and validate, each reported on its own (lav_l0_*, lav_l1_* ...); a list file "
            "names one sample file per line, like --val.lists. Only for scenarios that read list files (list-file "
            "scenarios, the tutorial). Defaults to [] (the validation data, --val.*)."
        ),
    )
    batch_size: int = field(
        default=SAME_AS_VALIDATION,
        metadata=pai_meta(help="Samples per LAV batch (-1: --val.batch_size). Defaults to -1."),
    )
    print_samples: bool = field(
        default=False,
        metadata=pai_meta(
            help="Print every sample with its prediction through the model's print_evaluate. Defaults to False."
        ),
    )
    results_file: str = field(
        default="lav_results.json",
        metadata=pai_meta(
            help="tfaip-lav: write the results of every list as JSON to this file (relative to the working "
            "directory; empty: no file). During training the results go to OUTPUT_DIR/lav/ instead. "
            "Defaults to lav_results.json."
        ),
    )

    def validate(self) -> None:
        """Raise `ConfigError` for a value that cannot work."""
        if self.batch_size < 1 and self.batch_size != SAME_AS_VALIDATION:
            raise ConfigError(
                f"--lav.batch_size must be -1 (the validation batch size) or >= 1; got {self.batch_size}. "
                "Fix: pass -1 or a positive size."
            )
        empty = [name for name in self.lists if not name.strip()]
        if empty:
            raise ConfigError(f"--lav.lists must name list files; got an empty name in {self.lists}. Fix: drop it.")

    def labels(self) -> List[str]:
        """The name of each LAV run (`l0`, `l1` ...; one, `l0`, for the validation data)."""
        return [f"l{i}" for i in range(max(1, len(self.lists)))]
