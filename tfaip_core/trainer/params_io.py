"""Read params JSON files (a run's trainer_params.json, an exported model's, or a hand-written one) strictly.

A params file is data, read at a trust boundary (docs/security.md): every key must be a field, every value
must have the field's declared type (`2.5` is not an int, `true` is not an int, `null` only where the field is
Optional), and a `__cls__` entry may only name a class that is already loaded and registered for its field
(a `choices=` entry, a class of the scenario's own package or of tfaip_core, or a processor params class).
Nothing is imported while a file is read: the scenario named by `scenario.scenario_class` is imported first
(by `tfaip_core.scenario.locate.load_params_file`; running the scenario's code is the one thing a params file
may ask for), then its classes are known.

paiargparse's own `from_dict` is lax (unknown keys ignored, values passed unchecked, any module imported for
`__cls__`), so the dataclass tree is walked here and the instances are built directly.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import enum
import json
import os
import re
import sys
import types
import typing
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from tfaip_core.data.processor import DataProcessorParams
from tfaip_core.errors import ConfigError, TfaipError
from tfaip_core.trainer.params import TrainerParams

if TYPE_CHECKING:
    from tfaip_core.scenario.scenario_base import ScenarioBase

CLS_KEY = "__cls__"
SCENARIO_CLASS_PATH = "scenario.scenario_class"
# `module:Class` (what the framework writes) or a dotted module; never a file path.
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_SCENARIO_SPEC = re.compile(rf"^{_DOTTED}(?::{_DOTTED})?$")
_CLASS_NAME = re.compile(rf"^({_DOTTED}):({_DOTTED})$")


def read_params_file(path: str) -> Dict[str, Any]:
    """The JSON object stored in `path`.

    Raises:
        ConfigError: the file is missing, unreadable, not JSON, or not a JSON object.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"Params file {path} does not exist. Fix: pass the path of a params JSON file.")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"Params file {path} is not valid JSON ({e}). Fix: restore it or pass another file."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: must hold a JSON object of trainer params; got {_show(data)}. "
            "Fix: pass a trainer_params.json or the output of tfaip-train SCENARIO --print_params."
        )
    return data


def scenario_spec(data: Dict[str, Any], source: str) -> str:
    """The scenario named by `scenario.scenario_class` in the params `data` read from `source`.

    Raises:
        ConfigError: the entry is missing (e.g. a file `{}`), not a string, or a file path instead of a module.
    """
    scenario = data.get("scenario")
    if "scenario" in data and not isinstance(scenario, dict):
        raise ConfigError(f'{source}: "scenario" must be an object; got {_show(scenario)}. Fix: see --print_params.')
    spec = (scenario or {}).get("scenario_class")
    if spec is None or spec == "":
        raise ConfigError(
            f'{source}: "{SCENARIO_CLASS_PATH}" is missing; it names the scenario to build (module:Class). Fix: add '
            'it, e.g. {"scenario": {"scenario_class": "scenarios.tutorial.scenario:TutorialScenario"}}, or write the '
            "file with tfaip-train SCENARIO --print_params."
        )
    if not isinstance(spec, str) or not _SCENARIO_SPEC.match(spec):
        raise ConfigError(
            f'{source}: "{SCENARIO_CLASS_PATH}" must be module:Class (an importable module, not a file path); got '
            f"{_show(spec)}. Fix: e.g. scenarios.tutorial.scenario:TutorialScenario."
        )
    return spec


def load_trainer_params(path: str, scenario_cls: type[ScenarioBase]) -> TrainerParams:
    """The `TrainerParams` stored in `path`, for the (already imported) scenario `scenario_cls`.

    Fields missing from the file keep the scenario's defaults (`scenario_cls.default_trainer_params()`).

    Raises:
        ConfigError: one line naming the file, the JSON path of the first bad entry and what it must be.
    """
    return trainer_params_from_dict(read_params_file(path), scenario_cls, source=path)


def trainer_params_from_dict(
    data: Dict[str, Any], scenario_cls: type[ScenarioBase], source: str = "params"
) -> TrainerParams:
    """Build `TrainerParams` from the JSON object `data` strictly (see the module docstring).

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or a `__cls__` that is not registered.
    """
    packages = tuple(sorted({"tfaip_core", _package_of(scenario_cls), _package_of(scenario_cls.params_cls)}))
    decoder = _Decoder(source, packages, declared={"scenario": scenario_cls.params_cls})
    # the result is a TrainerParams: resolve_class only accepts subclasses of the declared type
    return typing.cast(
        TrainerParams, decoder.dataclass(data, TrainerParams, scenario_cls.default_trainer_params(), "", None)
    )


def _package_of(cls: type) -> str:
    """`a.b.module` -> `a.b`; a top-level module is its own package."""
    module = cls.__module__
    return module.rpartition(".")[0] or module


class _Decoder:
    """Walks one params JSON object along the dataclass annotations; raises on the first bad entry."""

    def __init__(self, source: str, trusted_packages: Sequence[str], declared: Dict[str, type]) -> None:
        self.source = source
        self.trusted_packages = tuple(trusted_packages)
        self.declared = declared  # JSON path -> a narrower declared type than the annotation's

    def error(self, path: str, message: str, fix: str) -> ConfigError:
        where = f'"{path}"' if path else "the file"
        return ConfigError(f"{self.source}: {where} {message}. Fix: {fix}.")

    def dataclass(self, value: Any, declared: type, default: Any, path: str, choices: Optional[List[Any]]) -> Any:
        declared = self.declared.get(path, declared)
        if not isinstance(value, dict):
            raise self.error(path, f"must be an object (the {declared.__name__} group); got {_show(value)}", _FIX_TYPE)
        default_cls = type(default) if dataclasses.is_dataclass(default) else declared
        cls = (
            self.resolve_class(value[CLS_KEY], declared, default_cls, choices, path)
            if CLS_KEY in value
            else default_cls
        )
        base = default if type(default) is cls else None
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        for key in value:
            if key != CLS_KEY and key not in fields:
                raise self.unknown_key(path, key, list(fields))
        kwargs: Dict[str, Any] = {}
        for name, f in fields.items():
            field_default = getattr(base, name) if base is not None else _field_default(f)
            if name in value:
                kwargs[name] = self.value(value[name], hints[name], field_default, _join(path, name), f.metadata)
            elif base is not None:
                kwargs[name] = copy.deepcopy(field_default)
        try:
            return cls(**kwargs)
        except TfaipError as e:
            raise ConfigError(f"{self.source}: {f'{path}: ' if path else ''}{e}") from None
        except (TypeError, ValueError) as e:
            raise self.error(path, f"cannot be built as {cls.__name__} ({e})", _FIX_TYPE) from None

    def unknown_key(self, path: str, key: str, valid: List[str]) -> ConfigError:
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f'did you mean "{_join(path, close[0])}"?' if close else f"valid keys: {', '.join(valid)}"
        return ConfigError(
            f'{self.source}: unknown key "{_join(path, _show_key(key))}" ({hint}). Fix: correct or remove it.'
        )

    def value(self, value: Any, annotation: Any, default: Any, path: str, meta: Any) -> Any:
        choices = (meta or {}).get("choices")
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if isinstance(annotation, typing.TypeVar):
            return self.value(value, annotation.__bound__ or Any, default, path, meta)
        if annotation is Any:
            return value
        if origin in (typing.Union, types.UnionType):
            options = [a for a in args if a is not type(None)]
            if value is None and len(options) < len(args):
                return None
            if len(options) == 1:
                try:
                    return self.value(value, options[0], default, path, meta)
                except ConfigError as e:  # say "null or an integer" where the field is Optional
                    if str(e).startswith(f'{self.source}: "{path}" must be {_describe(options[0])};'):
                        raise self.type_error(path, annotation, value) from None
                    raise
            for option in options:
                try:
                    return self.value(value, option, default, path, meta)
                except ConfigError:
                    continue
            raise self.type_error(path, annotation, value)
        if value is None:
            raise self.type_error(path, annotation, value)
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            dc_choices = [c for c in choices or [] if dataclasses.is_dataclass(c)]
            return self.dataclass(value, annotation, default, path, dc_choices)
        if origin in (list, tuple) or origin is typing.Sequence:
            if not isinstance(value, list):
                raise self.type_error(path, annotation, value)
            element = args[0] if args else Any
            items = [self.value(v, element, None, f"{path}[{i}]", meta) for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
        if origin is dict:
            if not isinstance(value, dict):
                raise self.type_error(path, annotation, value)
            value_type = args[1] if len(args) == 2 else Any
            return {k: self.value(v, value_type, None, _join(path, k), None) for k, v in value.items()}
        return self.scalar(value, annotation, path, choices, meta)

    def scalar(self, value: Any, annotation: Any, path: str, choices: Any, meta: Any) -> Any:
        if annotation is bool:
            ok = type(value) is bool
        elif annotation is int:
            ok = type(value) is int
        elif annotation is float:
            ok = type(value) in (int, float)
            value = float(value) if ok else value
        elif annotation is str:
            ok = isinstance(value, str)
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            ok = value in [m.value for m in annotation]
            value = annotation(value) if ok else value
        else:
            return value  # an annotation the framework does not use: passed on as it is
        if not ok:
            raise self.type_error(path, annotation, value)
        enforce = (meta or {}).get("enforce_choices")
        if choices and enforce and value not in choices:
            valid = ", ".join(str(c) for c in choices)
            raise self.error(path, f"must be one of {valid}; got {_show(value)}", f"use one of {valid}")
        return value

    def type_error(self, path: str, annotation: Any, value: Any) -> ConfigError:
        return self.error(path, f"must be {_describe(annotation)}; got {_show(value)}", _FIX_TYPE)

    def resolve_class(
        self, name: Any, declared: type, default_cls: type, choices: Optional[List[Any]], path: str
    ) -> type:
        """The class `name` (`module:Class`) names, if it may be used for the field at `path`; never imports."""
        cls_path = _join(path, CLS_KEY)
        allowed = ", ".join(sorted({c.__name__ for c in [declared, default_cls, *(choices or [])]}))
        refuse = f"name a class registered for this field ({allowed}) or one that the scenario's own package defines "
        refuse += "and imports (a params file never imports a module)"
        match = _CLASS_NAME.match(name) if isinstance(name, str) else None
        if not match:
            raise self.error(cls_path, f"must be module:Class; got {_show(name)}", "use module:Class")
        module = sys.modules.get(match.group(1))  # loaded modules only: reading a params file imports nothing
        cls: Any = module
        for part in match.group(2).split(".") if module is not None else []:
            cls = getattr(cls, part, None)
        if not (isinstance(cls, type) and issubclass(cls, declared) and dataclasses.is_dataclass(cls)):
            raise self.error(cls_path, f"names {_show(name)}, which is not a loaded {declared.__name__}", refuse)
        if cls in (declared, default_cls) or cls in (choices or []) or self.trusted(cls) or _is_processor(cls):
            return cls
        raise self.error(cls_path, f"names {_show(name)}, which is not registered for this field", refuse)

    def trusted(self, cls: type) -> bool:
        module = cls.__module__
        return any(module == p or module.startswith(p + ".") for p in self.trusted_packages)


_FIX_TYPE = "correct the value (tfaip-train SCENARIO --print_params shows a valid file)"


def _is_processor(cls: type) -> bool:
    """A processor params class with a processor to build (registered by `MappingDataProcessor[cls]` or `cls()`)."""
    if not issubclass(cls, DataProcessorParams) or cls is DataProcessorParams:
        return False
    try:
        cls.cls()
    except TfaipError:
        return False
    return True


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(annotation: Any) -> str:
    """Human words for a field type: 'an integer', 'a list of numbers', 'null or a string' ..."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        words = [_describe(a) for a in args if a is not type(None)]
        return ("null or " if type(None) in args else "") + " or ".join(words)
    if origin in (list, tuple) or origin is typing.Sequence:
        return "a list of " + (_plural(args[0]) if args else "values")
    if origin is dict:
        return "an object"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in annotation)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return f"an object (the {annotation.__name__} group)"
    return str(annotation)


def _plural(annotation: Any) -> str:
    plurals = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
    if annotation in plurals:
        return plurals[annotation]
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return f"objects ({annotation.__name__})"
    return _describe(annotation)


def _show(value: Any) -> str:
    """A value as JSON, shortened: messages are one line and never copy raw text (no newlines)."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _show_key(key: str) -> str:
    return json.dumps(key)[1:-1][:60]


def flatten(data: Any, prefix: str = "") -> Dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (lists stay values)."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: Dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    return flat


# Changing these would not fit the checkpoint of a resumed run (other variables or slots) or its directory.
_FIXED_ON_RESUME = (
    "scenario.model",
    "scenario.scenario_class",
    "scenario.__cls__",
    "optimizer.__cls__",
    "output_dir",
    "no_train_scope",
    "preload_data",
)


def refused_resume_changes(stored: TrainerParams, requested: TrainerParams) -> List[str]:
    """The fields a resumed run may not change (dotted names), with the stored and requested values."""
    before, after = flatten(stored.to_dict()), flatten(requested.to_dict())  # type: ignore[attr-defined]
    refused = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if key.startswith(_FIXED_ON_RESUME) or (key == "calc_ema" and (before.get(key) == 0) != (after.get(key) == 0)):
            refused.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    if len(refused) > 3:  # one line: the first changes name the culprit well enough
        refused = refused[:3] + [f"and {len(refused) - 3} more"]
    return refused
