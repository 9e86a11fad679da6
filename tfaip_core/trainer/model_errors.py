"""Report an error raised while building the model against the flag whose value caused it.

Keras checks layer arguments when a layer is created (`Dropout(1.5)`, `Dense(0)`, an unknown
activation) and raises `ValueError` naming the argument and the value it received. The flag
behind the value is found by looking for the `--model.*` flags whose value appears in the message.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

from tfaip_core.errors import ConfigError
from tfaip_core.util.flags import flag_values


def _spellings(value: Any) -> List[str]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _spellings(v)]
    if isinstance(value, float):
        return [repr(value)]
    if isinstance(value, (int, str)) and str(value):
        return [str(value)]
    return []


def culprit_flags(message: str, model_params: Any) -> List[str]:
    """The `--model.*` flags whose value appears in `message` (as `name=value`, or as a whole word)."""
    assigned, mentioned = [], []
    for flag, value in flag_values(model_params, "model").items():
        for text in _spellings(value):
            quoted = re.escape(text)
            if re.search(rf"=\s*['\"]?{quoted}['\"]?(?!\w|\.\d)", message):
                assigned.append(flag)
                break
            if re.search(rf"(?<![\w.]){quoted}(?!\w|\.\d)", message):
                mentioned.append(flag)
                break
    return assigned or mentioned


def model_build_error(error: Exception, model_params: Any) -> Optional[ConfigError]:
    """A `ConfigError` naming the flag(s) behind a model-building `error`, or None if no flag matches."""
    message = " ".join(str(error).split())
    flags = culprit_flags(message, model_params)
    if not flags:
        return None
    values = flag_values(model_params, "model")
    named = ", ".join(f"{flag} {values[flag]!r}" for flag in flags[:3])
    which = "this flag" if len(flags) == 1 else "one of these flags"
    return ConfigError(f"Building the model failed because of {which}: {named} ({message}). Fix: correct the value.")
