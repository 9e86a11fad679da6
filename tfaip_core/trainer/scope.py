"""Choose the trained variables: everything except what `--trainer.no_train_scope` freezes."""

from __future__ import annotations

import re
from typing import List

import keras

from tfaip_core.errors import ConfigError


def layer_paths(model: keras.Model) -> List[str]:
    """Every layer path that holds variables (`model/graph/conv_0` ...), for error messages."""
    paths = set()
    for variable in model.variables:
        parts = variable.path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            paths.add("/".join(parts[:i]))
    return sorted(paths)


def trainable_variables(model: keras.Model, no_train_scope: str | None) -> List[keras.Variable]:
    """The model's trainable variables minus those under a layer or variable path that fully matches the regex.

    A path matches when the regex matches it in full (`re.fullmatch`): `.*conv.*` freezes every
    variable below a layer whose path contains `conv`, and the layer's children with it.

    Raises:
        ConfigError: the regex is invalid or matches nothing (the message lists the layer paths).
    """
    variables = list(model.trainable_variables)
    if not no_train_scope:
        return variables
    try:
        pattern = re.compile(no_train_scope)
    except re.error as e:
        raise ConfigError(f"--trainer.no_train_scope {no_train_scope!r} is not a valid regex: {e}.") from None

    def frozen(path: str) -> bool:
        parts = path.split("/")
        return any(pattern.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1))

    kept = [v for v in variables if not frozen(v.path)]
    if len(kept) == len(variables):
        raise ConfigError(
            f"--trainer.no_train_scope {no_train_scope!r} matches no layer or variable. "
            f"Layer paths: {', '.join(layer_paths(model))}."
        )
    if not kept:
        raise ConfigError(
            f"--trainer.no_train_scope {no_train_scope!r} freezes every trainable variable; nothing would train. "
            "Fix: narrow the regex."
        )
    return kept
