"""The command-line spelling of a params tree: flag name -> value, as paiargparse spells the flags."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Dict


def flag_values(params: Any, prefix: str) -> Dict[str, Any]:
    """Flag name -> value of every field of the params tree (`flag_values(model_params, "model")`).

    A nested group is spelled `prefix.field`, a "flat" group (`pai_meta(mode="flat")`) starts at the root.
    """
    values: Dict[str, Any] = {}
    for f in dataclasses.fields(params):
        meta: Dict[str, Any] = dict(f.metadata or {})
        name = f.name if meta.get("mode") == "flat" else f"{prefix}.{f.name}"
        value = getattr(params, f.name)
        if dataclasses.is_dataclass(value):
            values.update(flag_values(value, name))
        elif isinstance(value, enum.Enum):
            values[f"--{name}"] = value.value
        else:
            values[f"--{name}"] = value
    return values
