"""Resources: files a scenario needs at prediction time (a codec, a vocabulary), carried inside the export.

A params field marked with `resource_meta` (tfaip_core.export.params) holds a file or folder path. The export
copies each one to `resources/<field path>/<name>` inside the model directory and stores that relative path in
the exported `trainer_params.json`; `resolve_resources` turns it back into a path inside the model directory
after loading, so the export works wherever it is moved, without the original files. TensorFlow-free.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Any, Dict, Iterator, Tuple

from tfaip_core.errors import ConfigError
from tfaip_core.export.params import RESOURCE

RESOURCES_DIR = "resources"


def resource_fields(params: Any, prefix: str = "") -> Iterator[Tuple[str, Any, str]]:
    """(dotted field path, the dataclass holding it, field name) of every resource field below `params`."""
    if not dataclasses.is_dataclass(params) or isinstance(params, type):
        return
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        path = f"{prefix}{f.name}"
        if f.metadata.get(RESOURCE):
            yield path, params, f.name
        elif dataclasses.is_dataclass(value):
            yield from resource_fields(value, path + ".")


def copy_resources(params: Any, model_dir: str) -> Dict[str, str]:
    """Copy every resource of `params` (a dataclass tree) into `model_dir/resources/`; return path -> relative path.

    Empty fields are skipped. The params object is not changed; the caller writes the relative paths into the
    exported params (`relocate`).

    Raises:
        ConfigError: a resource field names a file or folder that does not exist.
    """
    copied: Dict[str, str] = {}
    for path, holder, name in resource_fields(params):
        source = getattr(holder, name)
        if not source:
            continue
        if not os.path.exists(source):
            raise ConfigError(
                f"resource {path} must name an existing file or folder to copy into the export; got {source!r}. "
                f"Fix: pass the right path for that field."
            )
        relative = "/".join([RESOURCES_DIR, path, os.path.basename(os.path.normpath(source))])
        target = os.path.join(model_dir, *relative.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)
        copied[path] = relative
    return copied


def relocate(params_dict: Dict[str, Any], copied: Dict[str, str], root: Tuple[str, ...] = ("scenario",)) -> None:
    """Write the relative paths of copied resources into the params JSON `params_dict` (in place).

    `copied` maps field paths relative to the scenario params (as `copy_resources` returns them for
    `params.scenario`) to paths relative to the model directory.
    """
    for path, relative in copied.items():
        node = params_dict
        for key in (*root, *path.split(".")[:-1]):
            node = node[key]
        node[path.split(".")[-1]] = relative


def resolve_resources(scenario_params: Any, model_dir: str) -> None:
    """Make the resource fields of scenario params loaded from an export point into `model_dir` (in place).

    A resource path stored relative (`resources/...`, as the export writes it) becomes `model_dir/resources/...`;
    absolute paths stay as they are.

    Raises:
        ConfigError: a relative resource is missing from the model directory.
    """
    for path, holder, name in resource_fields(scenario_params):
        value = getattr(holder, name)
        if not value or os.path.isabs(value):
            continue
        full = os.path.join(model_dir, *value.split("/"))
        if not os.path.exists(full):
            raise ConfigError(
                f"resource {path} must exist inside the model directory; got {value!r}, missing in {model_dir!r}. "
                f"Fix: export the model again (tfaip-export) so that its resources are copied."
            )
        setattr(holder, name, full)
